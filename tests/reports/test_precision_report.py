"""The `debug precision` report: verdict, kept nodes on the layer-wise plot, the search steps."""

import onnx
from trtlab.reports import render_html

from tests.mixed_precision.hazards import planted_hazard_model


def test_precision_report_shows_kept_nodes_and_search(cli, tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(planted_hazard_model(harmless=12), str(src))
    run = tmp_path / "run"
    assert cli("debug", "precision", str(src), "--samples", "3", "--out", str(run), "-q").code == 0
    html = (run / "report.html").read_text()
    assert "MEETS THE GOAL ON HELD-OUT SAMPLES" in html
    assert html.count("<svg") == 2  # layer-wise error with kept nodes; metric per search step
    assert "overflow_sum" in html and "^overflow_sum$" in html  # kept table and the AutoCast list
    assert render_html(run) == html  # a pure function of the run directory
