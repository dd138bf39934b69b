"""Models built in code with planted FP16 hazards among many harmless nodes (mixed-precision search tests)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTH = 64
# The nodes that must stay FP32: the sum that overflows 65504 and the node that reads it; the scale into FP16
# subnormals and the one that scales back (its weight, 1e6, is beyond FP16's range).
HAZARD_NODES = {"overflow_sum", "overflow_rescale", "subnormal_scale", "subnormal_unscale"}


def _harmless(nodes, inits, x: str, prefix: str, count: int, rng) -> str:
    """``count`` nodes that FP16 storage rounds but does not break: small biases, gains near 1, Relu, Abs."""
    for i in range(count):
        name = f"{prefix}_{i}"
        kind = i % 4
        if kind in (0, 1):
            c = (rng.uniform(-0.05, 0.05, WIDTH) if kind == 0 else rng.uniform(0.9, 1.1, WIDTH)).astype(np.float32)
            inits.append(numpy_helper.from_array(c, f"{name}_c"))
            nodes.append(helper.make_node("Add" if kind == 0 else "Mul", [x, f"{name}_c"], [name], name=name))
        elif kind == 2:
            nodes.append(helper.make_node("Relu", [x], [name], name=name))
        else:
            nodes.append(helper.make_node("Abs", [x], [name], name=name))
        x = name
    return x


def planted_hazard_model(harmless: int = 120, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    h = _harmless(nodes, inits, "x", "pre", harmless // 2, rng)
    # an overflowing sum: 64 values of ~1000-8000 add up beyond 65504; divided back into range right after
    nodes.append(helper.make_node("Mul", [h, const("gain", 8000.0)], ["big"], name="gain_up"))
    nodes.append(helper.make_node("ReduceSum", ["big", "axes_i"], ["total"], name="overflow_sum", keepdims=1))
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "axes_i"))
    nodes.append(helper.make_node("Div", ["total", const("norm", 32768.0)], ["mean"], name="overflow_rescale"))
    nodes.append(helper.make_node("Add", [h, "mean"], ["h1"], name="join_mean"))
    # a subnormal-heavy scale: x * 1e-6 lives in FP16 subnormals; scaled back by 1e6 (beyond FP16's range)
    nodes.append(helper.make_node("Mul", ["h1", const("tiny", 1e-6)], ["small"], name="subnormal_scale"))
    nodes.append(helper.make_node("Mul", ["small", const("huge", 1e6)], ["back"], name="subnormal_unscale"))
    y = _harmless(nodes, inits, "back", "post", harmless - harmless // 2, rng)
    nodes.append(helper.make_node("Identity", [y], ["y"], name="out"))
    return _model(nodes, inits, "planted_hazards")


def harmless_model(count: int = 40, seed: int = 0) -> onnx.ModelProto:
    """Only harmless nodes: FP16 storage meets the FP16 tolerances with nothing kept."""
    nodes, inits = [], []
    y = _harmless(nodes, inits, "x", "h", count, np.random.default_rng(seed))
    nodes.append(helper.make_node("Identity", [y], ["y"], name="out"))
    graph = helper.make_graph(nodes, "harmless", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, WIDTH])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, WIDTH])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def spread_error_model(harmless: int = 120, loud: int = 3, offset: float = 16.0, seed: int = 0) -> onnx.ModelProto:
    """Error spread over every layer: ``harmless`` nodes that each add a little FP16 rounding error (together about
    50 dB SNR), with ``loud`` pairs spread along the chain (``x + 16 - 16``: FP16 keeps x to 2^-7) that each add
    several times more. Only keeping every loud pair brings the model to 44 dB."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "x"
    per = harmless // (loud + 1)
    for k in range(loud + 1):
        x = _harmless(nodes, inits, x, f"h{k}", per if k < loud else harmless - loud * per, rng)
        if k == loud:
            break
        inits.append(numpy_helper.from_array(np.array(offset, np.float32), f"offset_{k}"))
        nodes.append(helper.make_node("Add", [x, f"offset_{k}"], [f"up_{k}"], name=f"loud_up_{k}"))
        nodes.append(helper.make_node("Sub", [f"up_{k}", f"offset_{k}"], [f"down_{k}"], name=f"loud_down_{k}"))
        x = f"down_{k}"
    nodes.append(helper.make_node("Identity", [x], ["y"], name="out"))
    return _model(nodes, inits, "spread_error")


def loud_nodes(loud: int = 3) -> set[str]:
    return {f"loud_{d}_{k}" for k in range(loud) for d in ("up", "down")}


def _model(nodes, inits, name: str) -> onnx.ModelProto:
    """[2, WIDTH] in, [2, WIDTH] out, opset 13, checked."""
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, WIDTH])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, WIDTH])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
