"""A pass does not fail whole because one rewrite is wrong: the runner finds the offending rewrites (bisection over
the nodes), undoes only those, keeps the rest and records why."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tests.passes.helpers import const, make_model, run, tensor
from trtlab.surgery.pipeline import Step, run_pipeline
from trtlab.surgery.verify import Verifier


def _overflowing():
    """Most of the graph is fine in FP16; the ``* 1e5`` weight is beyond FP16's range (clipped to 65504) and its
    product ``m`` overflows FP16 storage, so ``m`` and the Div that reads it (its input would be stored in FP16)
    must stay FP32."""
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
    assert undone == {"m", "d"}, undone
    assert all("changed the outputs" in u["reason"] for u in rec.undone)
    assert any(t.data_type == TensorProto.FLOAT16 for t in out.graph.initializer)  # the rest stays converted
    np.testing.assert_allclose(run(out, _feeds())[0], run(model, _feeds())[0], atol=5e-2, rtol=5e-2)


def test_sequence_ops_stay_fp32():
    """to-fp16 made a SplitToSequence graph output a float16 sequence, which onnxruntime refuses (a conformance
    model): sequence ops stay FP32 now, and the rest converts."""
    nodes = [helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0), helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, [tensor("x", [2, 3])], [
        helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None), tensor("y", [2, 3])])
    out, result = run_pipeline(model, [Step("to-fp16")], verifier=_verifier_for(model))
    assert result.passed and result.passes[0].verified, result.failure
    assert not result.passes[0].undone
    assert any(n.op_type == "Relu" for n in out.graph.node)


def test_unloadable_rewrite_is_undone(monkeypatch):
    """A pass whose rewrite of one node makes the model unloadable (a wrong type): only that node is left alone."""
    from trtlab.passes import registry
    from trtlab.passes.base import Pass, PassResult

    def run(model, keep=()):
        for node in model.graph.node:
            if node.output[0] == "b" and "b" not in keep:
                node.op_type = "NoSuchOp"  # breaks loading
            elif node.op_type == "Relu" and node.output[0] not in keep:
                node.op_type = "Abs"  # same values on these inputs: a good rewrite
        return PassResult(model, ["rewrote"], modified=True)

    fake = Pass(name="cleanup", description="test", run=run, options={"keep": ""}, undo_option="keep")
    monkeypatch.setitem(registry.PASSES, "cleanup", fake)
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"]),
             helper.make_node("Relu", ["x"], ["c"]), helper.make_node("Add", ["b", "c"], ["y"])]
    model = make_model(nodes, [tensor("x", [2, 3])], [tensor("y", [2, 3])])
    out, result = run_pipeline(model, [Step("cleanup")], verifier=_verifier_for(model))
    assert result.passed, result.failure
    assert {u["rewrite"] for u in result.passes[0].undone} == {"b"}
    assert "unrunnable" in result.passes[0].undone[0]["reason"]
    assert [n.op_type for n in out.graph.node].count("Abs") == 2


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
