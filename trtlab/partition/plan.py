"""Split a model into TensorRT segments and fallback segments that run one after another.

Nodes are labelled (``trt`` or a fallback backend) by ``trtlab.partition.support``; ``group`` then walks the graph
in a topological order that stays on the current label as long as any node of that label is ready, so every
segment reads only graph inputs, initializers and tensors of earlier segments: a valid schedule even when
unsupported nodes are interleaved (a naive split into contiguous runs of the node list can make two segments
wait on each other). TensorRT segments smaller than ``min_size`` are merged into the fallback, and every TensorRT
segment is parsed on its own; nodes the parser refuses there move to the fallback too, until all parse.

Each segment is a standalone model whose boundary tensors keep their original names and get dtypes and shapes
from shape inference, from running the model in onnxruntime when inference cannot type them, and else from
recorded assumptions (``trtlab.partition.boundary``: after a custom op that neither can type).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import onnx

from trtlab.partition import DEFAULT_MIN_SIZE
from trtlab.partition.boundary import boundary_types, value_info
from trtlab.partition.support import NodeSupport

SCHEMA_DIR = "trtlab.partition-dir/1"
PARTITION_JSON = "partition.json"
TRT, FALLBACK = "trt", "onnxrt"
MAX_ROUNDS = 8


@dataclass
class Segment:
    index: int
    backend: str
    node_ids: list[int]
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    file: str = ""
    parse: dict | None = None

    @property
    def supported(self) -> bool:
        return self.backend == TRT


@dataclass
class Partition:
    segments: list[Segment]
    support: list[NodeSupport]
    source: str  # parser | prediction
    graph_inputs: list[str]
    graph_outputs: list[str]
    notes: list[str] = field(default_factory=list)


def _producers(graph: onnx.GraphProto) -> dict[str, int]:
    return {o: i for i, n in enumerate(graph.node) for o in n.output if o}


def group(graph: onnx.GraphProto, labels: list[str]) -> list[tuple[str, list[int]]]:
    """Nodes into (label, node ids) segments in a schedule order; see the module docstring."""
    from trtlab.passes.graphutil import node_reads

    producer = _producers(graph)
    deps = [{producer[r] for r in node_reads(n) if r in producer and producer[r] != i}
            for i, n in enumerate(graph.node)]
    children: list[list[int]] = [[] for _ in graph.node]
    for i, ds in enumerate(deps):
        for d in ds:
            children[d].append(i)
    indeg = [len(ds) for ds in deps]
    ready: dict[str, list[int]] = {}
    for i, d in enumerate(indeg):
        if d == 0:
            heapq.heappush(ready.setdefault(labels[i], []), i)
    segments: list[tuple[str, list[int]]] = []
    current = None
    while any(ready.values()):
        if current is None or not ready.get(current):
            current = min((heap[0], lab) for lab, heap in ready.items() if heap)[1]
            segments.append((current, []))
        i = heapq.heappop(ready[current])
        segments[-1][1].append(i)
        for c in children[i]:
            indeg[c] -= 1
            if indeg[c] == 0:
                heapq.heappush(ready.setdefault(labels[c], []), c)
    placed = sum(len(ids) for _, ids in segments)
    if placed != len(graph.node):
        from trtlab.errors import TrtlabError

        raise TrtlabError("partition", f"the graph has a cycle ({len(graph.node) - placed} nodes never became ready)",
                          "check the model with `trtlab check` / onnx.checker")
    return segments


def constant_labels(graph: onnx.GraphProto, labels: list[str]) -> list[str]:
    """Constant nodes (no inputs) follow their first consumer, so a constant never becomes a boundary tensor."""
    from trtlab.passes.graphutil import consumers

    users = consumers(graph)
    out = list(labels)
    for i, node in enumerate(graph.node):
        if node.op_type == "Constant" and not node.input:
            first = min((u for o in node.output for u in users.get(o, [])), default=None)
            if first is not None:
                out[i] = labels[first]
    return out


def boundaries(graph: onnx.GraphProto, segments: list[Segment]) -> None:
    """Fill each segment's inputs (read, not produced inside, not an initializer) and outputs (read later or a
    graph output), in a stable order."""
    from trtlab.passes.graphutil import node_reads

    inits = {t.name for t in graph.initializer}
    graph_outputs = [o.name for o in graph.output]
    owner = {}
    for seg in segments:
        for i in seg.node_ids:
            for o in graph.node[i].output:
                if o:
                    owner[o] = seg.index
    needed_by: dict[str, set[int]] = {}
    for seg in segments:
        produced = {o for i in seg.node_ids for o in graph.node[i].output if o}
        reads = [r for i in seg.node_ids for r in node_reads(graph.node[i])]
        seg.inputs = [r for r in dict.fromkeys(reads) if r not in produced and r not in inits]
        for r in seg.inputs:
            needed_by.setdefault(r, set()).add(seg.index)
    for seg in segments:
        produced = [o for i in seg.node_ids for o in graph.node[i].output if o]
        seg.outputs = [o for o in produced if o in needed_by or o in graph_outputs]
        if not seg.outputs and produced:  # a dead-end segment still exposes its last tensor
            seg.outputs = [produced[-1]]


def plan(model: onnx.ModelProto, support: list[NodeSupport], min_size: int = DEFAULT_MIN_SIZE, trt=None,
         fallback: str = FALLBACK, on_round=None) -> tuple[list[Segment], list[NodeSupport]]:
    """Segments for ``support``; with ``trt`` (a TrtModule) every TensorRT segment is re-parsed on its own."""
    graph = model.graph
    types: dict = {}  # boundary types, each computed once (the model does not change between rounds)
    for _round in range(MAX_ROUNDS):
        labels = constant_labels(graph, [TRT if s.supported else fallback for s in support])
        grouped = group(graph, labels)
        small = [ids for lab, ids in grouped if lab == TRT and len(ids) < min_size]
        if small:
            for ids in small:
                for i in ids:
                    s = support[i]
                    if s.supported:
                        s.supported, s.source = False, "min-segment-size"
                        s.reason = (f"supported, but its TensorRT segment would have {len(ids)} node(s), fewer than "
                                    f"--min-segment-size {min_size}: merged into the fallback")
            continue
        segments = [Segment(k, lab, ids) for k, (lab, ids) in enumerate(grouped)]
        boundaries(graph, segments)
        if trt is None or not _reparse(model, segments, support, trt, on_round, types):
            return segments, support
    raise RuntimeError("partition did not settle")  # pragma: no cover - each round moves nodes to the fallback


def _reparse(model, segments, support, trt, on_round, types: dict) -> bool:
    """Parse each TensorRT segment alone; move refused nodes to the fallback. True when something moved.
    ``types`` caches boundary types across rounds."""
    from trtlab.partition.support import segment_parse_errors

    names = [n for s in segments if s.supported for n in s.inputs + s.outputs]
    new = [n for n in dict.fromkeys(names) if n not in types]
    if new:
        types.update(boundary_types(model, new))
    moved = False
    for seg in segments:
        if not seg.supported:
            continue
        if on_round:
            on_round(seg)
        proto = segment_model(model, seg, types)
        ok, per_node, other = segment_parse_errors(trt, proto)
        seg.parse = {"ok": ok, "errors": [m for _i, m in per_node] + other}
        if ok:
            continue
        targets = [(seg.node_ids[i], m) for i, m in per_node] or [(i, "; ".join(other)) for i in seg.node_ids]
        for idx, message in targets:
            s = support[idx]
            s.supported, s.source = False, "segment-parse"
            s.reason = f"refused when its segment was parsed on its own: {message}"
            moved = True
    return moved


def segment_model(model: onnx.ModelProto, seg: Segment, types: dict) -> onnx.ModelProto:
    """A standalone model of ``seg``: its nodes, the initializers they read, boundary tensors as inputs/outputs."""
    from trtlab.passes.graphutil import node_reads

    graph = model.graph
    nodes = [graph.node[i] for i in seg.node_ids]
    reads = {r for n in nodes for r in node_reads(n)}
    g = onnx.helper.make_graph(nodes, f"{graph.name or 'model'}_seg{seg.index:02d}_{seg.backend}",
                               [value_info(n, types.get(n)) for n in seg.inputs],
                               [value_info(n, types.get(n)) for n in seg.outputs],
                               [t for t in graph.initializer if t.name in reads])
    m = onnx.helper.make_model(g, opset_imports=list(model.opset_import))
    m.ir_version = model.ir_version
    m.producer_name, m.producer_version = "trtlab", "partition"
    used_functions = {(n.domain, n.op_type) for n in nodes}
    m.functions.extend(f for f in model.functions if (f.domain, f.name) in used_functions)
    return m


def isolate(model: onnx.ModelProto, *, min_size: int = DEFAULT_MIN_SIZE, trt_module: str | None = None,
            use_parser: bool = True, on_round=None) -> Partition:
    """Label nodes with the real parser (or the static table), then plan segments."""
    from trtlab.errors import TrtlabError
    from trtlab.partition.support import parser_support, predicted_support

    if not len(model.graph.node):
        raise TrtlabError("partition", "the model has no nodes", "nothing to isolate")
    notes: list[str] = []
    trt = None
    if use_parser:
        from trtlab.trt.module import load

        try:
            trt = load(trt_module)
        except TrtlabError as exc:
            notes.append(f"no TensorRT parser here ({exc.problem}): support PREDICTED from trtlab's static table "
                         "for the installed opset, not asked of a parser")
    if trt is not None:
        support, more = parser_support(trt, model)
        notes.extend(more)
        source = "parser"
        notes.append(f"support from the {trt.name} {trt.version} ONNX parser (full parse, capability query, and "
                     "each TensorRT segment parsed on its own)")
    else:
        support, source = predicted_support(model), "prediction"
        if not use_parser:
            notes.append("support PREDICTED from trtlab's static table for the installed opset (parser not asked)")
    segments, support = plan(model, support, min_size, trt, on_round=on_round)
    return Partition(segments, support, source, [vi.name for vi in model.graph.input],
                     [o.name for o in model.graph.output], notes)
