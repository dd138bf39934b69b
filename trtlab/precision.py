"""FP16/BF16 storage simulation for CPU backends (``onnxrt:fp16``, ``reference:bf16``).

What it does: every floating-point tensor that a node produces is rounded to FP16 (or BF16) and widened back,
by a ``Cast(to=half) -> Cast(to=float)`` pair inserted after the node, under the tensor's original name (so
layer-wise comparison still matches by name). Float weights (initializers) are rounded the same way, and so are
float graph inputs, before any node reads them. Nodes on a keep-list (by node name or op type) keep their
outputs in FP32.

What it models: the storage of activations and weights in half precision, as in a TensorRT engine that runs a
layer in FP16: overflow to +-inf above 65504, underflow of tiny values to zero, and the loss of precision
(11 significant bits for FP16, 8 for BF16) at every layer boundary, per ONNX node, before any engine is built.

What it does not model: arithmetic inside a node is still FP32 (TensorRT usually accumulates in FP32 too, but
not always), TensorRT's fusions (a fused Conv+ReLU rounds once, not twice) and its choice of kernels.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from trtlab.errors import UnavailableError
from trtlab.model import infer_shapes, walk_graphs
from trtlab.weights import replace_arrays, shared_arrays

HALF = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
FLOATS = (TensorProto.FLOAT, TensorProto.DOUBLE)
SUFFIX = "__trtlab_"


def known_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred, _ = infer_shapes(model)
    types: dict[str, int] = {}
    for graph in walk_graphs(inferred.graph):
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                types[vi.name] = vi.type.tensor_type.elem_type
        for init in graph.initializer:
            types[init.name] = init.data_type
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                        types[node.output[0]] = attr.t.data_type
    return types


def round_to_half(model: onnx.ModelProto, precision: str,
                  keep: set[str] | None = None) -> tuple[onnx.ModelProto, list[str]]:
    """Return a copy of ``model`` with half-precision storage simulated (see module docstring), and notes."""
    half = HALF[precision]
    keep = keep or set()
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if precision == "bf16" and opset < 13:
        raise UnavailableError(f"{precision} simulation", f"the model's opset is {opset}; Cast to bfloat16 needs "
                               "opset 13 or newer", "upgrade it first: trtlab surgeon MODEL --opset 13 -o OUT.onnx, "
                               "or compare with :fp16")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    types = known_types(out)
    stats = {"rounded": 0, "unknown": 0, "kept": 0}
    for graph in walk_graphs(out.graph):
        _round_initializers(graph, precision)
        _round_node_outputs(graph, half, types, keep, stats)
    _round_graph_inputs(out.graph, half, types)
    shared = {name: arr for name, arr in shared_arrays(out).items() if arr.dtype.kind == "f"}
    if shared and precision == "fp16":  # held apart (trtlab.weights): FP16 copies, widened by a Cast where used
        _half_weights(out, shared)
    elif shared:  # bf16 has no NumPy type: rounded FP32 copies, held apart the same way
        replace_arrays(out, {n: _round_array(a, precision) for n, a in shared.items()})
    notes = [f"{precision}: {stats['rounded']} tensors rounded to {precision} storage"]
    names = {n.name for g in walk_graphs(out.graph) for n in g.node} | {n.op_type for g in walk_graphs(out.graph)
                                                                        for n in g.node}
    unmatched = sorted(keep - names)
    if unmatched:
        notes.append(f"{precision}: keep-list entries match no node name or op type: {', '.join(unmatched)}")
    if stats["kept"]:
        notes.append(f"{precision}: {stats['kept']} tensors kept in FP32 (keep-list)")
    if stats["unknown"]:
        notes.append(f"{precision}: {stats['unknown']} tensors of unknown type left unrounded (shape inference "
                     "could not type them)")
    return out, notes


def _half_weights(model: onnx.ModelProto, shared: dict[str, np.ndarray]) -> None:
    """Round weights held apart without copying them: the readers of ``W`` read ``W__trtlab_r16`` instead, made by a
    ``Cast(to=FLOAT16) -> Cast(to=W's type)`` pair from the shared FP32 array right before W's first reader, so the
    rounded copy lives only while the runtime needs it; a Gather from W (an embedding table) gathers FP32 rows and
    rounds only those. The same values as rounding the arrays (round to nearest even, overflow to inf). A weight that
    is also a graph output keeps its name: it gets a rounded FP32 copy, held apart."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    copies = {n: a for n, a in shared.items() if n in outputs}
    if copies:
        replace_arrays(model, {n: _round_array(a, "fp16") for n, a in copies.items()})
    types = {t.name: t.data_type for t in graph.initializer}
    rounded = {n: f"{n}{SUFFIX}r16" for n in shared if n not in outputs}
    nodes, done = [], set()
    for node in graph.node:
        if node.op_type == "Gather" and node.domain in ("", "ai.onnx") and node.input[0] in rounded:
            gathered, original = f"{node.output[0]}{SUFFIX}g32", node.output[0]
            node.output[0] = gathered
            nodes += [node, *_round_pair(gathered, original, types[node.input[0]], f"{gathered}_round")]
            continue
        subs = [g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH for g in walk_graphs(a.g)]
        reads = [n for n in node.input if n in rounded] + [n for g in subs for x in g.node for n in x.input
                                                           if n in rounded]
        for name in dict.fromkeys(reads):
            if name not in done:
                nodes += _round_pair(name, rounded[name], types[name], f"{rounded[name]}_round")
                done.add(name)
        for i, name in enumerate(node.input):
            if name in rounded:
                node.input[i] = rounded[name]
        for g in subs:
            for x in g.node:
                for i, name in enumerate(x.input):
                    if name in rounded:
                        x.input[i] = rounded[name]
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def _round_pair(src: str, dst: str, elem: int, name: str) -> list[onnx.NodeProto]:
    half = f"{dst}_h"
    return [onnx.helper.make_node("Cast", [src], [half], to=TensorProto.FLOAT16, name=f"{name}_half"),
            onnx.helper.make_node("Cast", [half], [dst], to=elem, name=f"{name}_back")]


def _round_array(arr: np.ndarray, precision: str) -> np.ndarray:
    if precision == "fp16":
        with np.errstate(over="ignore"):
            return arr.astype(np.float16).astype(arr.dtype)
    # bf16: round to nearest even on the top 16 bits of the float32 pattern.
    f32 = arr.astype(np.float32)
    bits = f32.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    result = rounded.view(np.float32)
    result = np.where(np.isnan(f32), f32, result)
    return result.astype(arr.dtype)


def _round_initializers(graph: onnx.GraphProto, precision: str) -> None:
    for i, init in enumerate(graph.initializer):
        if init.data_type in FLOATS and init.data_location != TensorProto.EXTERNAL:
            arr = numpy_helper.to_array(init)
            graph.initializer[i].CopyFrom(numpy_helper.from_array(_round_array(arr, precision), init.name))


def _round_node_outputs(graph: onnx.GraphProto, half: int, types: dict[str, int], keep: set[str],
                        stats: dict[str, int]) -> None:
    new_nodes = []
    for node in graph.node:
        new_nodes.append(node)
        if node.name in keep or node.op_type in keep:
            stats["kept"] += sum(1 for o in node.output if types.get(o) in FLOATS)
            continue
        for idx, name in enumerate(node.output):
            if not name:
                continue
            elem = types.get(name)
            if elem is None:
                stats["unknown"] += 1
                continue
            if elem not in FLOATS:
                continue
            raw, halved = f"{name}{SUFFIX}raw", f"{name}{SUFFIX}half"
            node.output[idx] = raw
            new_nodes.append(onnx.helper.make_node("Cast", [raw], [halved], to=half, name=f"{raw}_cast_half"))
            new_nodes.append(onnx.helper.make_node("Cast", [halved], [name], to=elem, name=f"{raw}_cast_back"))
            stats["rounded"] += 1
    del graph.node[:]
    graph.node.extend(new_nodes)


def _round_graph_inputs(graph: onnx.GraphProto, half: int, types: dict[str, int]) -> None:
    inits = {t.name for t in graph.initializer}
    renames: dict[str, str] = {}
    casts = []
    for vi in graph.input:
        elem = types.get(vi.name)
        if vi.name in inits or elem not in FLOATS:
            continue
        halved, back = f"{vi.name}{SUFFIX}in_half", f"{vi.name}{SUFFIX}in"
        casts.append(onnx.helper.make_node("Cast", [vi.name], [halved], to=half, name=f"{halved}_cast"))
        casts.append(onnx.helper.make_node("Cast", [halved], [back], to=elem, name=f"{back}_cast"))
        renames[vi.name] = back
    if not renames:
        return
    for sub in walk_graphs(graph):
        for node in sub.node:
            for i, name in enumerate(node.input):
                if name in renames:
                    node.input[i] = renames[name]
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
