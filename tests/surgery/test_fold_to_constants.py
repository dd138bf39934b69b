"""A model that folds down to constants is still written, loadable and verified: its outputs get Identity nodes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h


def _all_constant() -> onnx.ModelProto:
    a = h.make_tensor("a", T.FLOAT, [2, 3], np.arange(6, dtype=np.float32).tolist())
    nodes = [h.make_node("Constant", [], ["b"], value=h.make_tensor("bv", T.FLOAT, [3], [1.0, 2.0, 3.0])),
             h.make_node("Add", ["a", "b"], ["y"], name="add")]
    g = h.make_graph(nodes, "g", [], [h.make_tensor_value_info("y", T.FLOAT, [2, 3])], [a])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_a_fully_folded_model_is_written_with_identity_outputs(cli, tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(_all_constant(), str(src))
    r = cli("surgeon", str(src), "--fold-constants", "-o", "f.onnx", "--out", "run", "--verify")
    assert r.code == 0, r
    out = onnx.load(str(tmp_path / "f.onnx"))
    assert [n.op_type for n in out.graph.node] == ["Identity"] and out.graph.node[0].output == ["y"]
    onnx.checker.check_model(out, full_check=True)
    y = ort.InferenceSession(out.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})[0]
    np.testing.assert_array_equal(y, np.arange(6, dtype=np.float32).reshape(2, 3) + [1, 2, 3])
