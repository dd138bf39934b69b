"""``compare --task`` on torchvision exports with seeded random weights (tests/models/torchvision_exports.py): the
RetinaNet of the issue, whose 300 detections swap places under FP16, and a DeepLabV3 segmenter. Needs torch and
torchvision; the exports are cached, so only the first run pays for them."""

import json

import pytest

pytest.importorskip("torch", reason="torch is not installed (pip install torch torchvision to run these)")
pytest.importorskip("torchvision", reason="torchvision is not installed")

from tests.models import torchvision_exports as tv  # noqa: E402


@pytest.mark.slow
def test_retinanet_detections_agree_as_a_set_under_fp16(cli, tmp_path):
    r = cli("compare", str(tv.retinanet()), "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--no-report",
            "--task", "detection", "--score-min", "0")
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    task = res["task"]
    assert task["summary"]["ref_detections"] == 300, task["summary"]
    assert not res["passed"]  # position by position the permuted detections differ
    assert task["summary"]["mean_iou"] > 0.95 and task["summary"]["max_score_change"] < 0.05
    assert (r.code == 0) == task["overall_passed"]


@pytest.mark.slow
def test_deeplab_segmentation_runs(cli, tmp_path):
    r = cli("compare", str(tv.deeplab()), "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--no-report",
            "--task", "segmentation")
    assert r.code in (0, 1), r
    task = json.loads((tmp_path / "a" / "results.json").read_text())["task"]
    assert task["roles"] == {"map": "out"} and task["summary"]["pixels"] == 256 * 256
