"""``compare --task``: detections as sets, top-1 agreement with the sample named, segmentation masks; the hint that
names the flag; data-dependent output shapes that never crash. Models built in code (tests/models/graphs.py)."""

import json

import numpy as np
import onnx
import pytest

from tests.models import graphs


def _save(tmp_path, name, model):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return str(path)


def _res(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def _feeds(tmp_path, arrays):
    path = tmp_path / "feeds.npz"
    np.savez(path, **({"x": arrays[0]} if len(arrays) == 1 else {f"{i}/x": a for i, a in enumerate(arrays)}))
    return str(path)


def test_permuted_detections_pass_as_a_set_and_fail_element_wise(cli, tmp_path):
    model = _save(tmp_path, "det", graphs.tie_detector())
    plain = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--no-report")
    assert plain.code == 1, plain
    res = _res(tmp_path / "a")
    by = {m["name"]: m for m in res["outputs"]}
    assert not by["boxes"]["passed"] and not by["labels"]["passed"]  # the order differs: position by position fails
    assert res["task"]["suggested"] == "detection" and "--task detection" in plain.out
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "b"), "--task", "detection")
    assert r.code == 0, r
    res = _res(tmp_path / "b")
    task = res["task"]
    assert res["passed"] is False and task["passed"] and task["overall_passed"]
    assert task["summary"]["matched"] == task["summary"]["ref_detections"] == 12
    assert task["summary"]["mean_iou"] > 0.99 and task["summary"]["max_score_change"] < 1e-4
    assert task["roles"] == {"boxes": "boxes", "scores": "scores", "labels": "labels"}
    assert sum(c["matched"] for c in task["per_class"]) == 12
    html = (tmp_path / "b" / "report.html").read_text()
    assert 'id="task"' in html and "detection PASSED" in html and "element-wise FAILED" in html
    hist = np.load(tmp_path / "b" / "histograms.npz")
    assert hist["task_iou_hist"].sum() == 12
    # the same with Hungarian matching, and with the boxes named explicitly
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "c"), "--no-report", "--task",
            "detection", "--detection", "boxes=boxes,scores=scores,labels=labels,match=hungarian")
    assert r.code == 0 and _res(tmp_path / "c")["task"]["options"]["match"] == "hungarian"


def test_classifier_flip_on_one_sample_fails_and_names_it(cli, tmp_path):
    model = _save(tmp_path, "cls", graphs.passthrough([1, 10]))
    feeds = _feeds(tmp_path, graphs.tie_classifier_inputs(samples=3, flip=1))
    plain = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--no-report",
                "--load-inputs", feeds)
    assert plain.code == 0  # every logit is within FP16 tolerances
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "b"), "--no-report",
            "--load-inputs", feeds, "--task", "classification")
    assert r.code == 1, r
    task = _res(tmp_path / "b")["task"]
    assert not task["passed"] and task["summary"]["top1_flips"] == 1
    assert [f["where"] for f in task["failures"]] == ["sample 1"]
    assert task["failures"][0]["ref_class"] == 7 and task["failures"][0]["target_class"] == 3
    assert "flips on sample 1" in task["reason"] and "sample 1" in r.out
    # the reference backend agrees with onnxrt on every sample
    r = cli("compare", model, "--target", "reference", "--out", str(tmp_path / "c"), "--no-report",
            "--load-inputs", feeds, "--task", "classification")
    assert r.code == 0 and _res(tmp_path / "c")["task"]["summary"]["top1_agreement"] == 1.0


@pytest.mark.parametrize("tie,ok", [(True, False), (False, True)])
def test_segmentation_region_changed(cli, tmp_path, tie, ok):
    model = _save(tmp_path, "seg", graphs.passthrough([1, 3, 32, 32], "seg"))
    feeds = _feeds(tmp_path, [graphs.region_map(tie=tie)])
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--load-inputs", feeds,
            "--task", "segmentation")
    assert r.code == (0 if ok else 1), r
    res = _res(tmp_path / "a")
    task = res["task"]
    assert res["passed"]  # element-wise, every score is within FP16 tolerances either way
    assert task["passed"] is ok
    if not ok:
        assert task["summary"]["pixel_agreement"] == pytest.approx(1 - 100 / 1024)
        assert {c["class"]: c["iou"] for c in task["classes"]}[2] == 0.0
        mask = np.load(tmp_path / "a" / "histograms.npz")["task_disagree"]
        assert mask.sum() == 100 and mask[8:18, 8:18].all()
        assert "pixels disagree" in (tmp_path / "a" / "report.html").read_text()


@pytest.mark.parametrize("target", ["onnxrt:fp16", "onnxrt:bf16", "reference"])
def test_data_dependent_shapes_never_crash(cli, tmp_path, target):
    """NMS keeps two fewer boxes in FP16: shapes differ, element-wise metrics are skipped with the reason, layer-wise
    too, and the task decides (the two borderline detections are below --score-min 0.5)."""
    model = _save(tmp_path, "nms", graphs.nms_detector())
    r = cli("compare", model, "--target", target, "--out", str(tmp_path / "a"), "--no-report", "--layerwise",
            "--task", "detection", "--score-min", "0.5")
    assert r.code == 0, r
    task = _res(tmp_path / "a")["task"]
    assert task["passed"] and task["summary"]["matched"] == 10
    if target == "onnxrt:fp16":
        assert {s["tensor"] for s in task["elementwise_skipped"]} == {"boxes", "scores", "labels"}
        assert "shape mismatch" in task["elementwise_skipped"][0]["reason"]
        r = cli("compare", model, "--target", target, "--out", str(tmp_path / "b"), "--no-report", "--task",
                "detection")
        assert r.code == 1 and _res(tmp_path / "b")["task"]["summary"]["missed"] == 2


def test_task_errors_are_one_line(cli, tmp_path):
    model = _save(tmp_path, "det", graphs.tie_detector())
    r = cli("compare", model, "--target", "onnxrt:fp16", "--no-report", "--task", "detection", "--detection",
            "boxes=nope")
    assert r.code == 2 and "not an output of the model" in r.err and "Traceback" not in r.err
    r = cli("compare", model, "--target", "onnxrt:fp16", "--no-report", "--detection", "boxes=boxes")
    assert r.code == 2 and "needs --task" in r.err
    r = cli("compare", model, "--target", "onnxrt:fp16", "--no-report", "--task", "segmentation")
    assert r.code == 2 and "--segmentation map=NAME" in r.err
    r = cli("compare", model, "--target", "onnxrt:fp16", "--no-report", "--task", "detection", "--iou", "2")
    assert r.code == 2 and "--iou" in r.err


def test_api_options_are_plain_keywords(tmp_path):
    """The compare loop takes TaskOptions built from keywords (what the Python API and debug precision pass)."""
    from trtlab.comparators import Tolerances

    from trtlab import backends
    from trtlab.comparison.run import run_compare
    from trtlab.comparison.task import TaskOptions, overall_passed
    from trtlab.model import load_model

    path = _save(tmp_path, "det", graphs.tie_detector())
    model = load_model(path)
    feeds = [{"x": np.zeros((1, 8), np.float32)}]
    result, arrays = run_compare(model, backends.parse_spec("onnxrt"), backends.parse_spec("onnxrt:fp16"), feeds,
                                 Tolerances(1e-3, 1e-2), False, quiet=True,
                                 task=TaskOptions(task="detection", iou=0.7, min_match=1.0))
    assert overall_passed(result) and not result.passed and "task_iou_hist" in arrays


def _readme_task_commands():
    import re
    import shlex

    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Task metrics"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("trtlab ")]


@pytest.mark.parametrize("argv", _readme_task_commands())
def test_readme_task_commands_run(cli, tmp_path, argv):
    r = cli(*argv, "--out", str(tmp_path / "run"), "--no-report")
    assert r.code == 0, r
    task = _res(tmp_path / "run")["task"]
    assert task["passed"] and task["overall_passed"]


def test_hints_name_the_flag_only_for_task_shaped_outputs():
    from trtlab.comparison.task_io import suggest

    f = np.zeros
    assert suggest({"boxes": f((7, 4)), "scores": f(7), "labels": f(7, np.int64)})["flag"] == "--task detection"
    assert suggest({"logits": f((2, 1000), np.float32)})["flag"] == "--task classification"
    assert suggest({"mask": f((1, 21, 64, 64), np.float32)})["flag"] == "--task segmentation"
    for shapes in ([(1, 3, 224, 224)], [(1, 1, 672, 672)], [(1, 4)], [(1, 5)]):  # images, super-res, regressions
        assert suggest({f"o{i}": f(s, np.float32) for i, s in enumerate(shapes)}) is None


def test_a_wide_vector_is_not_taken_for_class_scores_without_a_reason():
    """An embedding [1, 128] (any values) has ten or more columns but no class name and no probabilities."""
    from trtlab.comparison.task_io import suggest

    rng = np.random.default_rng(0)
    assert suggest({"embedding": rng.normal(size=(1, 128)).astype(np.float32)}) is None
    assert suggest({"output": rng.normal(size=(1, 128)).astype(np.float32)}) is None
    probs = rng.random((2, 20))
    assert suggest({"output": (probs / probs.sum(-1, keepdims=True)).astype(np.float32)})["flag"] == \
        "--task classification"
    assert suggest({"cls_head": rng.normal(size=(1, 37)).astype(np.float32)})["flag"] == "--task classification"
    assert suggest({"Plus214_Output_0": rng.normal(size=(1, 10)).astype(np.float32)})["flag"] == \
        "--task classification"  # mnist's logits: ten columns, no name, not probabilities
    assert suggest({"output": rng.normal(size=(1, 1000)).astype(np.float32)})["flag"] == "--task classification"
    assert suggest({"features": rng.normal(size=(1, 2048)).astype(np.float32)}) is None


def test_batched_classification_names_the_image(cli, tmp_path):
    model = _save(tmp_path, "cls", graphs.passthrough([2, 10]))
    xs = graphs.tie_classifier_inputs(samples=2, flip=1)
    feeds = _feeds(tmp_path, [np.concatenate([x, x]) for x in xs])
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--no-report",
            "--load-inputs", feeds, "--task", "classification")
    assert r.code == 1
    task = _res(tmp_path / "a")["task"]
    assert [f["where"] for f in task["failures"]] == ["sample 1 image 0", "sample 1 image 1"]


def test_evaluate_on_saved_outputs_is_a_goal():
    """``evaluate`` judges outputs computed elsewhere (what debug precision needs as a goal)."""
    from trtlab.comparison.task import TaskOptions, evaluate

    xs = graphs.tie_classifier_inputs(samples=3, flip=1)
    ref = [{"logits": x} for x in xs]
    fp16 = [{"logits": x.astype(np.float16).astype(np.float32)} for x in xs]
    verdict = evaluate(TaskOptions(task="classification"), ref, fp16)
    assert not verdict["passed"] and verdict["failures"][0]["where"] == "sample 1"
    assert evaluate(TaskOptions(task="classification"), ref, ref)["passed"]
