"""Weights held apart and shared by ONNX Runtime sessions give exactly the results of the self-contained model."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import shared_model
from trtlab import weights
from trtlab.backends import create, parse_spec
from trtlab.inputs import plan_inputs, random_feeds
from trtlab.model import load_model


def _run(proto, spec, feeds, outputs=()):
    with create(parse_spec(spec)) as b:
        b.load(proto, list(outputs))
        return b.run(feeds), dict(b.info)


def test_shared_weights_give_identical_results_on_a_real_model():
    model = load_model(shared_model("fastestdet.onnx"))
    feeds = random_feeds(plan_inputs(model.proto.graph), seed=4)
    layers = [o for n in model.proto.graph.node for o in n.output]
    expected = {spec: _run(model.proto, spec, feeds, layers)[0] for spec in ("onnxrt", "onnxrt:fp16", "reference")}
    size = model.proto.ByteSize()
    light, token = weights.share_weights(model.proto)  # consumes model.proto's large initializers
    try:
        assert token and light.ByteSize() < size - 200_000  # fastestdet: ~240 KB in tensors of 64 KiB or more
        for spec, want in expected.items():
            got, info = _run(light, spec, feeds, layers)
            assert set(got) == set(want)
            for name in want:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{spec}: {name}")
            if spec.startswith("onnxrt"):
                assert info["shared_weights_bytes"] > 200_000
        full = weights.materialize(light)
        assert full.ByteSize() > 900_000 and onnx.checker.check_model(full) is None
    finally:
        weights.release(token)
    assert token not in weights._STORE


def test_fp16_rounding_of_shared_weights_releases_its_copy():
    w = numpy_helper.from_array(np.full((128, 128), 70000.0, np.float32), "w")  # 64 KiB, overflows FP16
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    light, token = weights.share_weights(m)
    before = set(weights._STORE)
    y, _ = _run(light, "onnxrt:fp16,fold=0", {"x": np.full((1, 128), 1e-3, np.float32)})
    assert np.isinf(y["y"]).all()  # the plain simulation: the weight itself became inf in FP16
    assert set(weights._STORE) == before  # the rounded copy went with the backend
    y, _ = _run(light, "onnxrt:fp16", {"x": np.full((1, 128), 1e-3, np.float32)})
    assert np.isfinite(y["y"]).all()  # TensorRT-like: out-of-range weights are clamped to 65504, not Inf
    assert set(weights._STORE) == before
    weights.release(token)
