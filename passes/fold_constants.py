"""fold-constants: replace every computation whose inputs are all constant by its result.

Rewrites, repeated until nothing changes (a fixed point):

- ``Constant`` node -> initializer of the same name (in subgraph bodies too);
- ``Shape(x)``, ``Size(x)`` with ``x`` of known static shape -> initializer; ``Gather``/``Slice`` of a
  ``Shape`` that pick only static dims -> initializer (partially dynamic shapes still fold where they can);
- any node of a standard domain whose inputs (and the outer-scope names its If/Loop/Scan bodies read) are all
  constant -> initializers of its outputs, computed by ONNX Runtime (nodes inside bodies fold against the
  constants of the enclosing graphs, and stay in their body);
- identical nodes (same op, attributes and inputs) -> one node (``cse``, on by default);
- Identity nodes, identity Transposes and Transpose pairs -> removed or merged, and same-type Casts,
  arithmetic with identity constants (``x*1``, ``x+0``, ...) and Unsqueeze pairs -> removed or merged
  (``simplify``, on by default; see ``passes/simplify.py`` and ``passes/elide.py``);
- Conv followed by BatchNormalization or per-channel Mul/Add -> one Conv with new weights, and zero Pads -> the
  Conv's ``pads`` (``fuse``, on by default; ``fuse=0`` turns it off; see ``passes/fuse_conv.py`` and
  ``passes/fuse_pad.py``). Folding into weights rounds differently in the last bits: verified at 1e-5.

What is not folded, and why, is reported: random ops, custom domains, sequence values, tensors bigger than
``size_threshold`` (default 1 GiB), and any node ONNX Runtime cannot evaluate (the rest still folds).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto, TensorProto, numpy_helper
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult, fmt_bytes, parse_size

NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                    "Bernoulli"}
MAX_ITERATIONS = 12
DEDUP_MAX_BYTES = 4 << 20  # identical initializers up to this size are merged while folding


class _State:
    def __init__(self, model: onnx.ModelProto, threshold: int):
        self.model = model
        self.threshold = threshold
        self.excluded: dict[str, str] = {}  # node key -> reason it is never folded
        self.skipped: list[str] = []
        self.folded = 0  # tensors turned into initializers
        self.evaluated = 0

    def skip(self, reason: str) -> None:
        if reason not in self.skipped:
            self.skipped.append(reason)


def run(model: onnx.ModelProto, size_threshold: str | int = "1G", fold_shapes: bool = True,
        cse: bool = True, simplify: bool = True, fuse: bool = True, max_iterations: int = MAX_ITERATIONS,
        keep: list[str] | str = ()) -> PassResult:
    state = _State(model, parse_size(size_threshold))
    if isinstance(keep, str):
        keep = [k for k in keep.split(",") if k]
    state.excluded.update({k: "kept" for k in keep})
    constants = constants_to_initializers(model.graph)
    notes = [f"{constants} Constant node(s) turned into initializers"] if constants else []
    merged = fused = 0
    if cse:
        from trtlab.passes.dedup import dedup_initializers

        merged_inits = dedup_initializers(model.graph, max_bytes=DEDUP_MAX_BYTES)
    for _iteration in range(1, max_iterations + 1):
        changed = 0
        if fold_shapes:
            changed += _fold_shapes(model, state, set(keep))
        changed += _fold_graph(model, model.graph, {}, state)
        if cse:
            from trtlab.passes.dedup import dedup_initializers, eliminate_common_subexpressions

            merged_inits += dedup_initializers(model.graph, max_bytes=DEDUP_MAX_BYTES) if changed else 0
            n = eliminate_common_subexpressions(model.graph)
            merged += n
            changed += n
        if fuse:
            n = _fuse(model)
            fused += n
            changed += n
        if simplify:
            from trtlab.passes.elide import elide_model
            from trtlab.passes.simplify import simplify_graph

            n = elide_model(model)
            n += simplify_graph(model.graph)
            merged += n
            changed += n
        gu.prune(model.graph)
        if not changed:
            break
    else:
        state.skip(f"stopped after {max_iterations} iterations without reaching a fixed point")
    notes.append(f"{state.folded} tensor(s) folded into initializers ({state.evaluated} node(s) evaluated by "
                 f"onnxruntime), {_iteration} iteration(s)")
    if merged:
        notes.append(f"{merged} duplicate or no-op node(s) removed")
    if fused:
        notes.append(f"{fused} node(s) fused into a Conv (BatchNormalization, per-channel Mul/Add, zero Pad)")
    if cse and merged_inits:
        notes.append(f"{merged_inits} duplicate initializer(s) merged")
    modified = bool(constants or state.folded or merged or fused or (cse and merged_inits))
    return PassResult(model, notes, state.skipped, modified=modified)


def _fuse(model: onnx.ModelProto) -> int:
    from trtlab.passes.fuse_conv import fuse_model as fuse_conv
    from trtlab.passes.fuse_pad import fuse_model as fuse_pad

    n = fuse_pad(model)
    return n + fuse_conv(model)


# --- Constant nodes ----------------------------------------------------------------------------------------

def constant_value(node: NodeProto) -> TensorProto | None:
    """The tensor a Constant node holds (every attribute form), or None for sparse values."""
    for attr in node.attribute:
        name = attr.name
        if name == "value":
            t = TensorProto()
            t.CopyFrom(attr.t)
        elif name == "value_float":
            t = numpy_helper.from_array(np.array(attr.f, dtype=np.float32))
        elif name == "value_floats":
            t = numpy_helper.from_array(np.array(list(attr.floats), dtype=np.float32))
        elif name == "value_int":
            t = numpy_helper.from_array(np.array(attr.i, dtype=np.int64))
        elif name == "value_ints":
            t = numpy_helper.from_array(np.array(list(attr.ints), dtype=np.int64))
        elif name == "value_string":
            t = onnx.helper.make_tensor("", TensorProto.STRING, [], [attr.s])
        elif name == "value_strings":
            t = onnx.helper.make_tensor("", TensorProto.STRING, [len(attr.strings)], list(attr.strings))
        else:
            return None
        t.name = node.output[0]
        return t
    return None


def constants_to_initializers(graph: GraphProto) -> int:
    count = 0
    kept = []
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        value = None
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output[0] not in outputs:
            value = constant_value(node)
        if value is None:
            kept.append(node)
            for sub in gu.subgraphs(node):
                count += constants_to_initializers(sub)
        else:
            graph.initializer.append(value)
            count += 1
    if count:
        del graph.node[:]
        graph.node.extend(kept)
    return count


# --- Shape-derived values ----------------------------------------------------------------------------------

def _fold_shapes(model: onnx.ModelProto, state: _State, keep: set[str]) -> int:
    candidates = [n for g in gu.walk_graphs(model.graph) for n in g.node if n.op_type in ("Shape", "Size")]
    if not candidates:
        return 0
    facts = gu.shape_facts(model)
    return sum(_fold_shapes_in(g, facts, keep) for g in gu.walk_graphs(model.graph))


_attr = gu.attr


def _fold_shapes_in(graph: GraphProto, facts: dict, keep: set[str] = frozenset()) -> int:
    inits = {t.name: t for t in graph.initializer}
    users = gu.consumers(graph)
    new: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type not in ("Shape", "Size") or not node.input or node.output[0] in inits or node.output[0] in keep:
            continue
        fact = facts.get(node.input[0])
        dims = fact[1] if fact else None
        if dims is None:
            continue
        if node.op_type == "Size":
            if None not in dims:
                new[node.output[0]] = np.array(int(np.prod(dims, dtype=np.int64)), dtype=np.int64)
            continue
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        dims = dims[slice(start, end)]
        if None not in dims:
            new[node.output[0]] = np.array(dims, dtype=np.int64)
            continue
        for idx in users.get(node.output[0], []):  # partial: Gather/Slice that read only static dims
            value = _static_pick(graph.node[idx], dims, inits)
            if value is not None and graph.node[idx].output[0] not in inits:
                new[graph.node[idx].output[0]] = value
    for name, value in new.items():
        graph.initializer.append(numpy_helper.from_array(value, name))
    if new:
        _drop_producers(graph, set(new))
    return len(new)


def _static_pick(node: NodeProto, dims: list, inits: dict) -> np.ndarray | None:
    try:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] in inits and _attr(node, "axis", 0) == 0:
            idx = numpy_helper.to_array(inits[node.input[1]])
            picked = np.asarray(dims, dtype=object)[idx]
            flat = np.asarray(picked).reshape(-1)
            if all(d is not None for d in flat):
                return np.asarray(picked.astype(np.int64) if isinstance(picked, np.ndarray) else picked, np.int64)
        if node.op_type == "Slice" and len(node.input) >= 3 and all(i in inits for i in node.input[1:] if i):
            args = [numpy_helper.to_array(inits[i]).reshape(-1) if i else None for i in node.input[1:]]
            starts, ends = args[0], args[1]
            axes = args[2] if len(args) > 2 and args[2] is not None else [0]
            steps = args[3] if len(args) > 3 and args[3] is not None else [1]
            if len(starts) == 1 and list(axes) in ([0], [-1]):
                picked = dims[slice(int(starts[0]), int(ends[0]), int(steps[0]))]
                if None not in picked:
                    return np.array(picked, dtype=np.int64)
    except (IndexError, ValueError, TypeError):
        return None
    return None


def _drop_producers(graph: GraphProto, names: set[str]) -> None:
    """Remove the nodes whose every output is now an initializer (the rest stays; pruning removes dead inputs)."""
    kept = [n for n in graph.node if not all(o in names for o in n.output if o) or not any(n.output)]
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)


# --- evaluation with ONNX Runtime --------------------------------------------------------------------------

def _key(node: NodeProto) -> str:
    return node.output[0] if node.output else node.name


def _fold_graph(model: onnx.ModelProto, graph: GraphProto, outer: dict[str, TensorProto], state: _State) -> int:
    """Fold the nodes of ``graph`` whose inputs are all constant; recurse into bodies. Returns tensors folded."""
    consts = dict(outer)
    consts.update({t.name: t for t in graph.initializer})
    order = gu.topo_order(graph)
    if order is None:
        state.skip(f"graph '{graph.name}' has a cycle: not folded")
        return 0
    graph_outputs = {o.name for o in graph.output}
    foldable: list[NodeProto] = []
    produced: set[str] = set()
    for idx in order:
        node = graph.node[idx]
        if _can_fold(node, consts, produced, state):
            foldable.append(node)
            produced.update(o for o in node.output if o)
    folded = 0
    if foldable:
        frontier = _frontier(graph, foldable, produced, graph_outputs, is_main=not outer and graph is model.graph)
        if frontier:
            folded += _evaluate_and_replace(model, graph, foldable, frontier, consts, state)
    consts.update({t.name: t for t in graph.initializer})
    for node in graph.node:
        for sub in gu.subgraphs(node):
            folded += _fold_graph(model, sub, consts, state)
    return folded


def _can_fold(node: NodeProto, consts: dict, produced: set[str], state: _State) -> bool:
    if _key(node) in state.excluded or not any(node.output):
        return False
    if node.domain not in gu.STANDARD_DOMAINS or node.op_type in NONDETERMINISTIC:
        if all(r in consts or r in produced for r in gu.node_reads(node)) and node.domain not in gu.STANDARD_DOMAINS:
            state.skip(f"not folded: node '{node.name or _key(node)}' ({node.domain}::{node.op_type}) is in a custom "
                       "domain that onnxruntime cannot evaluate without its library")
        elif node.op_type in NONDETERMINISTIC and all(r in consts or r in produced for r in node.input if r):
            state.skip(f"not folded: node '{node.name or _key(node)}' ({node.op_type}) is random")
        return False
    return all(r in consts or r in produced for r in gu.node_reads(node))


def _frontier(graph: GraphProto, foldable: list[NodeProto], produced: set[str], graph_outputs: set[str],
              is_main: bool) -> list[str]:
    """Outputs of foldable nodes that something outside the foldable set reads."""
    fold_ids = {id(n) for n in foldable}
    needed: set[str] = set()
    for node in graph.node:
        if id(node) not in fold_ids:
            needed.update(r for r in gu.node_reads(node) if r in produced)
    if is_main:
        needed.update(o for o in graph_outputs if o in produced)
    return [o for n in foldable for o in n.output if o in needed]


def _evaluate_and_replace(model, graph, foldable, frontier, consts, state) -> int:
    values, failed = _evaluate(model, foldable, frontier, consts, state)
    if failed:  # evaluate what does not depend on a failing node
        values = {}
        for name in frontier:
            values.update(_evaluate_one_by_one(model, foldable, [name], consts, state))
    accepted: dict[str, np.ndarray] = {}
    by_output = {o: n for n in foldable for o in n.output if o}
    for name in frontier:
        if name not in values:
            continue
        value = values[name]
        node = by_output[name]
        if not isinstance(value, np.ndarray):
            state.excluded[_key(node)] = "sequence"
            state.skip(f"not folded: '{name}' ({node.op_type}) is a {type(value).__name__}, not a tensor")
        elif value.nbytes > state.threshold:
            state.excluded[_key(node)] = "size"
            state.skip(f"not folded: output '{name}' of {node.op_type} '{node.name or name}' would be "
                       f"{fmt_bytes(value.nbytes)} (threshold {fmt_bytes(state.threshold)})")
        else:
            accepted[name] = value
    for name, value in accepted.items():
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    _drop_producers(graph, set(accepted))
    state.folded += len(accepted)
    state.evaluated += len(foldable)
    return len(accepted)


FEED_ABOVE = 1 << 30  # bytes of constants an evaluation passes as feeds instead of initializers (2 GB proto limit)


def _view(t: TensorProto) -> np.ndarray:
    """A tensor as an array without copying its raw bytes where possible (large weights)."""
    if t.HasField("raw_data") and t.data_type not in (TensorProto.STRING, TensorProto.BFLOAT16) and np.little_endian:
        raw = t.raw_data  # each access copies the bytes: once
        return np.frombuffer(raw, dtype=onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).reshape(tuple(t.dims))
    return numpy_helper.to_array(t)


def _evaluate(model, nodes, outputs, consts, state) -> tuple[dict[str, object], bool]:
    """Run ``nodes`` in one onnxruntime session; (values, failed)."""
    import onnxruntime as ort

    from trtlab.model import sane_ir_version, tensor_nbytes

    produced = {o for n in nodes for o in n.output if o}
    needed = {r for n in nodes for r in gu.node_reads(n) if r not in produced}
    mini = onnx.ModelProto()
    mini.opset_import.extend(model.opset_import)
    mini.ir_version = sane_ir_version(model)
    g = mini.graph
    g.name = "trtlab_fold"
    g.node.extend(nodes)
    # Constants go in as feeds when they would push the session's model past protobuf's 2 GB limit.
    big = sum(tensor_nbytes(consts[n]) for n in needed) > FEED_ABOVE  # from dims: raw_data would be copied
    feeds = {n: _view(consts[n]) for n in sorted(needed)} if big else {}
    if big:
        g.input.extend(onnx.helper.make_tensor_value_info(n, consts[n].data_type, list(consts[n].dims))
                       for n in sorted(needed))
    else:
        g.initializer.extend(consts[n] for n in sorted(needed))
    g.output.extend(onnx.ValueInfoProto(name=o) for o in outputs)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(mini.SerializeToString(), so, providers=["CPUExecutionProvider"])
        values = sess.run(list(outputs), feeds)
    except Exception as exc:  # one node cannot be evaluated: find it, fold the rest
        if len(nodes) == 1:
            node = nodes[0]
            state.excluded[_key(node)] = "error"
            text = " ".join(str(exc).split())
            state.skip(f"not folded: node '{node.name or _key(node)}' ({node.op_type}) could not be evaluated by "
                       f"onnxruntime: {text[:200]}")
        return {}, True
    return dict(zip(outputs, values)), False


def _evaluate_one_by_one(model, foldable, targets, consts, state) -> dict[str, object]:
    """Evaluate the nodes ``targets`` depend on, node by node, so one failing node only blocks its dependents."""
    by_output = {o: n for n in foldable for o in n.output if o}
    known: dict[str, TensorProto] = dict(consts)
    values: dict[str, object] = {}
    order: list[NodeProto] = []
    seen: set[int] = set()

    def visit(name):
        node = by_output.get(name)
        if node is None or id(node) in seen:
            return
        seen.add(id(node))
        for r in gu.node_reads(node):
            visit(r)
        order.append(node)

    for t in targets:
        visit(t)
    for node in order:
        if _key(node) in state.excluded or not all(r in known for r in gu.node_reads(node)):
            continue
        outs = [o for o in node.output if o]
        result, failed = _evaluate(model, [node], outs, known, state)
        if failed:
            continue
        for name, value in result.items():
            if isinstance(value, np.ndarray):
                known[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
                values[name] = value
    return {t: values[t] for t in targets if t in values}


FOLD_CONSTANTS = Pass(
    name="fold-constants",
    description="evaluate everything whose inputs are constant (ONNX Runtime), to a fixed point",
    run=run,
    options={"size_threshold": "largest folded tensor (e.g. 1G, 16M); bigger ones stay computed (default 1G)",
             "fold_shapes": "fold Shape/Size of tensors with known static shapes (default on)",
             "cse": "merge identical nodes (default on)",
             "simplify": "remove Identity nodes, same-type Casts, x*1/x+0-style arithmetic; merge Transpose and "
                         "Unsqueeze pairs (default on)",
             "fuse": "fold BatchNormalization and per-channel Mul/Add into the Conv before them, and zero Pads "
                     "into the Conv after them (default on)",
             "max_iterations": f"stop after this many rounds (default {MAX_ITERATIONS})",
             "keep": "nodes (by first output name, '+'-separated) never folded"},
    undo_option="keep",
)
