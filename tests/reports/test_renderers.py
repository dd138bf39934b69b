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
    # the summary is the partition isolation builds, not the capability query's ranges
    assert "0 TensorRT segments (0 nodes), 4 nodes on the fallback" in html and "partitions (" not in html
    assert 'id="capability"' in html


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
    assert renderer_for("trtlab.later/1", "x") == "trtlab.reports.generic"
    assert renderer_for("trtlab.later/7", "x") == "trtlab.reports.generic"  # unknown kinds: any version, generically
    html = render_html(make_run(tmp_path, ALL["generic"]))
    assert "trtlab later" in html and "p99 ms" in html and 'id="t-s-iterations"' in html


def test_run_renderer_survives_sparse_results(tmp_path):
    assert renderer_for("trtlab.run/1", "x") == "trtlab.reports.run"
    html = render_html(make_run(tmp_path, {"schema": "trtlab.run/1", "passed": True, "timing": {"stats": {}},
                                           "node_profile": {"nodes": [{"name": "<b>", "ms": "x"}]}, "sweep": [1]}))
    assert "trtlab run" in html and "&lt;b&gt;" in html and "<b></b>" not in html


def test_text_is_escaped(tmp_path):
    res = dict(ALL["check"], model="<script>alert(1)</script>.onnx")
    html = render_html(make_run(tmp_path, res))
    assert "<script>alert" not in html


def test_generic_pages_read_as_text_not_json(tmp_path):
    """Partition/reduce pages: nested dicts as key/value lists, yes/no, no empty warnings, lists comma-separated,
    seconds as ms; the reduce page has a verdict banner and a 'checks: 22 (budget 26)' line."""
    model = {"path": "big.onnx", "name": "big", "sha256": "9bca" * 16, "nodes": 1200, "producer": ""}
    reduce = {"schema": "trtlab.debug.reduce/1", "argv": ["trtlab", "debug", "reduce", "big.onnx"], "model": model,
              "failure": {"mode": "check", "any_failure": False}, "output": "min.onnx", "reproduced": True,
              "nodes_before": 1200, "nodes_after": 1, "inputs": ["t599", "t7"],
              "kept": [{"index": 600, "constant": False}],
              "checks": {"original": 1, "bisect": 21, "linear": 0, "replayed": 0, "total": 22, "bisect_budget": 26},
              "timing": {"total_s": 0.4576}, "warnings": [],
              "history": [{"check": 1, "nodes": 1200, "reproduces": True},
                          {"check": 2, "nodes": 1, "reproduces": True}]}
    partition = {"schema": "trtlab.partition/1", "model": model, "passed": True, "prediction": False,
                 "timing": {"plan_s": 0.0788}, "warnings": [], "segments": ALL["partition"]["segments"],
                 "verify": {"enabled": True, "outputs": [{"tensor": "y", "max_abs": 0.0, "passed": True}],
                            "notes": ["ran on onnxrt"]}}
    for name, res in (("reduce", reduce), ("partition", partition)):
        html = render_html(make_run(tmp_path, res, name))
        for raw in ('{&quot;', "{&#x27;", '[&quot;', ">True<", ">False<", ">[]<", "plan_s", "total_s", "warnings</a>"):
            assert raw not in html, (name, raw)
        assert '<span class="dim">sha256</span> ' + "9bca" * 16 in html and ">producer<" not in html
    html = render_html(tmp_path / "reduce")
    assert '<b>REPRODUCER FOUND</b><span>1200 → 1 nodes; written to min.onnx; checks: 22 (budget 26)' in html
    assert "22 (budget 26): original 1, bisect 21" in html and "t599, t7" in html and "458 ms" in html
    assert render_html(make_run(tmp_path, dict(reduce, reproduced=False), "r2")).count("NO REPRODUCER") == 1
    html = render_html(tmp_path / "partition")
    assert '<span class="dim">plan</span> 78.8 ms' in html and "<td>no" in html and "<td>yes" in html


def test_substitute_banner_warns_when_the_parser_refuses_a_new_node(tmp_path):
    """Outputs verified but the rewritten model does not parse (plugin not registered): a warning banner that says
    both, never a green PASSED."""
    assert renderer_for("trtlab.substitute/1", "x") == "trtlab.reports.substitute"
    res = {"schema": "trtlab.substitute/1", "model": "s1.onnx", "output": "s2.onnx", "dry_run": False, "passed": True,
           "parse": {"checked": True, "parseable": False, "other_unsupported": [],
                     "new_nodes": [{"node": "Mul_swish", "op": "Swish_TRT", "parsed": False, "reason": "not found"}]},
           "verify": {"enabled": True, "passed": True, "tensors_compared": 2, "atol": 1e-5, "rtol": 1e-5}}
    html = render_html(make_run(tmp_path, res, "sub"))
    assert ('<div class="verdict warn"><b>NOT PARSEABLE</b><span>outputs verified (2 tensors); TensorRT parser '
            'refuses 1 new node(s) (Swish_TRT)') in html and "verdict ok" not in html
    res["parse"] = {"checked": True, "parseable": True, "new_nodes": [{"node": "n", "op": "Gelu", "parsed": True}]}
    html = render_html(make_run(tmp_path, res, "sub2"))
    assert '<div class="verdict ok"><b>PASSED</b><span>outputs verified (2 tensors); TensorRT parser imports' in html


@pytest.mark.parametrize("kind", ["check", "build"])
def test_title_names_the_model_when_results_hold_a_summary_dict(tmp_path, kind):
    """check/build results store the model as a summary dict; the title printed the dict."""
    import re

    res = dict(ALL[kind])
    res["model"] = {"path": "/models/crnn_int8.onnx", "name": "crnn_int8", "sha256": "ab" * 32, "nodes": 292}
    html = render_html(make_run(tmp_path, res, kind))
    title = re.search(r"<title>([^<]*)</title>", html).group(1)
    assert title == f"trtlab {kind}: crnn_int8.onnx", title
