"""`trtlab report` and `compare`'s report on real runs; bad input."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import shared_model
from tests.reports.fixtures import make_run

SECTIONS = ("run", "findings", "outputs", "layers", "histograms", "timing", "backends", "environment")


def external_refs(html: str) -> list[str]:
    """src/href/url() values that would reach outside the file."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.IGNORECASE)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]+)", html, flags=re.IGNORECASE)
    refs += re.findall(r"@import", html)
    return [r for r in refs if not r.startswith(("#", "data:"))]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real layer-wise FP16 comparison of the bundled CNN (made once for this module)."""
    import sys

    from trtlab.cli.main import main

    root = tmp_path_factory.mktemp("tiny")
    argv = ["compare", "example:tinycnn", "--target", "onnxrt:fp16", "--layerwise", "--out", str(root / "run"), "-q"]
    old = sys.argv
    sys.argv = ["trtlab", *argv]
    try:
        assert main(argv) == 0
    finally:
        sys.argv = old
    return root / "run"


def test_compare_writes_report(tiny_run):
    html = (tiny_run / "report.html").read_text()
    for sec in SECTIONS:
        assert f'<section id="{sec}">' in html, sec
    assert "PASSED" in html and "trtlab compare example:tinycnn --target onnxrt:fp16 --layerwise" in html
    assert html.count("<svg") >= 3  # layer plot + histograms
    assert "onnxruntime" in html and "CPUExecutionProvider" in html
    assert external_refs(html) == []
    assert "http://" not in html and "https://" not in html


def test_report_rebuilds_from_saved_files_only(tiny_run, tmp_path, cli):
    copy = tmp_path / "elsewhere"
    shutil.copytree(tiny_run, copy)
    for name in ("report.html", "model.onnx", "inputs.npz"):
        (copy / name).unlink(missing_ok=True)
    r = cli("report", str(copy), "--json")
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["schema"] == "trtlab.compare/1" and info["bytes"] > 10_000
    rebuilt = (copy / "report.html").read_text()
    original = (tiny_run / "report.html").read_text()
    assert rebuilt.replace("elsewhere", "run") == original  # deterministic: same input, same bytes


def test_report_output_option_and_missing_histograms(tiny_run, tmp_path, cli):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (copy / "histograms.npz").unlink()
    r = cli("report", str(copy), "-o", str(tmp_path / "r.html"))
    assert r.code == 0, r
    html = (tmp_path / "r.html").read_text()
    assert "histograms.npz is missing" in html
    assert "report:" in r.out


def test_overflow_model_report_names_the_fix(tmp_path, cli):
    model = shared_model("poly_needs_constraints.onnx")
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--out", "run", "-q")
    assert r.code == 1, r
    html = (tmp_path / "run" / "report.html").read_text()
    assert "FAILED" in html and "first divergence" in html
    assert "keep=Add+Sub" in html  # cancellation after saturation: pin both to FP32
    assert "65505" in html


@pytest.mark.parametrize("content, expect", [
    (None, "not a trtlab run (no results.json)"),
    ("{", "not valid JSON"),
    ('{"schema": "trtlab.compare/2"}', "written by a newer trtlab (schema trtlab.compare/2"),
    ('{"schema": "polygraphy.run/1"}', "not a trtlab run"),
    ("[1, 2]", "top level is not an object"),
])
def test_bad_run_dirs_exit_2_with_one_line(tmp_path, cli, content, expect):
    run = tmp_path / "notarun"
    run.mkdir()
    if content is not None:
        (run / "results.json").write_text(content)
    r = cli("report", str(run))
    assert r.code == 2, r
    assert expect in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert not (run / "report.html").exists()


def test_missing_folder_and_directory_output(tmp_path, cli):
    r = cli("report", str(tmp_path / "nope"))
    assert r.code == 2 and "not a folder" in r.err
    run = make_run(tmp_path, {"schema": "trtlab.check/1"})
    r = cli("report", str(run), "-o", str(tmp_path))
    assert r.code == 2 and "is a folder" in r.err


def test_newer_minor_version_renders(tmp_path, cli):
    run = make_run(tmp_path, {"schema": "trtlab.compare/1.3", "passed": True, "outputs": []})
    assert cli("report", str(run)).code == 0


def test_introduced_vs_inherited_when_recorded(tiny_run, tmp_path):
    """Runs that record per-layer introduced error get the attribution plot and table; others skip it quietly."""
    from trtlab.reports import render_html

    assert '<section id="attribution">' not in (tiny_run / "report.html").read_text()
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    res = json.loads((copy / "results.json").read_text())
    for i, m in enumerate(res["layers"]):
        m["introduced"] = (m["max_abs"] or 0) / (i + 1)
    (copy / "results.json").write_text(json.dumps(res))
    html = render_html(copy)
    assert '<section id="attribution">' in html and 'id="attribution"' in html
    assert "introduced by the layer itself" in html


def test_output_inside_the_run_is_refused_before_rendering(tiny_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "report.html").unlink()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for out, cwd in [(str(run / "results.json"), tmp_path), ("results.json", run), (str(run / "inputs.npz"), tmp_path),
                     (str(run / "model.onnx"), tmp_path), (str(run / "new.json"), tmp_path),
                     (str(run / "sub" / "r.html"), tmp_path), (str(run / "results.json" / "r.html"), tmp_path)]:
        r = cli("report", str(run), "-o", out, cwd=cwd)
        assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err, (out, r)
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before, out
    r = cli("report", str(run), "-o", str(run / "report.html"))
    assert r.code == 0 and (run / "report.html").exists(), r
