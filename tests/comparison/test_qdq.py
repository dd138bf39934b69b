"""Q/DQ models: `compare FLOAT --target-model QDQ --layerwise` adds the per-pair SQNR table."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import shared_model
from trtlab.mixed_precision.qdq import Pair, fake_quant, sqnr_db


@pytest.mark.parametrize("zp_dtype,axis_scale", [(np.uint8, None), (np.int8, [0.02, 0.05, 0.1])])
def test_fake_quant_matches_onnxruntime(zp_dtype, axis_scale):
    import onnxruntime as ort

    scale = np.array(axis_scale if axis_scale else 0.03, np.float32)
    zp = np.array([3] * scale.size if axis_scale else 3, zp_dtype)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
                          [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    x = np.random.default_rng(0).normal(0, 2, (2, 3, 4)).astype(np.float32)
    y = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ours = fake_quant(x, Pair("dq", "y", "x", None, [], scale, zp, 1))
    np.testing.assert_allclose(ours, y, atol=1e-6)
    assert sqnr_db(1.0, 0.0) is None and sqnr_db(100.0, 1.0) == pytest.approx(20.0)


def test_qdq_table_on_a_quantize_static_model(cli, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    src = shared_model("mnist_opt.onnx")
    model = onnx.load(str(src))
    inp = model.graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{inp.name: np.random.default_rng(i).uniform(0, 1, shape).astype(np.float32)}
                            for i in range(4)])

        def get_next(self):
            return next(self.it, None)

    qdq = tmp_path / "qdq.onnx"
    quantize_static(str(src), str(qdq), Reader(), quant_format=QuantFormat.QDQ)
    r = cli("compare", str(src), "--target-model", str(qdq), "--layerwise", "--atol", "0.5", "--rtol", "0.5",
            "--out", str(tmp_path / "run"), "--no-report", "--json")
    assert r.code in (0, 1), r.err
    res = json.loads(r.out)
    rows = res["qdq"]
    assert {row["kind"] for row in rows} == {"activation", "weight"}
    matched = [row for row in rows if row["matched"]]
    assert len(matched) >= len(rows) - 2  # the quantizer's reshaped Gemm weights have no float twin by name
    assert all(row["sqnr_db"] is not None and 5 < row["sqnr_db"] < 100 for row in matched)
    assert matched == sorted(matched, key=lambda row: row["sqnr_db"]) and rows[: len(matched)] == matched
    graph_input = next(row for row in rows if row["tensor"] == "Input3")
    assert graph_input["matched"] and graph_input["sqnr_db"] > 30
    names = {n.name for n in onnx.load(str(qdq)).graph.node}
    assert res["qdq_exclude"] and all(p.strip("^$").replace("\\", "") in names for p in res["qdq_exclude"])
