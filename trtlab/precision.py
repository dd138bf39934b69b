"""FP16/BF16 storage simulation for CPU backends (``onnxrt:fp16``, ``reference:bf16``).

What it does: every floating-point tensor that a node produces is rounded to FP16 (or BF16) and widened back,
by a ``Cast(to=half) -> Cast(to=float)`` pair inserted after the node, under the tensor's original name (so
layer-wise comparison still matches by name). Float weights (initializers) are rounded the same way, and so are
float graph inputs, before any node reads them; a Constant node's value is rounded in place. Nodes on a keep-list
(by node name, op type or output tensor name) keep their outputs in FP32. Left alone: every non-float tensor,
empty tensors, and float tensors read only as shape parameters (Resize/Upsample ``roi``/``scales``), which an
engine never stores in half precision (rounding ``scales`` would change the output size). Options used by the
TensorRT-like simulation (``trtlab.backends.halfsim``): ``saturate_weights`` clamps weights to the format's range
(TensorRT clamps out-of-range FP16 weights instead of storing Inf) and ``fp32_bn_params`` leaves
BatchNormalization parameters in FP32 (TensorRT computes a scale and shift from them in FP32).

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

from trtlab.model import infer_shapes, walk_graphs
from trtlab.weights import replace_arrays, shared_arrays

HALF = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
HALF_MAX = {"fp16": 65504.0, "bf16": 3.3895313892515355e38}
PARAM_SLOTS = {"Resize": {1, 2}, "Upsample": {1}}  # float inputs that are shape parameters, never stored as half
BN_PARAM_SLOTS = {1, 2, 3, 4}
FLOATS = (TensorProto.FLOAT, TensorProto.DOUBLE)
SUFFIX = "__trtlab_"
SPLIT_CONST = {TensorProto.FLOAT: f"{SUFFIX}bf16_split_f32", TensorProto.DOUBLE: f"{SUFFIX}bf16_split_f64"}
SPLIT_FACTOR = {TensorProto.FLOAT: 2.0**16 + 1, TensorProto.DOUBLE: 2.0**45 + 1}  # keeps 24-16 / 53-45 = 8 bits


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


def unmatched_keep(model: onnx.ModelProto, keep: set[str]) -> list[str]:
    """Keep-list entries that match no node name, op type, output tensor or ``OpType_i`` (an unnamed node i)."""
    names = set()
    for graph in walk_graphs(model.graph):
        for i, n in enumerate(graph.node):
            names.update([n.name, n.op_type, f"{n.op_type}_{i}", *n.output])
    return sorted(keep - names)


def keep_note(precision: str, unmatched: list[str]) -> str:
    return f"{precision}: keep-list entries match no node name, op type or tensor: {', '.join(unmatched)}"


CLAMPED_NOTE = "weight out of range:"


def weights_read_by_kept(model: onnx.ModelProto, keep: set[str]) -> set[str]:
    """Float initializers read by a node on the keep-list: a layer kept in FP32 keeps its weights in FP32 (as
    TensorRT does for a layer it runs in FP32), for every reader of that weight."""
    if not keep:
        return set()
    found: set[str] = set()
    for graph in walk_graphs(model.graph):
        inits = {t.name for t in graph.initializer if t.data_type in FLOATS}
        for node in graph.node:
            if node.name in keep or node.op_type in keep or any(o in keep for o in node.output if o):
                found.update(n for n in node.input if n in inits)
    return found


def out_of_range_weights(model: onnx.ModelProto, precision: str, left: set[str]) -> dict[str, tuple]:
    """{weight: (max |finite w|, [output tensors of its readers])} for float initializers with finite values above
    the format's range (Inf stays Inf, it is not out of range), except those in ``left`` (not rounded)."""
    found = {}
    limit = HALF_MAX[precision]
    shared = shared_arrays(model)
    for graph in walk_graphs(model.graph):
        for init in graph.initializer:
            if init.data_type not in FLOATS or init.name in left:
                continue
            if init.name in shared:
                arr = shared[init.name]
            elif init.data_location == TensorProto.EXTERNAL:
                continue
            else:
                arr = numpy_helper.to_array(init)
            if not arr.size or not float(np.nanmax(np.abs(arr))) > limit:
                continue
            finite = np.abs(arr[np.isfinite(arr)])
            if finite.size and float(finite.max()) > limit:
                readers = [next((o for o in n.output if o), n.name) for g in walk_graphs(model.graph)
                           for n in g.node if init.name in n.input]
                found[init.name] = (float(finite.max()), readers)
    return found


def parameter_tensors(model: onnx.ModelProto, bn_params: bool = False) -> set[str]:
    """Float tensors read only in parameter slots (Resize scales/roi; BatchNormalization's four parameters when
    ``bn_params``): they are left unrounded."""
    slot_reads: dict[str, bool] = {}
    for graph in walk_graphs(model.graph):
        for node in graph.node:
            slots = PARAM_SLOTS.get(node.op_type, set())
            if bn_params and node.op_type == "BatchNormalization":
                slots = slots | BN_PARAM_SLOTS
            for i, name in enumerate(node.input):
                if name:
                    slot_reads[name] = slot_reads.get(name, True) and i in slots
    return {name for name, only_params in slot_reads.items() if only_params}


def round_to_half(model: onnx.ModelProto, precision: str, keep: set[str] | None = None,
                  saturate_weights: bool = False, fp32_bn_params: bool = False,
                  report_keep: bool = True) -> tuple[onnx.ModelProto, list[str]]:
    """Return a copy of ``model`` with half-precision storage simulated (see module docstring), and notes."""
    half = HALF[precision]
    keep = keep or set()
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    split = precision == "bf16" and opset < 13  # no Cast to bfloat16 before opset 13: round by arithmetic
    out = onnx.ModelProto()
    out.CopyFrom(model)
    types = known_types(out)
    params = parameter_tensors(out, fp32_bn_params)
    kept_weights = weights_read_by_kept(out, keep)
    clamped = out_of_range_weights(out, precision, params | keep | kept_weights)
    stats = {"rounded": 0, "unknown": 0, "kept": 0, "params": 0}
    for graph in walk_graphs(out.graph):
        _round_initializers(graph, precision, params | keep | kept_weights, saturate_weights)
        _round_node_outputs(graph, half, types, keep, stats, params, precision, saturate_weights, split)
    _round_graph_inputs(out.graph, half, types, split)
    if split:
        _add_split_constants(out.graph)
    shared = {name: arr for name, arr in shared_arrays(out).items()
              if arr.dtype.kind == "f" and name not in params | keep | kept_weights}
    if shared and precision == "fp16":  # held apart (trtlab.weights): widened by a Cast pair where used, except
        big = {n: a for n, a in shared.items()  # weights out of FP16 range get clamped copies (saturation)
               if saturate_weights and a.size and float(np.nanmax(np.abs(a))) > HALF_MAX[precision]}
        if big:
            replace_arrays(out, {n: _round_array(a, precision, True) for n, a in big.items()})
        _half_weights(out, {n: a for n, a in shared.items() if n not in big})
    elif shared:  # bf16 has no NumPy type: rounded FP32 copies, held apart the same way
        replace_arrays(out, {n: _round_array(a, precision, saturate_weights) for n, a in shared.items()})
    notes = [f"{precision}: {stats['rounded']} tensors rounded to {precision} storage"]
    if split:
        notes.append(f"{precision}: opset {opset} has no Cast to bfloat16; rounded by Veltkamp splitting in FP32 "
                     "(round to nearest at 8 significant bits, as a Cast would)")
    if params:
        notes.append(f"{precision}: {len(params)} parameter tensors left in FP32 (Resize scales/roi"
                     f"{', BatchNormalization parameters' if fp32_bn_params else ''})")
    unmatched = unmatched_keep(out, keep) if report_keep else []
    if unmatched:
        notes.append(keep_note(precision, unmatched))
    if stats["kept"]:
        notes.append(f"{precision}: {stats['kept']} tensors kept in FP32 (keep-list)"
                     + (f", with the {len(kept_weights)} weights they read" if kept_weights else ""))
    for name, (peak, readers) in clamped.items():
        fate = f"clamped to {HALF_MAX[precision]:g}" if saturate_weights else "stored as Inf"
        notes.append(f"{precision}: {CLAMPED_NOTE} {name} (max |w| = {peak:.6g}) is {fate}; read by "
                     f"{'+'.join(readers)}")
    if stats["unknown"]:
        names = stats.get("unknown_names") or []
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        notes.append(f"{precision}: {stats['unknown']} tensors of unknown type left unrounded (shape inference "
                     f"could not type them: {listed})")
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


def _round_array(arr: np.ndarray, precision: str, saturate: bool = False) -> np.ndarray:
    if saturate:
        limit = HALF_MAX[precision]
        arr = np.where(np.isinf(arr), arr, np.clip(arr, -limit, limit)).astype(arr.dtype)  # NaN, +-inf stay
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


def _round_initializers(graph: onnx.GraphProto, precision: str, params: set[str], saturate: bool) -> None:
    for i, init in enumerate(graph.initializer):
        if init.data_type in FLOATS and init.data_location != TensorProto.EXTERNAL and init.name not in params:
            arr = numpy_helper.to_array(init)
            graph.initializer[i].CopyFrom(numpy_helper.from_array(_round_array(arr, precision, saturate), init.name))


def _round_constant(node: onnx.NodeProto, precision: str, saturate: bool) -> bool:
    """Round a Constant node's float ``value`` in place (it stays a constant: shape inference still sees it)."""
    for attr in node.attribute:
        if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type in FLOATS:
            arr = numpy_helper.to_array(attr.t)
            if arr.size:
                attr.t.CopyFrom(numpy_helper.from_array(_round_array(arr, precision, saturate), attr.t.name))
            return True
    return False


def _round_node_outputs(graph: onnx.GraphProto, half: int, types: dict[str, int], keep: set[str],
                        stats: dict[str, int], params: set[str], precision: str, saturate: bool,
                        split: bool = False) -> None:
    new_nodes = []
    for node in graph.node:
        new_nodes.append(node)
        if node.name in keep or node.op_type in keep or any(o in keep for o in node.output if o):
            stats["kept"] += sum(1 for o in node.output if types.get(o) in FLOATS)
            continue
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            if node.output[0] in params:
                continue
            if _round_constant(node, precision, saturate):
                stats["rounded"] += 1
                continue
        for idx, name in enumerate(node.output):
            if not name or name in params:
                continue
            elem = types.get(name)
            if elem is None:
                stats["unknown"] += 1
                stats.setdefault("unknown_names", []).append(name)
                continue
            if elem not in FLOATS:
                continue
            raw = f"{name}{SUFFIX}raw"
            node.output[idx] = raw
            new_nodes.extend(_rounding_nodes(raw, name, half, elem, split))
            stats["rounded"] += 1
    del graph.node[:]
    graph.node.extend(new_nodes)


def _rounding_nodes(src: str, dst: str, half: int, elem: int, split: bool) -> list[onnx.NodeProto]:
    """``dst`` = ``src`` stored in half precision: a Cast pair, or (``split``: bfloat16 before opset 13) Veltkamp
    splitting, ``c = x * (2^s + 1); dst = c - (c - x)``, which rounds to nearest at bfloat16's 8 significant bits
    in FP32 (FP64) arithmetic. Not modelled there: values above ~5e33 (the product overflows)."""
    if not split:
        halved = f"{dst}{SUFFIX}half"
        return [onnx.helper.make_node("Cast", [src], [halved], to=half, name=f"{halved}_cast"),
                onnx.helper.make_node("Cast", [halved], [dst], to=elem, name=f"{dst}{SUFFIX}cast_back")]
    const, c, d = SPLIT_CONST[elem], f"{dst}{SUFFIX}split_c", f"{dst}{SUFFIX}split_d"
    return [onnx.helper.make_node("Mul", [src, const], [c], name=f"{c}_mul"),
            onnx.helper.make_node("Sub", [c, src], [d], name=f"{d}_sub"),
            onnx.helper.make_node("Sub", [c, d], [dst], name=f"{dst}{SUFFIX}split")]


def _add_split_constants(graph: onnx.GraphProto) -> None:
    """The splitting factors as Constant nodes first in the main graph (IR 3 models need inputs for initializers)."""
    used = {i for sub in walk_graphs(graph) for n in sub.node for i in n.input}
    consts = []
    for elem, name in SPLIT_CONST.items():
        if name in used:
            dtype = np.float32 if elem == TensorProto.FLOAT else np.float64
            value = numpy_helper.from_array(np.array(SPLIT_FACTOR[elem], dtype), name)
            consts.append(onnx.helper.make_node("Constant", [], [name], value=value, name=name))
    nodes = consts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def _round_graph_inputs(graph: onnx.GraphProto, half: int, types: dict[str, int], split: bool = False) -> None:
    inits = {t.name for t in graph.initializer}
    renames: dict[str, str] = {}
    casts = []
    for vi in graph.input:
        elem = types.get(vi.name)
        if vi.name in inits or elem not in FLOATS:
            continue
        back = f"{vi.name}{SUFFIX}in"
        casts.extend(_rounding_nodes(vi.name, back, half, elem, split))
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


def has_half(model: onnx.ModelProto) -> bool:
    """Whether any tensor of ``model`` can be FP16/BF16: a half weight, graph input, Constant, Cast or typed op."""
    halves = set(HALF.values())
    for graph in walk_graphs(model.graph):
        if any(t.data_type in halves for t in graph.initializer) or any(
                vi.type.tensor_type.elem_type in halves for vi in list(graph.input) + list(graph.output)):
            return True
        for node in graph.node:
            for a in node.attribute:
                if (a.type == onnx.AttributeProto.TENSOR and a.t.data_type in halves) or (
                        a.type == onnx.AttributeProto.INT and a.name in ("to", "dtype") and a.i in halves):
                    return True
    return False


def widen(model: onnx.ModelProto) -> onnx.ModelProto:
    """A faithful CPU run of an FP16/BF16 model, whoever wrote it: onnxruntime's CPU provider has few half
    kernels, so it runs half nodes in FP32 and removes the Casts between them, and a sum that overflows 65504 in
    the model does not overflow on CPU. The copy returned computes in FP32 but still *stores* every half tensor in
    half: each one is produced in FP32 and passed through ``Cast(half) -> Cast(float)`` under its own name (explicit
    Casts onnxruntime keeps); half weights and constants become the same values in FP32 (exact). Subgraphs (If,
    Loop, Scan bodies) included; half graph inputs and outputs become FP32."""
    types = known_types(model)
    held = shared_arrays(model)  # weights held apart by trtlab.weights (placeholders in the proto)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for graph in reversed(list(walk_graphs(out.graph))):  # bodies before the graphs that hold them
        _widen_graph(graph, types, held if graph is out.graph else {})
    return out


def _widen_graph(g: onnx.GraphProto, types: dict[str, int], held: dict[str, np.ndarray]) -> None:
    halves = set(HALF.values())
    for i, t in enumerate(g.initializer):
        if t.data_type in halves:
            value = held.get(t.name)
            g.initializer[i].CopyFrom(_float_tensor(t) if value is None else
                                      numpy_helper.from_array(np.asarray(value).astype(np.float32), t.name))
    nodes = []
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type in halves:
                a.t.CopyFrom(_float_tensor(a.t))
            elif a.type == onnx.AttributeProto.INT and a.name == "dtype" and a.i in halves:
                a.i = TensorProto.FLOAT
        nodes.append(node)
        for idx, name in enumerate(node.output):
            half = types.get(name)
            if not name or half not in halves:
                continue
            raw = f"{name}{SUFFIX}widen_raw"
            node.output[idx] = raw
            if node.op_type != "Cast":  # a Cast to half already rounds: only the widening back is new
                nodes.append(onnx.helper.make_node("Cast", [raw], [f"{name}{SUFFIX}widen_h"], to=half,
                                                   name=f"{name}{SUFFIX}widen_half"))
                raw = f"{name}{SUFFIX}widen_h"
            nodes.append(onnx.helper.make_node("Cast", [raw], [name], to=TensorProto.FLOAT,
                                               name=f"{name}{SUFFIX}widen_back"))
    del g.node[:]
    g.node.extend(nodes)
    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type in halves:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT
    del g.value_info[:]


def _float_tensor(t: TensorProto) -> TensorProto:
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name)
