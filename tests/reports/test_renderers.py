"""Each renderer on hand-written results (the real producers land later), and with fields missing."""

from __future__ import annotations

import pytest
from trtlab.reports import RENDERERS, render_html, renderer_for

from tests.reports.fixtures import ALL, make_run
from tests.reports.test_report_cmd import external_refs


@pytest.mark.parametrize("kind", sorted(ALL))
def test_fixture_renders(tmp_path, kind):
    html = render_html(make_run(tmp_path, ALL[kind]))
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert external_refs(html) == []


@pytest.mark.parametrize("schema", sorted(RENDERERS))
def test_minimal_results_render(tmp_path, schema):
    """Only the schema field: every renderer must cope with every other field missing."""
    html = render_html(make_run(tmp_path, {"schema": schema}))
    assert "<main>" in html


def test_surgeon_table_and_plot(tmp_path):
    html = render_html(make_run(tmp_path, ALL["surgeon"]))
    assert "fold-constants" in html and "375" in html and "360" in html
    assert "Shape -6" in html and "Identity -2" in html  # op types changed
    assert "not folded: output &#x27;big&#x27; would be 3.1 GB" in html
    assert "<svg" in html  # node count across passes


def test_check_lists_unsupported_nodes_and_partitions(tmp_path):
    html = render_html(make_run(tmp_path, ALL["check"]))
    assert "NOT PARSEABLE" in html and "2 of 4 nodes unsupported" in html
    assert "No importer registered for op: FAKE!" in html and "substitute a plugin" in html
    assert 'id="partitions"' in html and "fallback" in html and "<svg" in html


def test_build_options_profiles_layers(tmp_path):
    html = render_html(make_run(tmp_path, ALL["build"]))
    assert "BUILT" in html and "1x3x352x352" in html and "8x3x352x352" in html
    assert "CaskConvolution" in html and "keep_fp32" in html and "12.5 s" in html


def test_debug_and_partition(tmp_path):
    html = render_html(make_run(tmp_path, ALL["reduce"], "reduce"))
    assert "trtlab debug reduce" in html and "<svg" in html and "1746" in html
    html = render_html(make_run(tmp_path, ALL["partition"], "part"))
    assert "ConvInteger: no importer" in html and "<svg" in html


def test_generic_renderer_for_later_commands(tmp_path):
    assert renderer_for("trtlab.run/1", "x") == "trtlab.reports.generic"
    assert renderer_for("trtlab.run/7", "x") == "trtlab.reports.generic"  # unknown kinds: any version, generically
    html = render_html(make_run(tmp_path, ALL["generic"]))
    assert "trtlab run" in html and "p99_ms" in html and 'id="t-s-iterations"' in html


def test_text_is_escaped(tmp_path):
    res = dict(ALL["check"], model="<script>alert(1)</script>.onnx")
    html = render_html(make_run(tmp_path, res))
    assert "<script>alert" not in html
