"""Fixtures for the TensorRT tests: the installed module (skip when none), and graphs built in code."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h


@pytest.fixture(scope="session")
def trt():
    from trtlab.errors import TrtlabError
    from trtlab.trt.module import load

    try:
        return load()
    except TrtlabError as exc:
        pytest.skip(f"no TensorRT module: {exc.problem}")


@pytest.fixture(scope="session")
def executes(trt):
    """Skip unless a TensorRT runtime can execute engines here (GPU tests)."""
    from trtlab.backends.trt import can_execute

    ok, why = can_execute(trt.name)
    if not ok:
        pytest.skip(f"no TensorRT runtime can execute engines here: {why}")
    return trt


@pytest.fixture(scope="session")
def cuda_device():
    """Skip unless cuda-python can see an NVIDIA GPU (no TensorRT needed)."""
    try:
        from cuda.bindings import runtime  # noqa: F401
    except ImportError:
        pytest.skip("cuda-python (cuda.bindings) is not installed")
    from trtlab.trt.cuda import device_info

    info = device_info()
    if not info.gpus:
        pytest.skip(f"no CUDA GPU: {info.error}")
    return info


def loaded(proto):
    from trtlab.model import LoadedModel

    return LoadedModel(proto=proto, path=None, label=proto.graph.name)


def conv_integer_model():
    x = h.make_tensor_value_info("x", T.UINT8, [1, 1, 5, 5])
    y = h.make_tensor_value_info("y", T.INT32, None)
    w = h.make_tensor("w", T.UINT8, [1, 1, 3, 3], np.ones(9, np.uint8).tolist())
    graph = h.make_graph([h.make_node("ConvInteger", ["x", "w"], ["y"], name="conv_int")], "convint", [x], [y], [w])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


def custom_domain_model(import_domain: bool = True):
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = h.make_tensor_value_info("y", T.FLOAT, None)
    nodes = [h.make_node("Relu", ["x"], ["a"], name="relu_in"),
             h.make_node("Swizzle", ["a"], ["b"], name="swizzle", domain="com.acme"),
             h.make_node("Relu", ["b"], ["y"], name="relu_out")]
    opsets = [h.make_opsetid("", 13)] + ([h.make_opsetid("com.acme", 1)] if import_domain else [])
    return h.make_model(h.make_graph(nodes, "custom", [x], [y]), opset_imports=opsets)


def dynamic_relu_model():
    x = h.make_tensor_value_info("x", T.FLOAT, ["batch", 3])
    y = h.make_tensor_value_info("y", T.FLOAT, ["batch", 3])
    graph = h.make_graph([h.make_node("Relu", ["x"], ["y"], name="relu")], "dyn", [x], [y])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])


def save(proto, path):
    onnx.save(proto, str(path))
    return path
