"""A cut never turns computed shape arithmetic into an INT64 graph input (TensorRT refuses those as shape
tensors, a different failure from the one being reduced): the Shape chain comes along, its activation is the
input."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from trtlab.reducer.graph import Plan


def _model() -> onnx.ModelProto:
    nodes = [
        h.make_node("Relu", ["x"], ["a"], name="relu"),
        h.make_node("Shape", ["a"], ["s"], name="shape"),
        h.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsq"),
        h.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        h.make_node("Reshape", ["a", "target"], ["r"], name="reshape"),
        h.make_node("Sigmoid", ["r"], ["y"], name="sigmoid"),
    ]
    inits = [h.make_tensor("zero", T.INT64, [], [0]), h.make_tensor("ax0", T.INT64, [1], [0]),
             h.make_tensor("minus1", T.INT64, [1], [-1])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["N", 3, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 12])], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_the_shape_chain_comes_with_its_reader():
    plan = Plan.of(_model())
    names = [plan.model.graph.node[i].name for i in plan.order]
    cand = plan.candidate([names.index("reshape")])
    ins = {vi.name: vi.type.tensor_type.elem_type for vi in cand.proto.graph.input}
    assert ins == {"a": T.FLOAT}
    kept = {n.name for n in cand.proto.graph.node}
    assert {"shape", "gather", "unsq", "concat", "reshape"} <= kept and "relu" not in kept
    onnx.checker.check_model(cand.proto, full_check=True)
    sess = ort.InferenceSession(cand.proto.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"a": np.ones((2, 3, 4), np.float32)})[0]
    assert out.shape == (2, 12)


def test_the_cut_candidate_parses_in_tensorrt():
    pytest.importorskip("tensorrt_rtx")
    from trtlab.model import LoadedModel
    from trtlab.trt import module
    from trtlab.trt.check import run_check

    plan = Plan.of(_model())
    names = [plan.model.graph.node[i].name for i in plan.order]
    cand = plan.candidate([names.index("reshape"), names.index("sigmoid")])
    result = run_check(module.load("tensorrt_rtx"), LoadedModel(proto=cand.proto, path=None))
    assert result.parseable, result.errors


def test_a_shape_node_is_still_a_work_node():
    plan = Plan.of(_model())
    names = [plan.model.graph.node[i].name for i in plan.order]
    assert "shape" in names and "concat" in names  # bisection may still cut them out when nobody needs them
    cand = plan.candidate([names.index("sigmoid")])
    assert [n.name for n in cand.proto.graph.node] == ["sigmoid"]
