"""Unsupported-op isolation and the hybrid runner, with the real tensorrt_rtx parser and onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from tests.conftest import shared_model
from tests.models.graphs import quantized_convnet

pytest.importorskip("tensorrt_rtx", reason="the rtx extra (tensorrt_rtx parser) is not installed")

UNSUPPORTED = {"dql1", "conv_int", "bias_gelu", "dql2", "matmul_int"}


@pytest.fixture
def qconv(tmp_path):
    path = tmp_path / "qconv.onnx"
    onnx.save(quantized_convnet(), path)
    return path


def _schedule_ok(info: dict) -> None:
    available = {t["name"] for t in info["inputs"]}
    for seg in info["segments"]:
        assert all(t["name"] in available for t in seg["inputs"]), seg
        available.update(t["name"] for t in seg["outputs"])
    assert all(t["name"] in available for t in info["outputs"])


def test_group_interleaved_is_a_valid_schedule():
    """X(trt) -> Y(fallback) -> Z(trt) where Z also reads X, and W(trt) independent: putting all TensorRT nodes in
    one contiguous segment would make it wait on Y while Y waits on it."""
    from trtlab.partition.plan import Segment, boundaries, group

    n = h.make_node
    nodes = [n("Relu", ["a"], ["x"], name="X"), n("Neg", ["x"], ["y"], name="Y"), n("Add", ["x", "y"], ["z"], name="Z"),
             n("Abs", ["a"], ["w"], name="W")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("a", T.FLOAT, [2])],
                     [h.make_tensor_value_info("z", T.FLOAT, [2]), h.make_tensor_value_info("w", T.FLOAT, [2])])
    grouped = group(g, ["trt", "onnxrt", "trt", "trt"])
    assert grouped == [("trt", [0, 3]), ("onnxrt", [1]), ("trt", [2])]
    segs = [Segment(k, lab, ids) for k, (lab, ids) in enumerate(grouped)]
    boundaries(g, segs)
    assert segs[2].inputs == ["x", "y"] and segs[0].outputs == ["x", "w"]


def test_isolate_quantized_convnet(cli, qconv, tmp_path):
    out = tmp_path / "seg"
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    _schedule_ok(info)
    assert info["support_source"] == "parser" and not info["prediction"]
    parser_refused = {u["name"] for u in info["unsupported"] if u["source"] == "parser"}
    assert parser_refused == UNSUPPORTED
    why = {u["name"]: u["reason"] for u in info["unsupported"]}
    assert "checkConvInteger" in why["conv_int"] and "checkMatMulInteger" in why["matmul_int"]
    assert "plugin creator named 'BiasGelu'" in why["bias_gelu"]
    assert all(u["hint"] for u in info["unsupported"] if u["source"] == "parser")
    assert [s["backend"] for s in info["segments"]] == ["trt", "onnxrt", "trt", "onnxrt", "trt"]
    assert all(s["parse"]["ok"] for s in info["segments"] if s["backend"] == "trt")
    for seg in info["segments"]:
        assert onnx.load(str(out / seg["file"])).graph.node
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["schema"] == "trtlab.partition/1" and res["verify"]["passed"] is True
    assert res["verify"]["max_abs_error"] <= 1e-5
    assert any("ran on onnxrt" in n for n in res["verify"]["notes"])
    assert "Graph of segments" in (tmp_path / "run" / "report.html").read_text()
    assert "ran on onnxrt" in r.out and "UNSUPPORTED_NODE" in r.out


def test_min_segment_size_one_types_boundaries_from_onnxruntime(cli, qconv, tmp_path):
    """conv3 + flatten become their own TensorRT segment; its input 'bg' comes from com.microsoft::BiasGelu, which
    onnx shape inference cannot type, so the type is learned by running the model in onnxruntime."""
    out = tmp_path / "seg"
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--min-segment-size", "1",
            "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    _schedule_ok(info)
    bg = next(t for s in info["segments"] if s["backend"] == "trt" for t in s["inputs"] if t["name"] == "bg")
    assert bg["dtype"] == "float" and bg["shape"] == [1, 8, 8, 8]
    assert len(info["segments"]) == 7


def test_min_segment_size_merges_small_segments(cli, qconv, tmp_path):
    out = tmp_path / "seg"
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--min-segment-size", "5",
            "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    assert all(s["node_count"] >= 5 for s in info["segments"] if s["backend"] == "trt")
    merged = [u for u in info["unsupported"] if u["source"] == "min-segment-size"]
    assert merged and all("--min-segment-size 5" in u["reason"] for u in merged)


def test_compare_and_run_hybrid(cli, qconv, tmp_path):
    out = tmp_path / "seg"
    assert cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--no-verify",
               "--run-dir", str(tmp_path / "run")).code == 0
    r = cli("compare", str(qconv), "--target", f"hybrid:{out}", "--layerwise", "--out", str(tmp_path / "cmp"),
            "--no-report")
    assert r.code == 0, r
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())
    every_tensor = [o for n in quantized_convnet().graph.node for o in n.output]
    assert res["passed"] and len(res["layers"]) == len(every_tensor)
    assert all(m["max_abs"] <= 1e-5 for m in res["layers"])
    assert any("ran on onnxrt" in n for n in res["target"]["notes"])
    r = cli("run", "--hybrid", str(out), "--iterations", "2", "--out", str(tmp_path / "r"))
    assert r.code == 0, r
    assert "seg04 trt     on onnxrt" in r.out and "ran on onnxrt" in r.out


def test_static_support_is_labelled_a_prediction(cli, qconv, tmp_path):
    out = tmp_path / "seg"
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--static-support",
            "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    assert info["prediction"] is True and "PREDICTED" in r.out
    assert {u["name"] for u in info["unsupported"] if u["source"] == "prediction"} == UNSUPPORTED


def test_poly_capability_fake_ops(cli, tmp_path):
    """FAKE!/FAKER! between Adds: the Adds read untyped outputs of unknown ops, so their segments do not parse on
    their own and everything falls back; onnxruntime cannot run FAKE!, so the pipeline is not verified (said so)."""
    out = tmp_path / "seg"
    r = cli("surgeon", str(shared_model("poly_capability.onnx")), "--isolate-unsupported", "-o", str(out),
            "--min-segment-size", "1", "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    fakes = [u for u in info["unsupported"] if u["op"].startswith("FAKE")]
    assert len(fakes) == 3 and all("plugin creator named 'FAKE" in u["reason"] for u in fakes)
    assert "not verified" in r.out


def test_fully_supported_model_is_one_segment(cli, tmp_path):
    out = tmp_path / "seg"
    r = cli("surgeon", str(shared_model("mnist_opt.onnx")), "--isolate-unsupported", "-o", str(out),
            "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    info = json.loads((out / "partition.json").read_text())
    assert [s["backend"] for s in info["segments"]] == ["trt"] and not info["unsupported"]


def test_refuses_foreign_folder_and_writes_nothing_on_failure(cli, qconv, tmp_path, monkeypatch):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(foreign), "--run-dir", str(tmp_path / "r1"))
    assert r.code == 2 and "not an earlier partition folder" in r.err
    assert sorted(p.name for p in foreign.iterdir()) == ["keep.txt"]

    import trtlab.model

    calls = []

    def failing_save(proto, out, **kw):
        calls.append(out)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_save(proto, out, **kw)

    real_save = trtlab.model.save_model
    monkeypatch.setattr(trtlab.model, "save_model", failing_save)
    out = tmp_path / "seg"
    r = cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--run-dir", str(tmp_path / "r2"))
    assert r.code != 0 and len(calls) == 3
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".seg")]


def test_hybrid_backend_bad_target(cli, qconv, tmp_path):
    r = cli("compare", str(qconv), "--target", f"hybrid:{tmp_path / 'nope'}", "--out", str(tmp_path / "c"))
    assert r.code == 2 and "not found" in r.err
    r = cli("compare", str(qconv), "--target", f"hybrid:{tmp_path}", "--out", str(tmp_path / "c"))
    assert r.code == 2 and "partition.json" in r.err


def test_segments_match_original_tensor_for_tensor(qconv, tmp_path):
    """The segment models themselves, chained by hand in onnxruntime, reproduce the original's outputs."""
    import onnxruntime as ort

    from trtlab.partition.folder import read_dir, write_dir
    from trtlab.partition.plan import isolate

    model = quantized_convnet()
    write_dir(tmp_path / "seg", model, isolate(model, min_size=1))
    info, models = read_dir(tmp_path / "seg")
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    env = {"x": x}
    for seg, m in zip(info["segments"], models):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        env.update(zip([o.name for o in sess.get_outputs()], sess.run(None, {t["name"]: env[t["name"]]
                                                                               for t in seg["inputs"]})))
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(env["probs"], ref[0], atol=1e-6)
    np.testing.assert_allclose(env["side_pool"], ref[1], atol=1e-6)


def test_hybrid_refuses_a_partition_of_another_model(cli, qconv, tmp_path):
    """partition.json records the model's sha256: the same graph with other weights is refused (exit 2) instead
    of failing on accuracy; an older partition.json without sha256 is only warned about."""
    from trtlab.model import LoadedModel, model_sha256

    out = tmp_path / "seg"
    assert cli("surgeon", str(qconv), "--isolate-unsupported", "-o", str(out), "--no-verify",
               "--run-dir", str(tmp_path / "run")).code == 0
    info = json.loads((out / "partition.json").read_text())
    assert info["model"]["sha256"] == model_sha256(LoadedModel(None, qconv))
    other = tmp_path / "other.onnx"
    onnx.save(quantized_convnet(seed=1), other)
    r = cli("compare", str(other), "--target", f"hybrid:{out}", "--out", str(tmp_path / "cmp"), "--no-report")
    assert r.code == 2 and f"partition {out} was made from another model (sha256 differs" in r.err, r
    assert "--isolate-unsupported -o" in r.err and not (tmp_path / "cmp" / "results.json").exists()
    del info["model"]["sha256"]
    (out / "partition.json").write_text(json.dumps(info))
    r = cli("compare", str(qconv), "--target", f"hybrid:{out}", "--out", str(tmp_path / "cmp2"), "--no-report")
    assert r.code == 0 and "records no model sha256 (written by an older trtlab)" in r.err, r
