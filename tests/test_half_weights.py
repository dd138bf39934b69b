"""FP16 simulation with weights held apart: no rounded copies are held; a Cast pair rounds each weight right before
its first reader, and a Gather from a table rounds only the rows it gathers. Values must equal plain rounding."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtlab import weights
from trtlab.backends import create, parse_spec


def _embedding_model():
    """Gather from a table (embedding) + MatMul with a weight + the table also a graph output."""
    rng = np.random.default_rng(0)
    table = (rng.standard_normal((300, 64)) * 3).astype(np.float32)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="gather"),
             helper.make_node("MatMul", ["emb", "w"], ["y"], name="mm")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, [5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 64]),
                               helper.make_tensor_value_info("table", TensorProto.FLOAT, [300, 64])],
                              [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(proto, names):
    with create(parse_spec("onnxrt:fp16")) as b:
        b.load(proto, names)
        return b.run({"ids": np.array([0, 7, 299, 3, 7], np.int64)}), dict(b.info)


def test_half_held_weights_give_the_values_of_rounded_weights():
    model = _embedding_model()
    want, _ = _run(model, ["emb"])  # no sharing: initializers rounded in the proto
    light, token = weights.share_weights(model, min_bytes=1024)
    try:
        got, info = _run(light, ["emb"])
        assert info["shared_weights_bytes"] == (300 * 64 + 64 * 64) * 4  # the shared arrays themselves
        assert not weights.tokens(light) ^ {t for t in weights._STORE if t == token}
    finally:
        weights.release(token)
    assert set(got) == set(want) == {"y", "table", "emb"}
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert np.array_equal(got["table"], want["table"]) and got["table"].dtype == np.float32


def test_gather_reads_the_half_table_directly():
    from trtlab.precision import round_to_half

    light, token = weights.share_weights(_embedding_model(), min_bytes=1024)
    try:
        out, _ = round_to_half(light, "fp16")
        gather = next(n for n in out.graph.node if n.op_type == "Gather")
        assert gather.input[0] == "table"  # the shared FP32 table: rows rounded after the Gather, no table copy
        matmul = next(n for n in out.graph.node if n.op_type == "MatMul")
        assert matmul.input[1] == "w__trtlab_r16"
        assert weights.tokens(out) - weights.tokens(light)  # only "table", also a graph output, got a copy
        assert onnx.checker.check_model(weights.materialize(out)) is None
        for token_ in weights.tokens(out) - weights.tokens(light):
            weights.release(token_)
    finally:
        weights.release(token)
