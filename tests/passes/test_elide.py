"""elide on graphs built in code: same-type Casts, identity-element arithmetic, Unsqueeze pairs; refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from trtlab.passes.elide import ELIDE, merge_axes

from tests.passes.helpers import const, copy, make_model, ops, run, tensor

X = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


def one_op(op, operands, c, x_shape=(2, 3), dtype=TensorProto.FLOAT):
    """x -> Relu -> op(operands with 'c' constant) -> Relu -> y (Relus keep the op away from graph inputs/outputs)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node(op, operands, ["o"]),
             helper.make_node("Relu", ["o"], ["y"])]
    return make_model(nodes, [tensor("x", list(x_shape) if x_shape is not None else None, dtype)],
                      [tensor("y", None, dtype)], [c])


@pytest.mark.parametrize("op,operands,value", [("Mul", ["r", "c"], 1.0), ("Mul", ["c", "r"], 1.0),
                                               ("Div", ["r", "c"], 1.0), ("Add", ["r", "c"], 0.0),
                                               ("Add", ["c", "r"], 0.0), ("Sub", ["r", "c"], 0.0)])
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3), (1, 1)])
def test_identity_arithmetic_is_removed(op, operands, value, shape):
    model = one_op(op, operands, const("c", np.full(shape, value)))
    result = ELIDE(copy(model))
    assert ops(result.model) == ["Relu", "Relu"]
    np.testing.assert_array_equal(run(result.model, {"x": X})[0], run(model, {"x": X})[0])


@pytest.mark.parametrize("case", ["sub_reversed", "div_reversed", "not_identity", "rank_grows", "dim_grows",
                                  "unknown_rank", "add_ones", "dtype"])
def test_identity_arithmetic_refused(case):
    op, operands, value, shape, x_shape = {
        "sub_reversed": ("Sub", ["c", "r"], 0.0, (), (2, 3)),  # 0 - x is not x
        "div_reversed": ("Div", ["c", "r"], 1.0, (), (2, 3)),
        "not_identity": ("Mul", ["r", "c"], 1.0001, (3,), (2, 3)),
        "rank_grows": ("Mul", ["r", "c"], 1.0, (1, 2, 3), (2, 3)),  # output would be rank 3
        "dim_grows": ("Add", ["r", "c"], 0.0, (4, 1, 3), (1, 3)),
        "unknown_rank": ("Mul", ["r", "c"], 1.0, (3,), None),
        "add_ones": ("Add", ["r", "c"], 1.0, (), (2, 3)),
        "dtype": ("Mul", ["r", "c"], 1.0, (), (2, 3)),
    }[case]
    c = const("c", np.full(shape, value), np.float64 if case == "dtype" else np.float32)
    model = one_op(op, operands, c, x_shape)
    result = ELIDE(copy(model))
    assert op in ops(result.model) and not result.modified


def test_graph_output_names_are_kept():
    # x * 1 -> y with x a graph input and y a graph output: nothing can be renamed, an Identity stays
    model = make_model([helper.make_node("Mul", ["x", "c"], ["y"])], [tensor("x", [2, 3])], [tensor("y", [2, 3])],
                       [const("c", 1.0)])
    result = ELIDE(copy(model))
    assert ops(result.model) == ["Identity"] and result.model.graph.output[0].name == "y"
    # Relu -> x * 1 -> y: the Relu writes y directly
    model = one_op("Mul", ["r", "c"], const("c", 1.0))
    del model.graph.node[2]
    model.graph.output[0].name = "o"
    result = ELIDE(copy(model))
    assert ops(result.model) == ["Relu"] and result.model.graph.node[0].output[0] == "o"


def test_same_type_cast_is_removed_and_a_converting_cast_kept():
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["s2"], to=TensorProto.INT64),
             helper.make_node("Cast", ["s2"], ["s3"], to=TensorProto.INT32)]
    model = make_model(nodes, [tensor("x", ["n", 3])], [tensor("s3", None, TensorProto.INT32)])
    result = ELIDE(copy(model))
    assert ops(result.model) == ["Shape", "Cast"] and result.model.graph.node[1].input[0] == "s"
    feeds = {"x": np.zeros((4, 3), np.float32)}
    np.testing.assert_array_equal(run(result.model, feeds)[0], run(model, feeds)[0])


def test_cast_of_an_untyped_tensor_is_kept():
    nodes = [helper.make_node("Foo", ["x"], ["f"], domain="custom"), helper.make_node("Cast", ["f"], ["y"], to=1)]
    model = make_model(nodes, [tensor("x", [2])], [tensor("y", None)])
    model.opset_import.append(helper.make_opsetid("custom", 1))
    assert ops(ELIDE(copy(model)).model) == ["Foo", "Cast"]


@pytest.mark.parametrize("opset,a1,a2", [(17, [1], [2]), (17, [0, 3], [1]), (17, [-1], [-4]), (11, [0], [2]),
                                         (11, [2, 0], [0, 5])])
def test_unsqueeze_pairs_merge(opset, a1, a2):
    if opset >= 13:
        nodes = [helper.make_node("Unsqueeze", ["x", "a1"], ["u"]), helper.make_node("Unsqueeze", ["u", "a2"], ["y"])]
        inits = [const("a1", a1, np.int64), const("a2", a2, np.int64)]
    else:
        nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=a1),
                 helper.make_node("Unsqueeze", ["u"], ["y"], axes=a2)]
        inits = []
    model = make_model(nodes, [tensor("x", [2, 3])], [tensor("y", None)], inits, opset=opset)
    result = ELIDE(copy(model))
    assert ops(result.model) == ["Unsqueeze"]
    got, want = run(result.model, {"x": X})[0], run(model, {"x": X})[0]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_unsqueeze_pair_with_a_second_reader_is_kept():
    nodes = [helper.make_node("Unsqueeze", ["x", "a"], ["u"]), helper.make_node("Unsqueeze", ["u", "a"], ["y"])]
    model = make_model(nodes, [tensor("x", [2, 3])], [tensor("y", None), tensor("u", None)],
                       [const("a", [0], np.int64)])
    assert ops(ELIDE(copy(model)).model) == ["Unsqueeze", "Unsqueeze"]


@settings(max_examples=60, deadline=None)
@given(rank=st.integers(0, 3), data=st.data())
def test_merge_axes_matches_two_expand_dims(rank, data):
    k1, k2 = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    a1 = data.draw(st.lists(st.integers(-(rank + k1), rank + k1 - 1), min_size=k1, max_size=k1,
                            unique_by=lambda a: a % (rank + k1)))
    r1 = rank + k1
    a2 = data.draw(st.lists(st.integers(-(r1 + k2), r1 + k2 - 1), min_size=k2, max_size=k2,
                            unique_by=lambda a: a % (r1 + k2)))
    x = np.zeros(tuple(range(2, 2 + rank)))
    want = np.expand_dims(np.expand_dims(x, tuple(a1)), tuple(a2))
    merged = merge_axes(a1, a2, rank)
    assert merged is not None
    assert np.expand_dims(x, tuple(merged)).shape == want.shape
    if all(a >= 0 for a in a1 + a2):  # without negative axes the rank is not needed
        assert merge_axes(a1, a2, None) == merged
