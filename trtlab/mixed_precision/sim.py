"""Which nodes run in half precision after the to-fp16/to-bf16 pass, and a storage simulation of the result.

``plan_half`` converts the model once with an empty keep-list and reads, per node, which input and output slots
the pass made half (from the converted model's types). For a keep-set K the mixed model runs every planned node
not in K in half precision; ``simulate`` builds an FP32 model that rounds exactly those slots
(``Cast(half) -> Cast(float)``): each planned node's float outputs after it, and each half input that is not
already rounded (a weight, a graph input, the output of an FP32 node) before it. Weights are rounded as the pass
stores them (FP16 clipped to +-65504). The simulation runs on any FP32 backend; onnxruntime cannot elide the
Casts (they are explicit), so overflow and underflow show as they would in FP16 storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtlab.passes.to_half import convert_to_half
from trtlab.precision import known_types

HALF = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
HALF_TYPES = set(HALF.values())
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE}
FP16_MAX = 65504.0
SUFFIX = "__mp_"


def name_nodes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy whose main-graph nodes all have unique names (a keep-list names nodes); how many were renamed."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    seen: set[str] = set()
    renamed = 0
    for i, node in enumerate(out.graph.node):
        if not node.name or node.name in seen:
            base = node.name or f"{node.op_type}_{i}"
            name, k = base, 0
            while name in seen:
                k += 1
                name = f"{base}_{k}"
            node.name = name
            renamed += 1
        seen.add(node.name)
    return out, renamed


@dataclass
class HalfPlan:
    precision: str
    slots: dict[str, tuple[list[int], list[int]]]  # node -> (half input slots, half output slots)
    float_nodes: list[str]  # main-graph nodes with a float input or output, in graph order
    types: dict[str, int] = field(default_factory=dict)  # tensor -> elem type in the original model
    rounded_weights: dict[str, TensorProto] = field(default_factory=dict)  # cache across simulations

    @property
    def half_nodes(self) -> list[str]:
        return [n for n in self.float_nodes if n in self.slots]


def plan_half(model: onnx.ModelProto, precision: str) -> HalfPlan:
    """Convert ``model`` (nodes named) with an empty keep-list; read which slots became half."""
    converted = convert_to_half(model, precision, ())
    ctypes = known_types(converted)
    names = {n.name for n in model.graph.node}
    slots = {}
    for node in converted.graph.node:
        if node.name not in names:
            continue
        ins = [i for i, t in enumerate(node.input) if t and ctypes.get(t) in HALF_TYPES]
        outs = [i for i, t in enumerate(node.output) if t and ctypes.get(t) in HALF_TYPES]
        if ins or outs:
            slots[node.name] = (ins, outs)
    types = known_types(model)
    float_nodes = [n.name for n in model.graph.node
                   if any(types.get(t) in FLOAT_TYPES for t in list(n.input) + list(n.output) if t)]
    return HalfPlan(precision, slots, float_nodes, types)


def keeps(node: onnx.NodeProto, keep: frozenset[str] | set[str]) -> bool:
    return node.name in keep or node.op_type in keep


def half_set(model: onnx.ModelProto, plan: HalfPlan, keep) -> set[str]:
    """Nodes that run in half precision when ``keep`` stays FP32."""
    return {n.name for n in model.graph.node if n.name in plan.slots and not keeps(n, keep)}


def round_array(arr: np.ndarray, precision: str) -> np.ndarray:
    """Values as the pass stores them: FP16 clipped to +-65504 (weights), BF16 round-to-nearest-even."""
    f32 = np.asarray(arr, dtype=np.float32)
    if precision == "fp16":
        finite = np.isfinite(f32)
        clipped = np.where(finite, np.clip(f32, -FP16_MAX, FP16_MAX), f32)
        return clipped.astype(np.float16).astype(np.float32)
    bits = f32.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(f32), f32, rounded).astype(np.float32)


def simulate(model: onnx.ModelProto, plan: HalfPlan, keep) -> onnx.ModelProto:
    """An FP32 model that rounds what the mixed model (``keep`` in FP32) stores in half precision."""
    half = HALF[plan.precision]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    rounded_at_source: set[str] = set()
    reader_copy: dict[str, str] = {}
    new_nodes = []
    for node in g.node:
        slots = plan.slots.get(node.name) if not keeps(node, keep) else None
        if slots:
            for i in slots[0]:
                name = node.input[i]
                if name in rounded_at_source:
                    continue
                if name not in reader_copy:
                    reader_copy[name] = _rounded_copy(name, inits, plan, half, new_nodes, g)
                node.input[i] = reader_copy[name]
        new_nodes.append(node)
        if slots:
            for i in slots[1]:
                name = node.output[i]
                if plan.types.get(name) not in FLOAT_TYPES:
                    continue
                raw = f"{name}{SUFFIX}raw"
                node.output[i] = raw
                new_nodes.append(_cast(raw, f"{name}{SUFFIX}half", half))
                new_nodes.append(_cast(f"{name}{SUFFIX}half", name, plan.types[name]))
                rounded_at_source.add(name)
    del g.node[:]
    g.node.extend(new_nodes)
    read = {i for n in g.node for i in n.input} | {o.name for o in g.output} | {i.name for i in g.input}
    unused = [t for t in g.initializer if t.name not in read and t.name in reader_copy]
    for t in unused:  # weights every reader now takes rounded: drop the originals (not those listed as graph inputs)
        g.initializer.remove(t)
    return out


def _cast(src: str, dst: str, to: int) -> onnx.NodeProto:
    return onnx.helper.make_node("Cast", [src], [dst], to=to, name=f"{dst}{SUFFIX}cast")


def _rounded_copy(name: str, inits: dict, plan: HalfPlan, half: int, new_nodes: list, g) -> str:
    dst = f"{name}{SUFFIX}r"
    if name in inits and inits[name].data_type == TensorProto.FLOAT:
        if name not in plan.rounded_weights:
            arr = numpy_helper.to_array(inits[name])
            plan.rounded_weights[name] = numpy_helper.from_array(round_array(arr, plan.precision), dst)
        g.initializer.append(plan.rounded_weights[name])
        return dst
    elem = plan.types.get(name, TensorProto.FLOAT)
    new_nodes.append(_cast(name, f"{dst}_h", half))
    new_nodes.append(_cast(f"{dst}_h", dst, elem))
    return dst


LOCAL = f"{SUFFIX}local"
READ = f"{SUFFIX}read"


def local_model(model: onnx.ModelProto, plan: HalfPlan) -> tuple[onnx.ModelProto, dict, dict]:
    """The FP32 model plus, for every planned node, two shadow copies that run on the *exact* FP32 values of its
    inputs: ``local`` reads them rounded as the node alone in half would (weights too) and stores its outputs
    rounded; ``read`` rounds only the activations it reads (what its producers' half storage costs it). Each
    shadow output is compared in the graph (sums of squares in double: scalars, so one run covers every node
    without exposing a tensor). Returns the model and, per original output tensor, the names of the
    (error, reference) sums of squares of its local and read shadows (the layer-wise pass)."""
    half = HALF[plan.precision]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    shadows: dict[str, str] = {}
    reads: dict[str, str] = {}
    rounded: dict[str, str] = {}
    extra = []
    for node in model.graph.node:
        slots = plan.slots.get(node.name)
        if not slots:
            continue
        for i in slots[0]:
            if node.input[i] not in rounded:
                rounded[node.input[i]] = _rounded_copy(node.input[i], inits, plan, half, extra, g)
        extra += _shadow(node, slots, plan, rounded, LOCAL, True, shadows)
        if any(node.input[i] not in inits for i in slots[0]):
            read_rounded = {n: r for n, r in rounded.items() if n not in inits}
            extra += _shadow(node, (slots[0], []), plan, read_rounded, READ, False, reads)
    sums: dict[str, str] = {}
    own = {t: _sq_error(t, s, sums, extra) for t, s in shadows.items()}
    read = {t: _sq_error(t, s, sums, extra) for t, s in reads.items()}
    g.node.extend(extra)
    return out, own, read


SIM = f"{SUFFIX}sim"


def add_all_half(combined: onnx.ModelProto, model: onnx.ModelProto, plan: HalfPlan) -> dict[str, tuple[str, str]]:
    """Add the all-half simulation of ``model`` to ``combined`` (a model that computes ``model``'s tensors under
    their own names, e.g. ``local_model``'s), its tensors renamed, with the (error, reference) sums of squares of
    every float tensor: the error each tensor has accumulated when everything runs in half, in the same run."""
    sim = simulate(model, plan, frozenset())
    g = combined.graph
    produced = {o for n in sim.graph.node for o in n.output if o}
    have = {t.name for t in g.initializer}
    g.initializer.extend(t for t in sim.graph.initializer if t.name not in have)
    nodes = []
    for node in sim.graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{node.name}{SIM}"
        for i, name in enumerate(node.input):
            if name in produced:
                copy.input[i] = f"{name}{SIM}"
        for i, name in enumerate(node.output):
            if name:
                copy.output[i] = f"{name}{SIM}"
        nodes.append(copy)
    done = {o for n in g.node for o in n.output}
    sums = {t: f"{t}{SUFFIX}ref_ss" for t in produced if f"{t}{SUFFIX}ref_ss" in done}  # local_model's
    errors = {}
    for node in model.graph.node:
        for name in node.output:
            if name and plan.types.get(name) in FLOAT_TYPES and name in produced:
                errors[name] = _sq_error(name, f"{name}{SIM}", sums, nodes)
    g.node.extend(nodes)
    return errors


def interleave(model: onnx.ModelProto, originals: int) -> None:
    """Move each node after the first ``originals`` (added copies, error sums) to just after the original node
    its inputs wait for (an all-half copy: after its original), keeping a topological order: onnxruntime then
    frees each original tensor soon after its last reader instead of holding every tensor until copies appended
    at the end have run (road_segmentation_adas: peak 2.1 GB instead of 2.4 GB)."""
    g = model.graph
    anchor = {n.name: i for i, n in enumerate(g.node[:originals])}
    ready: dict[str, int] = {}
    keyed = []
    for i, node in enumerate(g.node):
        pos = i if i < originals else max((ready.get(t, -1) for t in node.input if t), default=-1)
        if i >= originals and node.name.endswith(SIM):  # an all-half copy runs beside its original
            pos = max(pos, anchor.get(node.name[: -len(SIM)], -1))
        for o in node.output:
            ready[o] = pos
        keyed.append((pos, i >= originals, i, node))
    ordered = [n for *_, n in sorted(keyed, key=lambda k: k[:3])]
    del g.node[:]
    g.node.extend(ordered)


def _sq_error(ref: str, other: str, sums: dict, nodes: list) -> tuple[str, str]:
    """Nodes for sum((other - ref)^2) and sum(ref^2), in double; the two scalar names."""
    def sum_sq(src: str, dst: str) -> str:
        nodes.append(_cast(src, f"{dst}_d", TensorProto.DOUBLE))
        nodes.append(onnx.helper.make_node("ReduceSumSquare", [f"{dst}_d"], [dst], keepdims=0, name=f"{dst}_sum"))
        return dst

    diff = f"{other}_diff"
    nodes.append(onnx.helper.make_node("Sub", [other, ref], [diff], name=f"{diff}_sub"))
    if ref not in sums:
        sums[ref] = sum_sq(ref, f"{ref}{SUFFIX}ref_ss")
    return sum_sq(diff, f"{diff}_ss"), sums[ref]


def _shadow(node, slots, plan: HalfPlan, rounded: dict, tag: str, store_half: bool, names: dict) -> list:
    half = HALF[plan.precision]
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.name = f"{node.name}{tag}"
    for i in slots[0]:
        copy.input[i] = rounded.get(node.input[i], node.input[i])
    casts = []
    for i, name in enumerate(node.output):
        if not name:
            continue
        copy.output[i] = f"{name}{tag}"
        if plan.types.get(name) not in FLOAT_TYPES:
            continue
        names[name] = f"{name}{tag}"
        if store_half and i in slots[1]:
            copy.output[i] = f"{name}{tag}_raw"
            casts += [_cast(f"{name}{tag}_raw", f"{name}{tag}_h", half),
                      _cast(f"{name}{tag}_h", f"{name}{tag}", plan.types[name])]
    return [copy, *casts]
