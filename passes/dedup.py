"""dedup: compute identical things once.

Rewrites:
- initializers with the same type, shape and bytes -> one initializer (readers point at the first);
- nodes with the same op, domain, attributes and inputs -> one node (common subexpression elimination),
  repeated in topological order so chains of duplicates collapse. Random ops are never merged, and a node whose
  output is a graph output keeps its name. Each subgraph body is deduplicated within itself.
"""

from __future__ import annotations

import onnx
from onnx import GraphProto
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult

NEVER_MERGE = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
               "Bernoulli", "Dropout"}


def dedup_initializers(graph: GraphProto, max_bytes: int | None = None) -> int:
    """Merge identical initializers of ``graph`` (bodies included). ``max_bytes`` limits what is compared."""
    seen: dict[tuple, str] = {}
    mapping: dict[str, str] = {}
    outputs = {o.name for o in graph.output} | {vi.name for vi in graph.input}  # inputs: overridable weights
    drop = []
    for idx, t in enumerate(graph.initializer):
        size = gu.tensor_nbytes(t) if t.HasField("raw_data") else t.ByteSize()  # reading raw_data copies it
        if t.data_location == onnx.TensorProto.EXTERNAL or t.name in outputs or (max_bytes and size > max_bytes):
            continue
        raw = t.raw_data if t.HasField("raw_data") else None
        key = (t.data_type, tuple(t.dims), raw if raw is not None else _payload(t))
        if key in seen:
            mapping[t.name] = seen[key]
            drop.append(idx)
        else:
            seen[key] = t.name
    if mapping:
        for idx in reversed(drop):  # delete in place: rebuilding the list would copy every weight
            del graph.initializer[idx]
        gu.rename_reads(graph, mapping)
    count = len(mapping)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            count += dedup_initializers(sub, max_bytes)
    return count


def _payload(t: onnx.TensorProto) -> bytes:
    copy = onnx.TensorProto()
    copy.CopyFrom(t)
    copy.name = ""
    copy.ClearField("doc_string")
    return copy.SerializeToString()


def eliminate_common_subexpressions(graph: GraphProto) -> int:
    """Merge identical nodes in ``graph`` and in its bodies; return how many nodes were removed."""
    order = gu.topo_order(graph)
    removed = 0
    if order is not None:
        outputs = {o.name for o in graph.output}
        seen: dict[tuple, onnx.NodeProto] = {}
        mapping: dict[str, str] = {}
        drop: set[int] = set()
        for idx in order:
            node = graph.node[idx]
            for i, name in enumerate(node.input):
                if name in mapping:
                    node.input[i] = mapping[name]
            if node.op_type in NEVER_MERGE or not node.input or any(o in outputs for o in node.output):
                continue
            for sub in gu.subgraphs(node):
                if mapping:
                    gu.rename_reads(sub, mapping)
            key = (node.domain, node.op_type, tuple(node.input), len(node.output),
                   tuple(a.SerializeToString() for a in sorted(node.attribute, key=lambda a: a.name)))
            first = seen.get(key)
            if first is None:
                seen[key] = node
                continue
            for mine, theirs in zip(node.output, first.output):
                if mine:
                    mapping[mine] = theirs
            drop.add(idx)
        if mapping:
            gu.rename_reads(graph, mapping)
        if drop:
            kept = [n for i, n in enumerate(graph.node) if i not in drop]
            del graph.node[:]
            graph.node.extend(kept)
            removed += len(drop)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            removed += eliminate_common_subexpressions(sub)
    return removed


def run(model: onnx.ModelProto) -> PassResult:
    inits = dedup_initializers(model.graph)
    nodes = eliminate_common_subexpressions(model.graph)
    gu.prune(model.graph)
    notes = [f"{inits} duplicate initializer(s) merged", f"{nodes} duplicate node(s) merged"]
    return PassResult(model, notes, modified=bool(inits or nodes))


DEDUP = Pass(name="dedup", description="merge identical initializers and identical nodes (common subexpressions)",
             run=run)
