"""fold-constants on graphs built in code: chains, shapes, bodies, thresholds, partial folding, random graphs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from trtlab.passes.fold_constants import FOLD_CONSTANTS

from tests.passes.helpers import const, copy, make_model, ops, run, tensor


def fold(model, **options):
    return FOLD_CONSTANTS(copy(model), **options)


def test_constant_chain_folds_to_one_initializer():
    nodes = [helper.make_node("Constant", [], ["c"], value=const("", [1.0, 2.0])),
             helper.make_node("Add", ["c", "c"], ["d"]),
             helper.make_node("Mul", ["d", "w"], ["e"]),
             helper.make_node("Add", ["x", "e"], ["y"])]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])], [const("w", [3.0, 4.0])])
    result = fold(model)
    assert ops(result.model) == ["Add"]
    x = np.array([1.0, 1.0], np.float32)
    np.testing.assert_array_equal(run(result.model, {"x": x})[0], run(model, {"x": x})[0])
    assert result.modified


def test_shape_chain_of_static_input_folds():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i"], ["d"], axis=0),
             helper.make_node("Unsqueeze", ["d", "ax"], ["du"]),
             helper.make_node("Concat", ["du", "m1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    inits = [const("i", 0, np.int64), const("ax", [0], np.int64), const("m1", [-1], np.int64)]
    model = make_model(nodes, [tensor("x", [2, 3, 4])], [tensor("y", None)], inits)
    result = fold(model)
    assert ops(result.model) == ["Reshape"]


def test_partially_dynamic_shape_folds_static_dims_only():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "one"], ["d1"], axis=0),  # static dim: folds
             helper.make_node("Gather", ["s", "zero"], ["d0"], axis=0),  # dynamic batch: stays
             helper.make_node("Mul", ["d0", "d1"], ["y"])]
    inits = [const("one", 1, np.int64), const("zero", 0, np.int64)]
    model = make_model(nodes, [tensor("x", ["batch", 8])], [tensor("y", None, TensorProto.INT64)], inits)
    result = fold(model)
    assert sorted(ops(result.model)) == ["Gather", "Mul", "Shape"]
    x = np.zeros((3, 8), np.float32)
    assert run(result.model, {"x": x})[0] == 24


def test_if_with_constant_condition_and_outer_scope_reference_folds():
    then_g = helper.make_graph([helper.make_node("Add", ["w", "w"], ["t"])], "then", [], [tensor("t", [2])])
    else_g = helper.make_graph([helper.make_node("Sub", ["w", "w"], ["e"])], "else", [], [tensor("e", [2])])
    nodes = [helper.make_node("If", ["cond"], ["branch"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Add", ["x", "branch"], ["y"])]
    inits = [const("cond", True, np.bool_), const("w", [1.0, 2.0])]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])], inits)
    result = fold(model)
    assert ops(result.model) == ["Add"]
    x = np.ones(2, np.float32)
    np.testing.assert_array_equal(run(result.model, {"x": x})[0], [3.0, 5.0])


def test_loop_body_folds_against_outer_constants_and_stays_a_loop():
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["k"], value=const("", [2.0])),
         helper.make_node("Mul", ["w", "k"], ["wk"]),  # outer-scope constant times body constant: folds in the body
         helper.make_node("Add", ["acc", "wk"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body", [tensor("i", [], TensorProto.INT64), tensor("cond_in", [], TensorProto.BOOL), tensor("acc", [1])],
        [tensor("cond_out", [], TensorProto.BOOL), tensor("acc_out", [1])])
    nodes = [helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)]
    model = make_model(nodes, [tensor("x", [1]), tensor("n", [], TensorProto.INT64)], [tensor("y", [1])],
                       [const("w", [1.5])])
    result = fold(model)
    body_ops = [n.op_type for n in result.model.graph.node[0].attribute[0].g.node]
    assert "Mul" not in body_ops and "Constant" not in body_ops
    feeds = {"x": np.array([1.0], np.float32), "n": np.array(3, np.int64)}
    np.testing.assert_allclose(run(result.model, feeds)[0], run(model, feeds)[0])


def test_size_threshold_keeps_big_tensor_computed_and_says_why():
    nodes = [helper.make_node("Tile", ["c", "reps"], ["big"]), helper.make_node("Add", ["x", "big"], ["y"])]
    inits = [const("c", np.ones((1, 256))), const("reps", [1024, 1], np.int64)]
    model = make_model(nodes, [tensor("x", [1024, 256])], [tensor("y", [1024, 256])], inits)
    result = fold(model, size_threshold="512k")
    assert "Tile" in ops(result.model)
    assert any("would be 1.0 MB (threshold 512.0 KB)" in s for s in result.skipped)
    assert "Tile" not in ops(fold(model, size_threshold="2M").model)


def test_random_and_custom_ops_are_not_folded_with_reasons():
    nodes = [helper.make_node("RandomNormal", [], ["r"], shape=[2]),
             helper.make_node("Add", ["r", "x"], ["y"]),
             helper.make_node("Foo", ["w"], ["f"], domain="my.domain"),
             helper.make_node("Add", ["f", "x"], ["z"])]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2]), tensor("z", [2])], [const("w", [1.0, 2.0])])
    model.opset_import.append(helper.make_opsetid("my.domain", 1))
    result = fold(model)
    assert "RandomNormal" in ops(result.model) and "Foo" in ops(result.model)
    assert any("is random" in s for s in result.skipped)
    assert any("custom domain" in s for s in result.skipped)


def test_partial_folding_when_one_node_cannot_be_evaluated():
    nodes = [helper.make_node("Reshape", ["a", "bad_shape"], ["broken"]),  # 3 elements into [2]: ORT fails
             helper.make_node("Add", ["broken", "x"], ["y"]),
             helper.make_node("Mul", ["b", "b"], ["bb"]),  # independent chain: must still fold
             helper.make_node("Add", ["bb", "x"], ["z"])]
    inits = [const("a", [1.0, 2.0, 3.0]), const("bad_shape", [2], np.int64), const("b", [2.0, 3.0])]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2]), tensor("z", [2])], inits)
    result = fold(model)
    assert "Mul" not in ops(result.model)
    assert "Reshape" in ops(result.model)
    assert any("could not be evaluated by onnxruntime" in s for s in result.skipped)


def test_identical_nodes_are_merged():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"])]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])])
    result = fold(model)
    assert ops(result.model).count("Relu") == 1
    assert ops(fold(model, cse=False).model).count("Relu") == 2


# --- property: folding never changes outputs -----------------------------------------------------------------

_UNARY = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh", "Exp"]
_BINARY = ["Add", "Sub", "Mul", "Max", "Min"]


@st.composite
def random_graphs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    names = ["x"]
    inits = []
    for i in range(draw(st.integers(1, 3))):
        inits.append(const(f"c{i}", rng.uniform(-1, 1, size=4)))
        names.append(f"c{i}")
    nodes = []
    for i in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            op = draw(st.sampled_from(_UNARY))
            nodes.append(helper.make_node(op, [draw(st.sampled_from(names))], [f"t{i}"]))
        else:
            op = draw(st.sampled_from(_BINARY))
            nodes.append(helper.make_node(op, [draw(st.sampled_from(names)), draw(st.sampled_from(names))], [f"t{i}"]))
        names.append(f"t{i}")
    outs = sorted(set(draw(st.lists(st.sampled_from(names[1 + len(inits):]), min_size=1, max_size=2))))
    return make_model(nodes, [tensor("x", [4])], [tensor(o, [4]) for o in outs], inits)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_folding_never_changes_outputs(model):
    x = np.linspace(-1, 1, 4).astype(np.float32)
    expected = run(model, {"x": x})
    folded = fold(model).model
    got = run(folded, {"x": x})
    assert [o.name for o in folded.graph.output] == [o.name for o in model.graph.output], "an output was dropped"
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("threshold", ["1G", "16M", 1024])
def test_threshold_accepts_units_and_bytes(threshold):
    model = make_model([helper.make_node("Add", ["a", "a"], ["y"])], [], [tensor("y", [2])], [const("a", [1.0, 2.0])])
    assert fold(model, size_threshold=threshold).model.graph.initializer
