"""Verdict defects a black-box QA run found, each on a model built in code: a NaN output that a task metric passed,
a constant target against a tiny reference, a cosine shown for a target with Inf."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from trtlab.comparators import classification as cls_m
from trtlab.comparators import segmentation as seg_m


def _save(tmp_path, name, nodes, inputs, outputs, inits):
    graph = h.make_graph(nodes, name, inputs, outputs, inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 7
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return str(path)


def _res(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def nan_classifier(tmp_path) -> str:
    """x[4,8] @ W -> Softmax: logits ~1e5 overflow FP16, every probability is NaN (argmax of a NaN row is 0)."""
    w = (np.random.RandomState(0).rand(8, 10) * 1e4).astype(np.float32)
    w[:, 0] += 2e4
    return _save(tmp_path, "nan_cls", [h.make_node("MatMul", ["x", "W"], ["logits"]),
                                       h.make_node("Softmax", ["logits"], ["probs"], axis=1)],
                 [h.make_tensor_value_info("x", T.FLOAT, [4, 8])],
                 [h.make_tensor_value_info("probs", T.FLOAT, [4, 10])],
                 [nh.from_array(w, "W")])


def test_nan_output_fails_the_run_whatever_the_task(cli, tmp_path):
    model = nan_classifier(tmp_path)
    r = cli("compare", model, "--target", "onnxrt:fp16", "--task", "classification", "--samples", "2",
            "--no-report", "--out", str(tmp_path / "a"))
    assert r.code == 1, r
    task = _res(tmp_path / "a")["task"]
    assert not task["overall_passed"] and task["nonfinite_outputs"] == ["probs"]
    assert task["summary"]["top1_flips"] == 8  # a NaN row is no class, not class 0


def test_task_metrics_count_nonfinite_target_values_as_disagreement():
    ref = np.eye(4, 10, dtype=np.float32)
    tgt = ref.copy()
    tgt[1] = np.nan
    rows = cls_m.compare_scores(ref, tgt)
    assert rows.agree.tolist() == [True, False, True, True] and rows.overlap[1] == 0
    ref_map = np.zeros((1, 3, 4, 4), np.float32)
    ref_map[:, 0] = 1  # class 0 everywhere
    tgt_map = ref_map.copy()
    tgt_map[0, :, 0, 0] = np.nan
    s = seg_m.compare_maps(ref_map, tgt_map, 1, 3)
    assert s.agreement == 1 - 1 / 16
    from trtlab.comparators import detection as det_m
    boxes = np.array([[0, 0, 10, 10]], np.float32)
    ref_d = det_m.Detections(boxes, np.array([0.9], np.float32), np.array([1]))
    tgt_d = det_m.Detections(boxes, np.array([np.inf], np.float32), np.array([1]))
    assert det_m.compare_detections(ref_d, tgt_d, score_min=0.5).matched == 0


def tiny_mask(tmp_path) -> str:
    """mask = x * 1e-8: varies across its range, but every value is below FP16's smallest subnormal."""
    return _save(tmp_path, "tiny_mask", [h.make_node("Mul", ["x", "s"], ["mask"])],
                 [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 8, 8])],
                 [h.make_tensor_value_info("mask", T.FLOAT, [1, 1, 8, 8])], [nh.from_array(np.float32(1e-8), "s")])


def test_constant_rule_is_relative_to_the_reference_magnitude(cli, tmp_path):
    r = cli("compare", tiny_mask(tmp_path), "--target", "onnxrt:fp16", "--min-cosine", "0", "--no-report",
            "--out", str(tmp_path / "a"))
    assert r.code == 1, r
    res = _res(tmp_path / "a")
    assert [f["rule"] for f in res["verdict"]["failures"]] == ["constant"]
    assert not res["verdict"]["weak_inputs"]  # a varying tiny reference is not "saturated"


def test_cosine_is_none_when_the_target_has_new_inf(cli, tmp_path):
    """y = sqrt((300x)^2) - 300x: (300x)^2 overflows FP16 for x > 0.85, so the target has Inf, the reference not."""
    nodes = [h.make_node("Mul", ["x", "k"], ["a"]), h.make_node("Mul", ["a", "a"], ["sq"]),
             h.make_node("Sqrt", ["sq"], ["r"]), h.make_node("Sub", ["r", "a"], ["y"])]
    model = _save(tmp_path, "act_overflow", nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 16])],
                  [h.make_tensor_value_info("y", T.FLOAT, [1, 16])], [nh.from_array(np.float32(300), "k")])
    x = np.linspace(0, 1, 16, dtype=np.float32)[None]
    np.savez(tmp_path / "feeds.npz", x=x)
    r = cli("compare", model, "--target", "onnxrt:fp16", "--load-inputs", str(tmp_path / "feeds.npz"),
            "--no-report", "--out", str(tmp_path / "a"))
    assert r.code == 1, r
    out = _res(tmp_path / "a")["outputs"][0]
    assert out["nonfinite_diff"] > 0 and out["cosine"] is None and out["snr_db"] is None
    from trtlab.comparators.metrics import compare_arrays, merge_samples
    ok = compare_arrays("y", np.ones(4, np.float32), np.ones(4, np.float32), 1e-3, 1e-2)
    bad = compare_arrays("y", np.ones(4, np.float32), np.array([1, 1, 1, np.inf], np.float32), 1e-3, 1e-2)
    assert ok.cosine == 1 and bad.cosine is None and merge_samples([ok, bad]).cosine is None


def test_sweep_shapes_shows_nonfinite_applies_the_task_and_counts_failing_shapes(cli, tmp_path):
    model = onnx.load(nan_classifier(tmp_path))
    for vi in (model.graph.input[0], model.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(model, tmp_path / "nan_dyn.onnx")
    r = cli("compare", str(tmp_path / "nan_dyn.onnx"), "--target", "onnxrt:fp16", "--sweep-shapes", "x:1x8:4x8",
            "--sweep-points", "2", "--task", "classification", "--out", str(tmp_path / "a"))
    assert r.code == 1, r
    rows = _res(tmp_path / "a")["sweep"]
    assert [row["rule"] for row in rows] == ["nonfinite", "nonfinite"]
    assert all(row["nonfinite"] and row["cosine"] is None and not row["task"]["passed"] for row in rows)
    assert "NaN/Inf" in r.out and "FAILED at 2 of 2 shapes" in r.out and "task: top-1 agrees on 0/1" in r.out
    assert all(len(line) <= 80 for line in r.out.splitlines() if not line.startswith("run: "))
    # a passing sweep says so
    r = cli("compare", str(tmp_path / "nan_dyn.onnx"), "--target", "onnxrt", "--sweep-shapes", "x:1x8:2x8",
            "--sweep-points", "2", "--out", str(tmp_path / "b"))
    assert r.code == 0 and "PASSED at all 2 shapes" in r.out, r


def test_detection_is_not_guessed_from_feature_maps(cli, tmp_path):
    """A conv feature map [1, 8, 8, 4] and a pooled [1, 4] are no boxes and scores: refuse, name --detection;
    and the hint does not invite --task detection on them."""
    w = nh.from_array(np.random.RandomState(0).randn(4, 3, 3, 3).astype(np.float32), "w")
    nodes = [h.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
             h.make_node("Conv", ["xt", "w"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("Transpose", ["c"], ["fmap"], perm=[0, 2, 3, 1]),
             h.make_node("GlobalAveragePool", ["c"], ["gap"]), h.make_node("Flatten", ["gap"], ["pooled"])]
    model = _save(tmp_path, "feat", nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 8, 8, 3])],
                  [h.make_tensor_value_info("fmap", T.FLOAT, [1, 8, 8, 4]),
                   h.make_tensor_value_info("pooled", T.FLOAT, [1, 4])], [w])
    r = cli("compare", model, "--target", "onnxrt:fp16", "--task", "detection", "--no-report",
            "--out", str(tmp_path / "a"))
    assert r.code == 2 and "--detection boxes=" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = cli("compare", model, "--target", "onnxrt:fp16", "--no-report", "--out", str(tmp_path / "b"))
    assert "--task detection" not in r.out and "suggested" not in (_res(tmp_path / "b").get("task") or {})


def test_unambiguous_detections_are_read_and_the_reading_is_recorded(cli, tmp_path):
    """boxes [N, 4] + scores [N] + labels [N] with unhelpful names: read by shape, recorded in results.json."""
    rs = np.random.RandomState(1)
    boxes = np.sort(rs.rand(12, 4).astype(np.float32), axis=-1)[:, [0, 1, 2, 3]] * 100
    nodes = [h.make_node("Add", ["x", "b"], ["o0"]), h.make_node("Identity", ["s"], ["o1"]),
             h.make_node("Identity", ["l"], ["o2"])]
    model = _save(tmp_path, "det", nodes, [h.make_tensor_value_info("x", T.FLOAT, [12, 4])],
                  [h.make_tensor_value_info("o0", T.FLOAT, [12, 4]), h.make_tensor_value_info("o1", T.FLOAT, [12]),
                   h.make_tensor_value_info("o2", T.INT64, [12])],
                  [nh.from_array(boxes, "b"), nh.from_array(rs.rand(12).astype(np.float32), "s"),
                   nh.from_array(rs.randint(0, 3, 12).astype(np.int64), "l")])
    r = cli("compare", model, "--target", "onnxrt:fp16", "--task", "detection", "--no-report",
            "--out", str(tmp_path / "a"))
    assert r.code == 0, r
    reading = _res(tmp_path / "a")["task"]["reading"]
    assert reading["roles"] == {"boxes": "o0", "scores": "o1", "labels": "o2"}
    assert reading["layout"] == "boxes+scores+labels" and reading["box"] == "xyxy" and reading["roles_from"] == "shapes"


def test_report_names_the_nonfinite_output_that_fails_a_task_run():
    from reports import compare_task

    html = compare_task.verdict_html({"task": {"task": "classification", "passed": False, "overall_passed": False,
                                               "reason": "r", "outputs": ["probs"], "nonfinite_outputs": ["probs"]}})
    assert "NaN/Inf the reference lacks in probs fails it" in html
