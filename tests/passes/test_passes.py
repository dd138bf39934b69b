"""The other passes on graphs built in code: cleanup, dedup, toposort, infer-shapes, override, extract, names, opset."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from trtlab.passes.registry import PASSES

from tests.passes.helpers import const, copy, make_model, ops, run, tensor
from trtlab.errors import TrtlabError


def _chain():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r1"), helper.make_node("Neg", ["a"], ["b"], name="n1"),
             helper.make_node("Abs", ["x"], ["dead"], name="dead"),
             helper.make_node("Add", ["b", "w"], ["y"], name="add")]
    return make_model(nodes, [tensor("x", ["n", 2]), tensor("unused", [1])], [tensor("y", ["n", 2])],
                      [const("w", [1.0, 2.0]), const("w2", [1.0, 2.0]), const("orphan", [0.0])])


def test_registry_names_and_descriptions():
    assert {"fold-constants", "cleanup", "toposort", "to-fp16", "to-bf16", "extract"} <= set(PASSES)
    assert all(p.description and "\n" not in p.description for p in PASSES.values())


def test_cleanup_removes_dead_nodes_unused_initializers_and_inputs():
    result = PASSES["cleanup"](copy(_chain()))
    m = result.model
    assert "Abs" not in ops(m)
    assert [t.name for t in m.graph.initializer] == ["w"]
    assert [i.name for i in m.graph.input] == ["x"]


def test_toposort_orders_reversed_graph():
    m = _chain()
    nodes = list(m.graph.node)[::-1]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    result = PASSES["toposort"](m)
    names = [n.name for n in result.model.graph.node]
    assert names.index("r1") < names.index("n1") < names.index("add")


def test_dedup_merges_identical_initializers_and_nodes():
    nodes = [helper.make_node("Add", ["x", "w"], ["a"]), helper.make_node("Add", ["x", "w2"], ["b"]),
             helper.make_node("Mul", ["a", "b"], ["y"])]
    m = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])], [const("w", [1.0, 2.0]), const("w2", [1.0, 2.0])])
    x = np.array([1.0, -1.0], np.float32)
    before = run(m, {"x": x})[0]
    result = PASSES["dedup"](copy(m))
    assert ops(result.model).count("Add") == 1
    np.testing.assert_array_equal(run(result.model, {"x": x})[0], before)


def test_infer_shapes_types_intermediates_and_reports_strict_failures():
    result = PASSES["infer-shapes"](copy(_chain()))
    assert {vi.name for vi in result.model.graph.value_info} >= {"a", "b"}
    bad = make_model([helper.make_node("Add", ["x", "z"], ["y"])], [tensor("x", [2]), tensor("z", [3])],
                     [tensor("y", None)])
    assert PASSES["infer-shapes"](bad).skipped


def test_override_input_shapes_makes_dims_static():
    result = PASSES["override-input-shapes"](copy(_chain()), shapes=["x:4x2"])
    dims = [d.dim_value for d in result.model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [4, 2]


@pytest.mark.parametrize("shapes", [["nope:1x2"], ["x:1x2x3"]])
def test_override_input_shapes_rejects_bad_input(shapes):
    with pytest.raises(TrtlabError) as exc:
        PASSES["override-input-shapes"](copy(_chain()), shapes=shapes)
    assert exc.value.code == 2


def test_extract_subgraph_runs_standalone():
    result = PASSES["extract"](copy(_chain()), inputs="a", outputs="b")
    m = result.model
    assert ops(m) == ["Neg"] and [i.name for i in m.graph.input] == ["a"]
    assert m.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    np.testing.assert_array_equal(run(m, {"a": np.ones((1, 2), np.float32)})[0], -np.ones((1, 2)))


@pytest.mark.parametrize("inputs,outputs,problem", [("a", "nope", "no tensor of that name"),
                                                    ("w", "y", "does not separate"),
                                                    ("a,dead", "b", "not read by the extracted part")])
def test_extract_rejects_bad_boundaries(inputs, outputs, problem):
    with pytest.raises(TrtlabError) as exc:
        PASSES["extract"](copy(_chain()), inputs=inputs, outputs=outputs)
    assert exc.value.code == 2 and problem in str(exc.value)


def test_sanitize_names_makes_unique_friendly_names_keeping_io():
    nodes = [helper.make_node("Relu", ["x"], ["a b"], name="same"),
             helper.make_node("Neg", ["a b"], ["y"], name="same")]
    m = make_model(nodes, [tensor("x", [2])], [tensor("y", [2])])
    result = PASSES["sanitize-names"](m)
    names = [n.name for n in result.model.graph.node]
    assert len(set(names)) == 2
    assert result.model.graph.node[0].output[0] == "a_b" and result.model.graph.output[0].name == "y"
    run(result.model, {"x": np.ones(2, np.float32)})


def test_opset_upgrade_converts_and_same_opset_is_skipped():
    m = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [2])], [tensor("y", [2])], opset=11)
    result = PASSES["opset"](copy(m), target=17)
    assert result.model.opset_import[0].version == 17
    assert PASSES["opset"](result.model, target=17).skipped


def test_unknown_option_is_a_usage_error():
    with pytest.raises(TrtlabError) as exc:
        PASSES["cleanup"](_chain(), bogus=1)
    assert exc.value.code == 2


def test_simplify_removes_identities_and_merges_transposes():
    nodes = [helper.make_node("Identity", ["x"], ["i"]),
             helper.make_node("Transpose", ["i"], ["t1"], perm=[1, 0, 2]),
             helper.make_node("Transpose", ["t1"], ["t2"], perm=[0, 2, 1]),
             helper.make_node("Relu", ["t2"], ["r"]),
             helper.make_node("Identity", ["r"], ["y1"]), helper.make_node("Identity", ["r"], ["y2"])]
    m = make_model(nodes, [tensor("x", [2, 3, 4])], [tensor("y1", None), tensor("y2", None)])
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    expected = run(m, {"x": x})
    result = PASSES["simplify"](copy(m))
    assert ops(result.model).count("Transpose") == 1 and ops(result.model).count("Identity") == 1
    for e, g in zip(expected, run(result.model, {"x": x})):
        np.testing.assert_array_equal(e, g)


def test_runner_normalises_big_models_in_place(monkeypatch):
    from trtlab.surgery import pipeline as surgeon

    monkeypatch.setattr(surgeon, "GS_NORMALIZE_LIMIT", 0)
    m = _chain()
    out, result = surgeon.run_pipeline(m, [surgeon.Step("toposort")])
    assert result.passed and "Abs" not in ops(out)
