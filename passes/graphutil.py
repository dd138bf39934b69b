"""Graph helpers shared by passes: scopes, consumers, topological order, dead-node pruning, fast shape facts.

All of them work on ``onnx`` protos directly (no copies of the weights), so they stay fast on BERT-sized models.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import onnx
from onnx import GraphProto, NodeProto, TensorProto

# The graph walkers live in trtlab.model; passes reach them through this module too.
from trtlab.model import DEFAULT_DOMAINS
from trtlab.model import subgraphs as subgraphs
from trtlab.model import walk_graphs as walk_graphs

STANDARD_DOMAINS = (*DEFAULT_DOMAINS, "ai.onnx.ml")  # the domains onnxruntime evaluates for folding


@contextlib.contextmanager
def graphsurgeon() -> Iterator:
    """``onnx_graphsurgeon``, quiet: its logger prints to stdout (which must stay valid JSON under --json), so it
    is limited to errors, without the "colored module" nag, and whatever it still prints goes to stderr.
    Every use of graphsurgeon in trtlab goes through here."""
    import onnx_graphsurgeon as gs
    from onnx_graphsurgeon.logger import G_LOGGER

    G_LOGGER.severity = G_LOGGER.ERROR
    G_LOGGER.colors = False
    with contextlib.redirect_stdout(sys.stderr):
        yield gs


def rename_reads(graph: GraphProto, mapping: dict[str, str]) -> None:
    """Point every read of a name in ``mapping`` (in this graph and its bodies) at the new name."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for sub in subgraphs(node):
            rename_reads(sub, mapping)


def outer_refs(graph: GraphProto) -> set[str]:
    """Names a (sub)graph reads from enclosing scopes: used inside but not defined inside."""
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    used: set[str] = set()
    for node in graph.node:
        defined.update(o for o in node.output if o)
        used.update(i for i in node.input if i)
        for sub in subgraphs(node):
            used |= outer_refs(sub)
    return used - defined


def node_reads(node: NodeProto) -> list[str]:
    """Every tensor a node reads: its inputs plus the outer-scope references of its subgraphs."""
    names = [i for i in node.input if i]
    for sub in subgraphs(node):
        names.extend(sorted(outer_refs(sub)))
    return names


def consumers(graph: GraphProto) -> dict[str, list[int]]:
    """Tensor name -> indices of the nodes of ``graph`` that read it (subgraph references included)."""
    out: dict[str, list[int]] = {}
    for idx, node in enumerate(graph.node):
        for name in dict.fromkeys(node_reads(node)):
            out.setdefault(name, []).append(idx)
    return out


def topo_order(graph: GraphProto) -> list[int] | None:
    """Indices of the nodes in a topological order (the original order where it already is one), None on a cycle."""
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    reads = [[producer[r] for r in node_reads(n) if r in producer] for n in graph.node]
    if all(d < i for i, deps in enumerate(reads) for d in deps):
        return list(range(len(graph.node)))
    order = _kahn_stable(reads)
    return order if len(order) == len(graph.node) else None


def _kahn_stable(reads: list[list[int]]) -> list[int]:
    import heapq

    indeg = [len(set(r)) for r in reads]
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(reads):
        for d in set(deps):
            users.setdefault(d, []).append(i)
    heap = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for u in users.get(i, ()):
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, u)
    return order


def prune(graph: GraphProto, keep: set[str] | None = None) -> int:
    """Remove nodes whose outputs nobody reads (outer-scope references counted) and unused initializers.

    Returns the number of nodes removed. Subgraph bodies are pruned too.
    """
    needed = {o.name for o in graph.output} | set(keep or ())
    alive = [False] * len(graph.node)
    for idx in reversed(topo_order(graph) or range(len(graph.node))):
        node = graph.node[idx]
        if any(o in needed for o in node.output if o):
            alive[idx] = True
            needed.update(node_reads(node))
    removed = alive.count(False)
    if removed:
        kept = [n for n, a in zip(graph.node, alive) if a]
        del graph.node[:]
        graph.node.extend(kept)
    for node in graph.node:
        for sub in subgraphs(node):
            removed += prune(sub)
    declared = {vi.name for vi in graph.input}  # old exporters list weights as inputs: keep those pairs
    unused = [i for i, t in enumerate(graph.initializer) if t.name not in needed and t.name not in declared]
    for i in reversed(unused):
        del graph.initializer[i]
    return removed


# --- shapes ---------------------------------------------------------------------------------------------------

BIG_INITIALIZER = 4096  # elements; bigger initializers are declared as inputs for shape inference


def inference_skeleton(model: onnx.ModelProto, declared_shapes: bool) -> onnx.ModelProto:
    """A copy of ``model`` light enough for shape inference: weights above BIG_INITIALIZER elements (and external
    ones) are declared as inputs instead of copied. ``declared_shapes``: keep the outputs' declared types and the
    stored value_info (to check them); otherwise outputs are bare names and value_info is dropped."""
    skel = onnx.ModelProto()
    skel.ir_version = model.ir_version or 8
    skel.opset_import.extend(model.opset_import)
    skel.functions.extend(model.functions)
    g = skel.graph
    g.node.extend(model.graph.node)
    g.input.extend(model.graph.input)
    declared = {vi.name for vi in g.input}
    for t in model.graph.initializer:
        if _numel(t) > BIG_INITIALIZER or t.data_location == TensorProto.EXTERNAL:
            if t.name not in declared:
                g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            g.initializer.append(t)
    if declared_shapes:
        g.output.extend(model.graph.output)
        g.value_info.extend(model.graph.value_info)
    else:
        g.output.extend(onnx.ValueInfoProto(name=o.name) for o in model.graph.output)
    return skel


def shape_facts(model: onnx.ModelProto, seeds=()) -> dict[str, tuple[int, list[int | None] | None]]:
    """name -> (elem_type, dims or None) for every tensor shape inference can type, main graph and subgraphs.

    Inference runs on a skeleton of the model: big weights are declared, not copied, and stored value_info is
    dropped (it is sometimes wrong, and a wrong static shape would fold to a wrong constant). ``seeds``
    (ValueInfoProtos) are given to inference as known types, e.g. for outputs of ops it has no schema for, so
    the tensors after them get typed too.
    """
    skel = inference_skeleton(model, declared_shapes=False)
    skel.graph.value_info.extend(seeds)
    try:
        inferred = onnx.shape_inference.infer_shapes(skel, strict_mode=False, data_prop=True)
    except Exception:
        inferred = skel
    facts: dict[str, tuple[int, list[int | None] | None]] = {}
    _collect(inferred.graph, facts)
    for t in model.graph.initializer:
        facts[t.name] = (t.data_type, list(t.dims))
    return facts


def _collect(graph: GraphProto, facts: dict) -> None:
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            tt = vi.type.tensor_type
            dims = None
            if tt.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in tt.shape.dim]
            facts[vi.name] = (tt.elem_type, dims)
    for t in graph.initializer:
        facts[t.name] = (t.data_type, list(t.dims))
    for node in graph.node:
        for sub in subgraphs(node):
            _collect(sub, facts)


def _numel(t: TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    return n


def tensor_nbytes(t: TensorProto) -> int:
    """Bytes of a tensor's payload from its dims and type (no copy of raw_data)."""
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:
        return t.ByteSize()
    return _numel(t) * itemsize


def drop_conflicting_value_info(model: onnx.ModelProto) -> list[str]:
    """Remove declared shapes that disagree with shape inference (rank, or a static dim), so a rewrite that makes
    a shape known (a Loop body folded, say) does not leave the exporter's wrong declaration behind as an invalid
    value_info: intermediate value_info is dropped, graph outputs keep their dtype with the shape cleared.
    Returns the names changed."""
    facts = shape_facts(model)
    changed: list[str] = []
    for graph in walk_graphs(model.graph):
        kept = [vi for vi in graph.value_info if not _conflicts(vi, facts)]
        if len(kept) != len(graph.value_info):
            changed += [vi.name for vi in graph.value_info if _conflicts(vi, facts)]
            del graph.value_info[:]
            graph.value_info.extend(kept)
        for vi in graph.output:
            if _conflicts(vi, facts):
                vi.type.tensor_type.ClearField("shape")
                changed.append(vi.name)
    return changed


def _conflicts(vi: onnx.ValueInfoProto, facts: dict) -> bool:
    tt = vi.type.tensor_type
    fact = facts.get(vi.name)
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape") or fact is None or fact[1] is None:
        return False
    declared = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    inferred = fact[1]
    if len(declared) != len(inferred):
        return True
    return any(a is not None and b is not None and a != b for a, b in zip(declared, inferred))
def attr(node: onnx.NodeProto, name: str, default=None):
    """The value of attribute ``name`` of ``node``, or ``default`` when the node does not set it."""
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default
