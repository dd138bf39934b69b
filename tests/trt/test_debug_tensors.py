"""Layer-wise by debug tensors: the build side runs here (tensorrt_rtx builds on CPU), execution is marked gpu."""

import json

import numpy as np
import onnx
import pytest

from tests.models.graphs import transformer_block
from trtlab.building import build_to_files
from trtlab.model import LoadedModel
from trtlab.trt.build import BuildOptions


def _model():
    return LoadedModel(proto=transformer_block(seq=8, hidden=16), path=None, label="block")


def test_debug_unfused_build_records_candidates_with_onnx_names(trt, tmp_path):
    if not hasattr(trt.mod.INetworkDefinition, "mark_unfused_tensors_as_debug_tensors"):
        pytest.skip(f"{trt.name} {trt.version} has no debug tensors")
    model = _model()
    result = build_to_files(trt, model, BuildOptions(debug_unfused=True), tmp_path / "model.engine")
    prov = json.loads((tmp_path / "model.engine.json").read_text())
    debug = prov["debug_tensors"]
    assert result.engine["bytes"] > 0 and debug["mode"] == "unfused" and prov["options"]["debug_unfused"]
    onnx_names = {o for n in model.proto.graph.node for o in n.output}
    graph_outputs = {o.name for o in model.proto.graph.output}
    named = {c["onnx"] for c in debug["candidates"] if c["onnx"]}
    assert named and named <= onnx_names - graph_outputs  # graph outputs are outputs, not debug tensors
    assert len(named) > 0.8 * len(onnx_names - graph_outputs)
    assert prov["bindings"]["outputs"] == [{"name": o.name, "dtype": "FLOAT", "shape": [1, 8, 16]}
                                           for o in model.proto.graph.output]  # no extra outputs
    assert prov["marked"] == []


def test_plain_build_has_no_debug_tensors(trt, tmp_path):
    build_to_files(trt, _model(), BuildOptions(), tmp_path / "model.engine")
    assert json.loads((tmp_path / "model.engine.json").read_text())["debug_tensors"] is None


def test_build_cli_mark_debug_unfused(cli, trt, tmp_path):
    if not hasattr(trt.mod.INetworkDefinition, "mark_unfused_tensors_as_debug_tensors"):
        pytest.skip(f"{trt.name} {trt.version} has no debug tensors")
    path = tmp_path / "block.onnx"
    onnx.save(transformer_block(seq=8, hidden=16), path)
    r = cli("build", str(path), "--mark", "debug-unfused", "-o", str(tmp_path / "b.engine"), "--out",
            str(tmp_path / "run"), "--report")
    assert r.code == 0, r
    assert json.loads((tmp_path / "b.engine.json").read_text())["debug_tensors"]["candidates"]
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Debug tensor candidates" in html and "mode: unfused" in html


@pytest.mark.gpu
def test_debug_listener_reads_the_surviving_tensors(trt, executes, tmp_path):
    """On a GPU: the engine's debug tensors are a subset of the candidates, read by the listener with the values
    ONNX Runtime computes (FP32 engine; fusion changes rounding only)."""
    import onnxruntime as ort

    from trtlab.backends.onnxrt import mark_outputs
    from trtlab.trt.build import build_engine
    from trtlab.trt.runner import TrtRunner

    model = _model()
    built = build_engine(trt, model, BuildOptions(debug_unfused=True))
    names = [c["tensor"] for c in built.debug["candidates"]]
    feeds = {"hidden_states": np.random.default_rng(0).standard_normal((1, 8, 16)).astype(np.float32)}
    with TrtRunner(trt, built.engine, debug=names) as runner:
        got = runner.infer(feeds)
        delivered = sorted(runner.delivered)
        assert delivered and set(delivered) <= set(names) and set(delivered) <= set(got)
        assert set(runner.outputs) == {o.name for o in model.proto.graph.output}
    work = onnx.ModelProto()
    work.CopyFrom(model.proto)
    mark_outputs(work, delivered)
    sess = ort.InferenceSession(work.SerializeToString(), providers=["CPUExecutionProvider"])
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    for name in delivered:
        np.testing.assert_allclose(got[name], want[name], atol=1e-3, rtol=1e-3, err_msg=name)


@pytest.mark.gpu
def test_compare_trt_layerwise_defaults_to_debug_unfused(cli, executes, tmp_path):
    path = tmp_path / "block.onnx"
    onnx.save(transformer_block(seq=8, hidden=16), path)
    r = cli("compare", str(path), "--target", "trt", "--layerwise", "--no-report", "--out", str(tmp_path / "run"))
    assert r.code in (0, 1), r
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["target"]["layerwise_mode"] == "debug-unfused" and res["target"]["marked"] == 0
    assert res["layers"] and res["target"]["debug_tensors"] > 0
