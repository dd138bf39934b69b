"""An FP16 overflow that runs through several layers (a square, then the mean of the squares): the mitigation
printed for it keeps every layer whose reference exceeds 65504, so typed verbatim it fixes the output. Keeping
only the first overflowing node (as printed before) moved the Inf to the next one (found on a PyTorch export
with a hand-written LayerNorm, tests/models/torch_zoo.py ``risky_layernorm``)."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
from onnx import helper

from tests.passes.helpers import const, make_model, tensor


def _rms_norm():
    """y = h / sqrt(mean(h * h)), h = 300 x: for x in [0.9, 1.5] the squares and their mean exceed 65504."""
    nodes = [helper.make_node("Mul", ["x", "k"], ["h"], name="scale"),
             helper.make_node("Mul", ["h", "h"], ["sq"], name="square"),
             helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[1], keepdims=1, name="mean"),
             helper.make_node("Sqrt", ["ms"], ["rms"], name="root"),
             helper.make_node("Div", ["h", "rms"], ["y"], name="norm")]
    return make_model(nodes, [tensor("x", [4, 8])], [tensor("y", [4, 8])], [const("k", 300.0)], opset=13)


def test_overflow_mitigation_keeps_the_whole_run_and_fixes_the_output(cli, tmp_path):
    import onnx

    onnx.save(_rms_norm(), tmp_path / "m.onnx")
    x = np.random.default_rng(0).uniform(0.9, 1.5, (4, 8)).astype(np.float32)
    np.savez(tmp_path / "feeds.npz", x=x)
    common = ["--load-inputs", str(tmp_path / "feeds.npz"), "--no-report", "--json"]
    r = cli("compare", str(tmp_path / "m.onnx"), "--target", "onnxrt:fp16", "--layerwise", *common, "--out",
            str(tmp_path / "a"))
    assert r.code == 1, r
    errors = [f for f in json.loads(r.out)["findings"] if f["severity"] == "error"]
    assert errors, r
    typed = shlex.split(re.search(r"`(--target [^`]+)`", errors[0]["mitigation"]).group(1))
    assert set(typed[1].split("keep=")[1].split("+")) == {"square", "mean"}, typed
    again = cli("compare", str(tmp_path / "m.onnx"), *typed, *common, "--out", str(tmp_path / "b"))
    assert again.code == 0, again
