"""FP16/BF16 risk analysis: what each node's tensors look like in FP32, and the error it introduces in half.

One FP32 run (the reference backend, every main-graph tensor exposed, in groups that bound memory) gives per node
output: the absolute maximum, values above the half format's maximum (overflow, or saturation at 65504), the
fraction of non-zero values that flush to zero or land in subnormals, and the node's input shapes (long
reductions: ReduceSum/Mean, Softmax, LayerNorm, MatMul/Gemm/Conv with a large K). Its weights: the fraction of
non-zero values that become zero or subnormal, values clipped at 65504. The same run carries a shadow copy of
every half node fed the exact FP32 values of its inputs, rounded as the node alone in half would read them, with
its outputs rounded as it would store them (``sim.local_model``): the relative error of the shadow's output is
what the node *introduces* on its own, whatever runs before it (the layer-wise pass). A second shadow rounds only
the activations a node reads: that loss is its producers' half storage too (``x + 16`` stored in half loses what
``- 16`` then reads), so a producer also carries the worst such loss among its half consumers (``consumers``)
where it is several times what the producer introduces itself (cancellation): it then ranks beside them, and
keeping the pair removes the loss. The all-half simulation, added to the same run (its tensors renamed, errors
summed in the graph), gives each tensor's accumulated relative error (``error``). The score ranks the nodes; the
reasons say why, in words.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from trtlab import backends
from trtlab.mixed_precision.sim import FLOAT_TYPES, HalfPlan, add_all_half, interleave, local_model, round_array

LIMITS = {  # max finite, smallest normal, smallest subnormal
    "fp16": (65504.0, 2.0 ** -14, 2.0 ** -24),
    "bf16": (3.3895e38, 1.1755e-38, 9.1835e-41),
}
REDUCE_OPS = {"ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
              "ReduceLogSumExp", "GlobalAveragePool"}
LONG_REDUCTION = 1024
LONG_DOT = 4096
GROUP_BYTES = 512 << 20
CANCEL = 4  # a consumer losing this many times what the producer introduces: cancellation (x + 16 - 16)


@dataclass
class NodeRisk:
    node: str
    op: str
    half: bool  # the to-fp16 pass runs it in half precision
    tensor: str | None = None
    absmax: float | None = None
    overflow: int = 0
    underflow: float = 0.0  # fraction of non-zero values that flush to zero in half
    subnormal: float = 0.0  # fraction of non-zero values that are subnormal in half
    weight_underflow: float = 0.0
    weight_clipped: int = 0
    reduction: int | None = None
    reads_overflow: int = 0  # values above the maximum in its activation inputs (FP32 run)
    reads_subnormal: float = 0.0
    error: float | None = None  # relative RMS error of its output in the all-half simulation
    introduced: float | None = None  # relative error of its output with exact inputs, itself alone in half
    consumers: float | None = None  # worst relative error its half consumers get from reading its output in half
    cost: float = 0.0  # multiply-adds (Conv/MatMul/Gemm) or output elements
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        infinite_ok = ("introduced", "consumers")
        return {k: (None if isinstance(v, float) and not math.isfinite(v) and k not in infinite_ok else v)
                for k, v in asdict(self).items()}


HAZARD = 100.0  # a score this high: overflow, non-finite values or clipped weights


def search_order(risks: list[NodeRisk], graph_order: dict[str, int]) -> list[str]:
    """The half nodes in the order the search keeps them in FP32: hazards first (by score), then by score per
    unit of compute (multiply-adds): where error is spread over every layer, the cheap nodes that carry it are
    kept before the Convs whose FP16 share the result is measured by."""
    def key(r: NodeRisk):
        if r.score >= HAZARD:
            return (0, -r.score, graph_order[r.node])
        return (1, -r.score / max(r.cost, 1.0), graph_order[r.node])

    return [r.node for r in sorted((r for r in risks if r.half), key=key)]


def tensor_groups(model: onnx.ModelProto, names: list[str], budget: int = GROUP_BYTES,
                  copies: int = 2) -> list[list[str]]:
    """``names`` split so that each group's tensors, ``copies`` of each (shape-inferred sizes; unknown = 4 MB),
    fit ``budget``."""
    from trtlab.model import infer_shapes

    inferred, _ = infer_shapes(model)
    size: dict[str, int] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            size[vi.name] = 4 * int(np.prod([d.dim_value for d in dims]))
    groups: list[list[str]] = [[]]
    used = 0
    for name in names:
        b = size.get(name, 4 << 20)
        if groups[-1] and used + copies * b > budget:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += copies * b
    return [g for g in groups if g]


def rel_error(ref: np.ndarray, out: np.ndarray) -> float:
    r = ref.astype(np.float64, copy=False)
    o = out.astype(np.float64, copy=False)
    bad = np.isfinite(r) & ~np.isfinite(o)
    if bad.any():
        return math.inf
    ok = np.isfinite(r)
    num = float(np.sum((o[ok] - r[ok]) ** 2))
    den = float(np.sum(r[ok] ** 2))
    return math.sqrt(num / den) if den > 0 else (0.0 if num == 0 else math.inf)


def analyze(model: onnx.ModelProto, plan: HalfPlan, feeds: dict, ref_spec, counts: dict,
            say=None) -> list[NodeRisk]:
    """Rank the main-graph float nodes of ``model`` by FP16/BF16 risk (see the module docstring)."""
    maxv, normal, tiny = LIMITS[plan.precision]
    tensors = [o for n in model.graph.node for o in n.output if o and plan.types.get(o) in FLOAT_TYPES]
    local, own_sums, read_sums = local_model(model, plan)
    acc_sums = add_all_half(local, model, plan)
    interleave(local, len(model.graph.node))
    pairs = list(own_sums.values()) + list(read_sums.values()) + list(acc_sums.values())
    sums = _run(local, ref_spec, sorted({n for pair in pairs for n in pair}), feeds, counts) if pairs else {}
    own = {t: _ratio(sums, pair) for t, pair in own_sums.items()}  # relative error its producer introduces alone
    read = {t: _ratio(sums, pair) for t, pair in read_sums.items()}  # its producer's loss from rounding its reads
    errors = {t: _ratio(sums, pair) for t, pair in acc_sums.items()}  # accumulated, everything in half
    stats: dict[str, dict] = {}
    shapes: dict[str, tuple] = {k: tuple(v.shape) for k, v in feeds.items()}
    for k, v in feeds.items():
        if v.dtype.kind == "f":
            errors[k] = rel_error(v, round_array(v, plan.precision))
    groups = tensor_groups(model, tensors, copies=1)  # only the FP32 values are held: the errors are sums
    for gi, group in enumerate(groups):
        if say:
            say(f"risk analysis: tensor group {gi + 1}/{len(groups)} ({len(group)} tensors)")
        ref_vals = _run(model, ref_spec, group, feeds, counts)
        for name in group:
            if name not in ref_vals:
                continue
            r = ref_vals.pop(name)
            shapes[name] = tuple(r.shape)
            stats[name] = _tensor_stats(r, maxv, normal, tiny)
    inits = {t.name: t for t in model.graph.initializer}
    for t in inits.values():
        shapes[t.name] = tuple(t.dims)
    floats = set(plan.float_nodes)
    consumers = _consumer_read(model, plan, read)
    return [_node_risk(n, plan, stats, shapes, errors, own, consumers, inits, maxv, normal) for n in model.graph.node
            if n.name in floats]


def _consumer_read(model, plan: HalfPlan, read: dict[str, float]) -> dict[str, float]:
    """Per tensor: the worst relative error a half consumer's output gets from rounding its reads."""
    worst: dict[str, float] = {}
    for node in model.graph.node:
        slots = plan.slots.get(node.name)
        err = max((read[o] for o in node.output if o in read), default=None)
        if not slots or err is None:
            continue
        for i in slots[0]:
            worst[node.input[i]] = max(worst.get(node.input[i], 0.0), err)
    return worst


def _ratio(sums: dict, pair: tuple[str, str]) -> float:
    """sqrt(error sum of squares / reference sum of squares); non-finite error: infinite."""
    num, den = (float(np.asarray(sums[n])) for n in pair)
    if not math.isfinite(num):
        return math.inf
    if den > 0 and math.isfinite(den):
        return math.sqrt(num / den)
    return 0.0 if num == 0 else math.inf


def _run(model, spec, names, feeds, counts) -> dict:
    with backends.create(spec) as b:
        b.load(model, names)
        counts["sessions"] = counts.get("sessions", 0) + 1
        counts["analysis_runs"] = counts.get("analysis_runs", 0) + 1
        return b.run(feeds)


def _tensor_stats(a: np.ndarray, maxv: float, normal: float, tiny: float) -> dict:
    if a.dtype.kind != "f" or a.size == 0:
        return {"absmax": None, "overflow": 0, "underflow": 0.0, "subnormal": 0.0}
    x = np.abs(a[np.isfinite(a)]).astype(np.float32, copy=False)
    nz = x[x > 0]
    return {"absmax": float(x.max()) if x.size else None, "overflow": int(np.count_nonzero(x > maxv)),
            "underflow": float(np.count_nonzero(nz < tiny / 2) / nz.size) if nz.size else 0.0,
            "subnormal": float(np.count_nonzero(nz < normal) / nz.size) if nz.size else 0.0}


def _node_risk(node, plan, stats, shapes, errors, own, consumers, inits, maxv, normal) -> NodeRisk:
    outs = [o for o in node.output if o in stats]
    risk = NodeRisk(node=node.name, op=node.op_type, half=node.name in plan.slots, tensor=outs[0] if outs else None)
    for o in outs:
        s = stats[o]
        risk.absmax = max(risk.absmax or 0.0, s["absmax"] or 0.0)
        risk.overflow += s["overflow"]
        risk.underflow = max(risk.underflow, s["underflow"])
        risk.subnormal = max(risk.subnormal, s["subnormal"])
    _weights(risk, node, inits, plan, maxv, normal)
    read = [stats[i] for i in node.input if i in stats]
    risk.reads_overflow = sum(s["overflow"] for s in read)
    risk.reads_subnormal = max((s["subnormal"] for s in read), default=0.0)
    risk.reduction, risk.cost = _reduction_and_cost(node, shapes)
    risk.error = max((errors.get(o, 0.0) for o in node.output if o in errors), default=None)
    risk.introduced = max((own[o] for o in node.output if o in own), default=None)
    if risk.half:
        risk.consumers = max((consumers[o] for o in node.output if o in consumers), default=None)
    _score(risk, maxv, plan.precision)
    return risk


def _weights(risk, node, inits, plan, maxv, normal) -> None:
    for name in node.input:
        t = inits.get(name)
        if t is None or t.data_type != onnx.TensorProto.FLOAT:
            continue
        a = np.abs(numpy_helper.to_array(t))
        nz = a[a > 0]
        if nz.size:
            risk.weight_underflow = max(risk.weight_underflow, float(np.count_nonzero(nz < normal) / nz.size))
        risk.weight_clipped += int(np.count_nonzero(a[np.isfinite(a)] > maxv))


def _reduction_and_cost(node, shapes) -> tuple[int | None, float]:
    out_shape = next((shapes[o] for o in node.output if o in shapes), None)
    out_elems = float(np.prod(out_shape)) if out_shape is not None else 0.0
    ins = [shapes.get(i) for i in node.input]
    first = ins[0] if ins else None
    op = node.op_type
    if op in ("Conv", "ConvTranspose") and len(ins) > 1 and ins[1]:
        k = int(np.prod(ins[1][1:]))
        return k, out_elems * k
    if op in ("MatMul", "Gemm") and first:
        trans = op == "Gemm" and any(a.name == "transA" and a.i for a in node.attribute)
        k = int(first[0] if trans and len(first) > 1 else first[-1])
        return k, out_elems * k
    if op in REDUCE_OPS and first is not None and out_elems:
        return int(np.prod(first) / out_elems), float(np.prod(first))
    if op in ("Softmax", "LogSoftmax") and first:
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        return int(first[axis]), out_elems
    if op == "LayerNormalization" and first:
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        return int(np.prod(first[axis:])), out_elems
    return None, out_elems


def _score(r: NodeRisk, maxv: float, precision: str) -> None:
    reasons, score = r.reasons, 0.0
    if r.overflow:
        score += 100
        reasons.append(f"{r.overflow} value(s) > {maxv:g}, max {r.absmax:.3g}")
    if r.reads_overflow:
        score += 100
        reasons.append(f"reads {r.reads_overflow} value(s) > {maxv:g}")
    if r.reads_subnormal >= 0.05:
        score += r.reads_subnormal
        reasons.append(f"reads values {r.reads_subnormal:.0%} subnormal")
    if r.weight_clipped:
        score += 100
        reasons.append(f"{r.weight_clipped} weight value(s) > {maxv:g}")
    if r.underflow >= 0.01:
        score += 10 * r.underflow
        reasons.append(f"{r.underflow:.0%} of non-zero values flush to 0")
    elif r.subnormal >= 0.05:
        score += r.subnormal
        reasons.append(f"{r.subnormal:.0%} of non-zero values subnormal")
    if r.weight_underflow >= 0.01:
        score += 10 * r.weight_underflow
        reasons.append(f"{r.weight_underflow:.0%} of non-zero weights subnormal or 0")
    long = LONG_DOT if r.op in ("MatMul", "Gemm", "Conv", "ConvTranspose") else LONG_REDUCTION
    if r.reduction and r.reduction >= long and r.op not in ("Conv", "ConvTranspose"):
        score += 0.05 * math.log2(r.reduction / 256)
        reasons.append(f"long reduction ({r.reduction} terms)")
    if r.op in ("Pow", "Exp"):
        score += 0.05
        reasons.append(f"{r.op} amplifies relative error")
    own, via = r.introduced or 0.0, r.consumers or 0.0
    if via < CANCEL * own:
        via = 0.0  # its consumers lose about what it loses itself: no reason to rank it above its own error
    if math.isinf(own) or math.isinf(via):
        score += 1000
        reasons.append("introduces non-finite values" if math.isinf(own) else
                       "its half consumers get non-finite values reading its output in half")
    elif own > 0 or via > 0:
        score += 100 * max(own, via)
        if own >= 1e-3:
            reasons.append(f"introduces {own:.2%} relative error")
        if via >= 1e-3:
            reasons.append(f"its half consumers lose {via:.2%} reading its output in half")
    r.score = score
