"""`trtlab inspect model.engine` and `trtlab diff a.engine b.engine` on engines built here (tensorrt_rtx on CPU)."""

import json

import onnx
import pytest

from tests.models.graphs import transformer_block


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Two builds of one model: FP32 and FP16 (a precision change), each with its sidecar and run dir."""
    from trtlab.cli.main import main

    pytest.importorskip("tensorrt_rtx", reason="no TensorRT module to build engines with")
    d = tmp_path_factory.mktemp("engines")
    onnx.save(transformer_block(seq=8, hidden=16), d / "block.onnx")
    for name, extra in (("a", []), ("b", ["--precision", "fp16"])):
        assert main(["build", str(d / "block.onnx"), "-o", str(d / f"{name}.engine"), "--out", str(d / f"run_{name}"),
                     "--quiet", *extra]) == 0
    return d


def test_inspect_engine_from_the_sidecar_labelled_as_such(cli, engines):
    r = cli("inspect", str(engines / "a.engine"), "--json")
    assert r.code == 0, r
    info = json.loads(r.out)
    assert info["source"] == "sidecar" and "before fusion" in info["source_note"]
    assert info["built_with"]["name"] == "tensorrt_rtx" and info["engine"]["bytes"] > 0
    assert [t["mode"] for t in info["io"]] == ["input", "output"] and info["profiles"] == 1
    typed = [x for x in info["layers"] if x["onnx_nodes"]]
    assert all(x["precision"] for x in typed)
    nodes = {n.name for n in transformer_block(seq=8, hidden=16).graph.node if n.op_type != "Constant"}
    assert nodes <= {n for x in typed for n in x["onnx_nodes"]}  # every ONNX node traced to its layer
    assert info["weights_bytes"] > 0
    text = cli("inspect", str(engines / "a.engine"))
    assert text.code == 0 and "source: sidecar" in text.out and "layers:" in text.out


def test_inspect_refuses_an_engine_of_another_version_naming_both(cli, engines, tmp_path):
    engine = tmp_path / "old.engine"
    engine.write_bytes((engines / "a.engine").read_bytes())
    prov = json.loads((engines / "a.engine.json").read_text())
    prov["module"]["version"] = "1.0.0.1"
    prov["engine"]["file"] = engine.name
    (tmp_path / "old.engine.json").write_text(json.dumps(prov))
    r = cli("inspect", str(engine))
    assert r.code == 3 and "1.0.0.1" in r.err and "not portable" in r.err, r


def test_diff_names_precision_and_provenance_changes_with_a_report(cli, engines, tmp_path):
    out = tmp_path / "d"
    r = cli("diff", str(engines / "a.engine"), str(engines / "run_b"), "--out", str(out))
    assert r.code == 1, r
    res = json.loads((out / "results.json").read_text())
    d = res["diff"]
    assert not d["identical"] and d["precision_changes"]
    assert {"field": "option precision", "a": "fp32", "b": "fp16"} in d["provenance_changes"]
    assert d["added"]  # the FP16 build's I/O casts
    html = (out / "report.html").read_text()
    assert "Precision changes" in html and "option precision" in html and "Where the facts come from" in html
    same = cli("diff", str(engines / "a.engine"), str(engines / "a.engine"), "--out", str(tmp_path / "s"),
               "--no-report")
    assert same.code == 0 and "identical" in same.out


def test_diff_refuses_a_folder_that_is_not_a_build_run(cli, tmp_path):
    r = cli("diff", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "d"))
    assert r.code == 2, r
