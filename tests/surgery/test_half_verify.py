"""to-fp16's verification runs the converted model with half storage kept (``trtlab.precision.widen``).

onnxruntime's CPU provider has no FP16 kernels for most ops: it runs them in FP32 and removes the Casts between
them, so a converted model whose activations overflow 65504 ran clean on CPU and was written as verified, while
every FP16 engine returns garbage (found on a PyTorch export, tests/models/torch_zoo.py ``risky_layernorm``).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests.passes.helpers import const, make_model, tensor
from trtlab.precision import has_half, widen
from trtlab.surgery.pipeline import Step, run_pipeline
from trtlab.surgery.verify import Verifier


def _square_norm():
    """y = x / sqrt(mean((300 x)^2)): the square of 300 x overflows FP16 for |x| > 0.86, so in FP16 storage the
    mean is Inf and y collapses to 0. Every weight is in FP16's range."""
    nodes = [helper.make_node("Mul", ["x", "k"], ["h"]), helper.make_node("Mul", ["h", "h"], ["sq"]),
             helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[1], keepdims=1),
             helper.make_node("Sqrt", ["ms"], ["rms"]), helper.make_node("Div", ["h", "rms"], ["y"])]
    return make_model(nodes, [tensor("x", [2, 8])], [tensor("y", [2, 8])], [const("k", 300.0)], opset=13)


def _feeds():
    return {"x": np.random.default_rng(0).uniform(0.5, 1.5, (2, 8)).astype(np.float32)}


def test_to_fp16_overflow_is_seen_and_undone():
    model = _square_norm()
    v = Verifier(_feeds())
    v.baseline(model)
    out, result = run_pipeline(model, [Step("to-fp16")], verifier=v)
    assert result.passed, result.failure
    rec = result.passes[0]
    assert rec.undone, "the overflowing square was verified as if FP16 storage were FP32"
    # the model written really holds: run with half storage kept, it matches the FP32 original
    import onnxruntime as ort

    ref = ort.InferenceSession(model.SerializeToString()).run(None, _feeds())[0]
    got = ort.InferenceSession(widen(out).SerializeToString()).run(None, _feeds())[0]
    np.testing.assert_allclose(got, ref, atol=1e-3, rtol=1e-2)


def test_widen_keeps_half_storage_in_bodies():
    """An If branch that squares a half tensor: widened, the square overflows as in FP16; plain CPU hides it."""
    import onnxruntime as ort

    def branch(name, op):
        return helper.make_graph([helper.make_node(op, ["h", "h"], [f"{name}_out"])], name, [],
                                 [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT16, [2])])

    nodes = [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
             helper.make_node("If", ["c"], ["s"], then_branch=branch("then", "Mul"),
                              else_branch=branch("else", "Add")),
             helper.make_node("Cast", ["s"], ["y"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                           helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    assert has_half(model) and not has_half(_square_norm())
    feeds = {"x": np.array([300.0, 2.0], np.float32), "c": np.array(True)}
    wide = ort.InferenceSession(widen(model).SerializeToString()).run(None, feeds)[0]
    assert np.isinf(wide[0]) and wide[1] == 4.0


def test_a_model_with_half_inputs_is_still_verified(cli, tmp_path):
    """Half storage kept in verification widens FP16 graph inputs to FP32: the feeds must follow (the same
    values), or every FP16-input model read as 'does not run in onnxruntime' and went unverified."""
    import json

    import numpy as np
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    g = h.make_graph([h.make_node("Relu", ["x"], ["r"]), h.make_node("Add", ["r", "c"], ["y"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT16, [2, 3])],
                     [h.make_tensor_value_info("y", T.FLOAT16, [2, 3])],
                     [onnx.numpy_helper.from_array(np.ones((2, 3), np.float16), "c")])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), str(tmp_path / "h.onnx"))
    r = cli("surgeon", str(tmp_path / "h.onnx"), "--fold-constants", "-o", "o.onnx", "--out", "run")
    assert r.code == 0, r
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["verify"]["enabled"] is True and res["passes"][0]["verified"] is True
