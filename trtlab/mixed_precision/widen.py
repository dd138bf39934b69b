"""Faithful CPU runs of any FP16/BF16 model, whoever wrote it (trtlab, ModelOpt AutoCast, a converter).

onnxruntime's CPU provider has few FP16 kernels: it runs FP16 nodes in FP32 and removes the Casts between them,
so an FP16 model on CPU looks more accurate than it is (a sum that overflows 65504 does not overflow). ``widen``
rewrites the model to FP32 arithmetic that still *stores* every half tensor in half: each half tensor is produced
in FP32 and passed through ``Cast(half) -> Cast(float)`` under its own name; half weights become the same values in
FP32 (exact). onnxruntime keeps explicit Cast pairs, so overflow, underflow and rounding show where the model
stores half. ``low_precision_share`` measures a mixed model: the share of its float compute (multiply-adds of
Conv/MatMul/Gemm, output elements elsewhere) in nodes that produce half tensors.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtlab.mixed_precision.sim import HALF_TYPES
from trtlab.precision import known_types

FLOAT = TensorProto.FLOAT


def _float_tensor(t: TensorProto) -> TensorProto:
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name)


def widen(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` in FP32 arithmetic with half storage kept (see the module docstring); main graph only."""
    types = known_types(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    for i, t in enumerate(g.initializer):
        if t.data_type in HALF_TYPES:
            g.initializer[i].CopyFrom(_float_tensor(t))
    new_nodes = []
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type in HALF_TYPES:
                a.t.CopyFrom(_float_tensor(a.t))
        new_nodes.append(node)
        for idx, name in enumerate(node.output):
            half = types.get(name)
            if not name or half not in HALF_TYPES:
                continue
            raw = f"{name}__widen_raw"
            node.output[idx] = raw
            if node.op_type == "Cast":  # already rounds to half: only the widening back is new
                new_nodes.append(onnx.helper.make_node("Cast", [raw], [name], to=FLOAT, name=f"{name}__widen_back"))
                continue
            new_nodes.append(onnx.helper.make_node("Cast", [raw], [f"{name}__widen_h"], to=half,
                                                   name=f"{name}__widen_half"))
            new_nodes.append(onnx.helper.make_node("Cast", [f"{name}__widen_h"], [name], to=FLOAT,
                                                   name=f"{name}__widen_back"))
    del g.node[:]
    g.node.extend(new_nodes)
    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type in HALF_TYPES:
            vi.type.tensor_type.elem_type = FLOAT
    del g.value_info[:]
    return out


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
