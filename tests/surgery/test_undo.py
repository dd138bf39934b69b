"""A pass does not fail whole because one rewrite is wrong: the runner finds the offending rewrites (bisection over
the nodes), undoes only those, keeps the rest and records why."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tests.passes.helpers import const, make_model, run, tensor
from trtlab.surgery.pipeline import Step, run_pipeline
from trtlab.surgery.verify import Verifier


def _overflowing():
    """Most of the graph is fine in FP16; the ``* 1e5`` weight is beyond FP16's range (clipped to 65504), so the
    converted graph is off by a third there."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Mul", ["r", "big"], ["m"]), helper.make_node("Div", ["m", "den"], ["d"]),
             helper.make_node("Sigmoid", ["d"], ["s"]), helper.make_node("MatMul", ["s", "w2"], ["y"])]
    inits = [const("w", rng.uniform(0, 1, (8, 8))), const("w2", rng.uniform(-1, 1, (8, 4))), const("big", 1e5),
             const("den", 5e4)]
    return make_model(nodes, [tensor("x", [2, 8])], [tensor("y", [2, 4])], inits)


def _feeds():
    return {"x": np.random.default_rng(1).uniform(0.5, 1, (2, 8)).astype(np.float32)}


def _verifier(model):
    v = Verifier(_feeds())
    v.baseline(model)
    return v


def test_fp16_overflow_undoes_only_the_offending_nodes():
    model = _overflowing()
    out, result = run_pipeline(model, [Step("to-fp16")], verifier=_verifier(model))
    assert result.passed, result.failure
    rec = result.passes[0]
    assert rec.verified and rec.status == "ok"
    undone = {u["rewrite"] for u in rec.undone}
    assert undone == {"m"}, undone
    assert all("changed the outputs" in u["reason"] for u in rec.undone)
    assert any(t.data_type == TensorProto.FLOAT16 for t in out.graph.initializer)  # the rest stays converted
    np.testing.assert_allclose(run(out, _feeds())[0], run(model, _feeds())[0], atol=5e-2, rtol=5e-2)


def test_sequence_type_error_is_undone():
    """to-fp16 made a SplitToSequence graph output a float16 sequence, which onnxruntime refuses: the whole pass
    failed (a conformance model)."""
    nodes = [helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0), helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, [tensor("x", [2, 3])], [
        helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None), tensor("y", [2, 3])])
    out, result = run_pipeline(model, [Step("to-fp16")], verifier=_verifier_for(model))
    assert result.passed, result.failure
    rec = result.passes[0]
    assert rec.verified and {u["rewrite"] for u in rec.undone} == {"seq"}
    assert any("left as they were" in n for n in rec.notes)


def test_nothing_kept_fails_the_pass():
    model = make_model([helper.make_node("Mul", ["x", "big"], ["y"])], [tensor("x", [2, 3])], [tensor("y", [2, 3])],
                       [const("big", 1e5)])
    _out, result = run_pipeline(model, [Step("to-fp16")], verifier=_verifier_for(model))
    assert not result.passed and "changed the outputs" in result.failure
    rec = result.passes[0]
    assert rec.status == "failed" and any("undoing rewrites did not help" in n for n in rec.notes)


def _verifier_for(model):
    v = Verifier({"x": np.ones((2, 3), np.float32)})
    v.baseline(model)
    return v


def test_pass_without_undo_option_still_fails():
    from trtlab.passes import registry

    assert registry.PASSES["cleanup"].undo_option is None
