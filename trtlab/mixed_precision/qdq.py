"""Per-pair quantization error of a Q/DQ model (INT8/FP8 QuantizeLinear -> DequantizeLinear pairs).

For every Q -> DQ pair: its own error is the SQNR of the float model's value of the tensor (matched by name)
against that value quantized and dequantized with the pair's scale and zero point (NumPy, as the spec rounds):
what the pair loses alone, free of upstream error and of what the quantizer folded into the range (a Relu before a
uint8 Q is dropped from the Q/DQ graph, so comparing the Q input with the DQ output, as onnxruntime's
``qdq_loss_debug`` does, would count the Relu as error). The accumulated error is the SQNR of the DQ output in the
Q/DQ model against the same float value: everything lost up to that point.
Weight pairs (DequantizeLinear of a constant) are compared with the float model's weight, found through the
consumer node of the same name. Ranked by own SQNR, worst first; the consumers of the worst pairs form an
exclusion list in ModelOpt's ``--nodes_to_exclude`` form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from trtlab import backends


@dataclass
class Pair:
    dq_node: str
    dq_output: str
    tensor: str | None  # the float tensor quantized (activation pairs)
    weight: str | None  # the float model's weight (weight pairs)
    consumers: list[str]
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int = 1


def fake_quant(x: np.ndarray, p: Pair) -> np.ndarray | None:
    """``x`` quantized and dequantized with the pair's parameters (integer zero points; None otherwise)."""
    if p.scale is None:
        return None
    zp = p.zero_point if p.zero_point is not None else np.zeros((), np.uint8)
    if zp.dtype.kind not in "iu":
        return None  # FP8 and other float formats: not modelled here
    info = np.iinfo(zp.dtype)
    scale, zpf = p.scale.astype(np.float64), zp.astype(np.float64)
    if scale.ndim == 1 and scale.size > 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[p.axis % x.ndim] = scale.size
        scale, zpf = scale.reshape(shape), zpf.reshape(shape)
    q = np.clip(np.rint(x.astype(np.float64) / scale) + zpf, info.min, info.max)
    return (q - zpf) * scale


def find_pairs(qdq: onnx.ModelProto, float_model: onnx.ModelProto) -> list[Pair]:
    producer = {o: n for n in qdq.graph.node for o in n.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in qdq.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    float_nodes = {n.name: n for n in float_model.graph.node if n.name}
    float_inits = {t.name for t in float_model.graph.initializer}
    consts = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    pairs = []
    for i, node in enumerate(qdq.graph.node):
        if node.op_type != "DequantizeLinear":
            continue
        q = producer.get(node.input[0])
        consumers = readers.get(node.output[0], [])
        tensor = q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None
        weight = None
        if tensor is None:
            for c in consumers:
                f = float_nodes.get(c.name)
                slot = list(c.input).index(node.output[0])
                if f is not None and slot < len(f.input) and f.input[slot] in float_inits:
                    weight = f.input[slot]
                    break
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        pairs.append(Pair(node.name or f"DequantizeLinear_{i}", node.output[0], tensor, weight,
                          [c.name for c in consumers if c.name], consts.get(node.input[1]),
                          consts.get(node.input[2]) if len(node.input) > 2 else None, axis))
    return pairs


def sqnr_db(signal: float, noise: float) -> float | None:
    if noise <= 0:
        return None  # exact
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def qdq_table(float_model: onnx.ModelProto, qdq: onnx.ModelProto, spec, samples: list[dict],
              worst: int = 5) -> tuple[list[dict], list[str]]:
    """Rows (worst own SQNR first) and the exclusion list (regexes of the worst pairs' consumers)."""
    pairs = find_pairs(qdq, float_model)
    if not pairs:
        return [], []
    acts = [p.tensor for p in pairs if p.tensor]
    q_names = list(dict.fromkeys(acts + [p.dq_output for p in pairs]))
    sums = {p.dq_node: [0.0, 0.0, 0.0, 0.0, 0] for p in pairs}  # own signal, noise, acc signal, noise, seen
    weights = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in float_model.graph.initializer
               if any(p.weight == t.name for p in pairs)}
    with backends.create(spec) as qb, backends.create(spec) as fb:
        qb.load(qdq, q_names)
        fb.load(float_model, acts)
        for feeds in samples:
            qv, fv = qb.run(feeds), {**feeds, **fb.run(feeds)}
            for p in pairs:
                dq = qv.get(p.dq_output)
                if dq is None:
                    continue
                dq = dq.astype(np.float64)
                ref = fv.get(p.tensor) if p.tensor else weights.get(p.weight)
                if ref is None and p.tensor:
                    ref = qv.get(p.tensor)  # not in the float model by name: the Q/DQ model's own input
                s = sums[p.dq_node]
                own = fake_quant(ref, p) if ref is not None else None
                if own is not None and own.shape == ref.shape:
                    s[0] += float(np.sum(ref.astype(np.float64) ** 2))
                    s[1] += float(np.sum((own - ref) ** 2))
                if ref is not None and ref.shape == dq.shape:
                    s[4] += 1
                    s[2] += float(np.sum(ref.astype(np.float64) ** 2))
                    s[3] += float(np.sum((dq - ref) ** 2))
    rows = []
    for p in pairs:
        s = sums[p.dq_node]
        matched = bool(s[4])
        rows.append({"pair": p.dq_node, "tensor": p.tensor or p.weight, "kind": "activation" if p.tensor else "weight",
                     "consumers": p.consumers, "matched": matched,  # a float value was found for the tensor
                     "sqnr_db": _round(sqnr_db(s[0], s[1])) if matched else None,
                     "accumulated_sqnr_db": _round(sqnr_db(s[2], s[3])) if matched else None,
                     "exact": matched and s[1] == 0})
    rows.sort(key=lambda r: (not r["matched"], math.inf if r["sqnr_db"] is None else r["sqnr_db"]))
    exclude = list(dict.fromkeys(f"^{re.escape(c)}$" for r in rows[:worst] if r["matched"] and not r["exact"]
                                 for c in r["consumers"]))
    return rows, exclude


def _round(x):
    return None if x is None else (x if math.isinf(x) else round(x, 2))
