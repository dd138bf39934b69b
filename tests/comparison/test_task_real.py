"""``compare --task`` on the shared real detectors, segmenters and a classifier, against onnxrt:fp16, onnxrt:bf16
and the reference evaluator: no crash, a task section, and FP32 vs FP32 agreeing as a task."""

import json

import pytest

from tests.conftest import shared_model

YUNET = ["--task", "detection", "--detection", "boxes=loc,scores=conf,background=0", "--score-min", "0"]
FASTESTDET = ["--task", "detection", "--score-min", "0"]
CASES = [
    ("yunet_face_120x160.onnx", "onnxrt:fp16", YUNET),
    ("yunet_face_120x160.onnx", "reference", YUNET),
    ("fastestdet.onnx", "onnxrt:fp16", ["--task", "detection"]),
    ("fastestdet.onnx", "onnxrt:bf16", FASTESTDET),
    ("deeplab_v3_tflite.onnx", "onnxrt:fp16", ["--task", "segmentation"]),
    ("road_segmentation_adas.onnx", "onnxrt:fp16", ["--task", "segmentation"]),
    ("mnist_opt.onnx", "onnxrt:fp16", ["--task", "classification", "--samples", "4"]),
    ("mnist_opt.onnx", "reference", ["--task", "classification", "--samples", "4"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,target,extra", CASES, ids=[f"{c[0].split('.')[0]}-{c[1]}" for c in CASES])
def test_task_on_real_models(cli, tmp_path, name, target, extra):
    run_dir = tmp_path / "run"
    r = cli("compare", str(shared_model(name)), "--target", target, "--out", str(run_dir), "--no-report", *extra)
    assert r.code in (0, 1), r
    res = json.loads((run_dir / "results.json").read_text())
    task = res["task"]
    assert task["task"] == extra[1] and task["summary"] and task["reason"]
    assert (r.code == 0) == task["overall_passed"]
    if target == "reference":
        assert task["passed"], task["reason"]
    if task["task"] == "detection":
        s = task["summary"]
        assert s["matched"] + s["missed"] == s["ref_detections"]
        assert s["matched"] + s["spurious"] == s["target_detections"]
    if name == "road_segmentation_adas.onnx":  # NHWC class scores [1, 512, 896, 4]
        assert task["summary"]["pixels"] == 512 * 896 and task["summary"]["pixel_agreement"] > 0.99


@pytest.mark.slow
def test_hint_on_real_classifier_outputs(cli, tmp_path):
    """mnist's [1, 10] logits are class scores: without --task, the hint names --task classification."""
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:fp16", "--out", str(tmp_path / "m"),
            "--no-report")
    res = json.loads((tmp_path / "m" / "results.json").read_text())
    assert res["task"]["suggested"] == "classification" and "--task classification" in r.out
