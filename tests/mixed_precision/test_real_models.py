"""`debug precision` on real FP16-sensitive models and a ViT-shaped graph: mixed.onnx loads in onnxruntime, parses
with the installed TensorRT parser and meets the goal on the held-out samples (slow: seconds per model)."""

import json

import onnx
import pytest

from tests.conftest import shared_model
from tests.mixed_precision.vitlike import vitlike

MODELS = ["poly_needs_constraints.onnx", "yunet_face_120x160.onnx", "vitlike"]


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_mixed_model_meets_the_goal_held_out_and_parses(cli, tmp_path, name):
    if name == "vitlike":
        src = tmp_path / "vitlike.onnx"
        onnx.save(vitlike(act_scale=1000.0), str(src))  # LayerNorm Pow overflows FP16
    else:
        src = shared_model(name)
    mixed = tmp_path / "mixed.onnx"
    r = cli("debug", "precision", str(src), "-o", str(mixed), "--samples", "4", "--min-snr", "50", "--json",
            "--no-report", "--max-seconds", "inf", "--out", str(tmp_path / "run"))  # complete: not cut by time
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert res["passed"] and res["complete"] and res["mixed_onnxruntime"]["loads"]
    assert not res["before"]["passed"] or not res["kept"]  # the search kept something only where it had to
    assert res["low_precision_fraction"] > 0.4  # yunet keeps its first convolutions: ~48 %
    pytest.importorskip("tensorrt_rtx")
    check = cli("check", str(mixed), "--out", str(tmp_path / "check"))
    assert check.code == 0, check.out + check.err
