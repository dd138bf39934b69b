"""Hints that fit the error: dynamic quantization, shared dim names, no "fold constants" on a folded model,
internal builder errors."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tests.passes.helpers import const, make_model, tensor
from tests.trt.conftest import loaded
from trtlab.trt.check import run_check


def _dynamic_quant():
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dq"),
             helper.make_node("MatMulInteger", ["q", "w", "z", "wz"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["y"], to=TensorProto.FLOAT)]
    inits = [const("w", np.ones((4, 4)), np.uint8), const("wz", 0, np.uint8)]
    return make_model(nodes, [tensor("x", [2, 4])], [tensor("y", [2, 4])], inits)


def test_dynamic_quantization_hint(trt):
    result = run_check(trt, loaded(_dynamic_quant()))
    assert result.failing
    for node in result.failing:
        assert "no dynamic quantization" in node.hint and "QDQ" in node.hint, node.hint


def _folded_refused():
    """Already folded (no Constant, no all-constant node) and refused by the parser (an axis out of range)."""
    return make_model([helper.make_node("Softmax", ["x"], ["y"], axis=3, name="sm")], [tensor("x", [2, 3])],
                      [tensor("y", [2, 3])])


def test_no_fold_advice_on_a_folded_model(trt):
    result = run_check(trt, loaded(_folded_refused()))
    (node,) = result.failing
    assert "--fold-constants" not in node.hint and "isolate" in node.hint


def test_fold_advice_stays_on_an_unfolded_model(trt):
    model = _folded_refused()
    model.graph.node.insert(0, helper.make_node("Add", ["one", "one"], ["two"]))
    model.graph.node.append(helper.make_node("Mul", ["y", "two"], ["y2"]))
    model.graph.initializer.append(const("one", 1.0))
    model.graph.output[0].name = "y2"
    result = run_check(trt, loaded(model))
    assert "--fold-constants" in result.failing[0].hint


def test_shared_dim_names_are_explained(trt):
    model = make_model([helper.make_node("Add", ["a", "b"], ["c"]), helper.make_node("Softmax", ["c"], ["y"], axis=5)],
                       [tensor("a", ["?", 4]), tensor("b", ["?", 4])], [tensor("y", ["?", 4])])
    result = run_check(trt, loaded(model))
    note = [w for w in result.warnings if "share one name" in w]
    assert note and "a[0]" in note[0] and "b[0]" in note[0]


def test_internal_builder_error_suggests_reduce():
    from trtlab.model import LoadedModel
    from trtlab.trt.build import _build_hint

    hint = _build_hint("[myelinGraph.cpp::x::42] Error Code 2: Internal Error (Assertion failed)",
                       LoadedModel(proto=_folded_refused(), path="m.onnx"))
    assert "trtlab debug reduce m.onnx --fails build" in hint
