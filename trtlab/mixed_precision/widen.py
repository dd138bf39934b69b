"""Faithful CPU runs of any FP16/BF16 model, whoever wrote it (trtlab, ModelOpt AutoCast, a converter).

onnxruntime's CPU provider has few FP16 kernels: it runs FP16 nodes in FP32 and removes the Casts between them,
so an FP16 model on CPU looks more accurate than it is (a sum that overflows 65504 does not overflow). ``widen``
(``trtlab.precision.widen``) rewrites the model to FP32 arithmetic that still *stores* every half tensor in half;
onnxruntime keeps explicit Cast pairs, so overflow, underflow and rounding show where the model stores half.
``low_precision_share`` measures a mixed model: the share of its float compute (multiply-adds of Conv/MatMul/Gemm,
output elements elsewhere) in nodes that produce half tensors.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from trtlab import precision
from trtlab.mixed_precision.sim import HALF_TYPES
from trtlab.precision import known_types

FLOAT = TensorProto.FLOAT


def widen(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` in FP32 arithmetic with half storage kept (``trtlab.precision.widen``, which surgeon's
    verification uses too)."""
    return precision.widen(model)


def low_precision_share(model: onnx.ModelProto) -> float:
    """Share of float compute in nodes that produce half tensors (Casts not counted)."""
    from trtlab.model import infer_shapes

    inferred, _ = infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in dims]
    for t in inferred.graph.initializer:
        shapes[t.name] = list(t.dims)
    types = known_types(model)
    half = total = 0.0
    for node in model.graph.node:
        outs = [o for o in node.output if types.get(o) in HALF_TYPES | {FLOAT}]
        if node.op_type == "Cast" or not outs:
            continue
        elems = float(np.prod(shapes.get(outs[0], [1]) or [1]))
        k = 1.0
        if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1 and node.input[1] in shapes:
            k = float(np.prod(shapes[node.input[1]][1:]))
        elif node.op_type in ("MatMul", "Gemm") and node.input[0] in shapes and shapes[node.input[0]]:
            k = float(shapes[node.input[0]][-1])
        cost = elems * k
        total += cost
        if any(types.get(o) in HALF_TYPES for o in outs):
            half += cost
    return half / total if total else 0.0
