"""simplify: remove nodes that compute nothing.

Rewrites (each graph and body):
- ``y = Identity(x)`` -> readers of ``y`` read ``x`` (when ``y`` is a graph output, ``x``'s producer writes ``y``
  directly, unless ``x`` is itself a graph input, output or initializer);
- ``Transpose(Transpose(x, p1), p2)`` -> ``Transpose(x, p1 then p2)`` when the inner one has no other reader;
- ``Transpose(x, perm=identity)`` -> ``x`` (same rules as Identity).
"""

from __future__ import annotations

import onnx
from onnx import GraphProto
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult


def _perm(node):
    for a in node.attribute:
        if a.name == "perm":
            return list(a.ints)
    return None


def simplify_graph(graph: GraphProto) -> int:
    removed = 0
    outputs = {o.name for o in graph.output}
    users = gu.consumers(graph)
    nodes = list(graph.node)  # hold the wrappers: id() of a protobuf wrapper is only stable while it is alive
    producer = {o: n for n in nodes for o in n.output if o}
    fixed = {vi.name for vi in graph.input} | {t.name for t in graph.initializer} | outputs
    drop: set[int] = set()
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or len(node.input) != 1 or len(node.output) != 1:
            continue
        x, y = node.input[0], node.output[0]
        if node.op_type == "Transpose" and x in producer and producer[x].op_type == "Transpose" \
                and len(users.get(x, [])) == 1 and x not in outputs:
            inner = producer[x]
            p1, p2 = _perm(inner), _perm(node)
            if p1 is not None and p2 is not None and len(p1) == len(p2):
                merged = [p1[i] for i in p2]
                node.input[0] = inner.input[0]
                for a in node.attribute:
                    if a.name == "perm":
                        del a.ints[:]
                        a.ints.extend(merged)
                drop.add(id(inner))
                removed += 1
                x = node.input[0]
        is_noop = node.op_type == "Identity" or (
            node.op_type == "Transpose" and _perm(node) == list(range(len(_perm(node) or [-1]))))
        if not is_noop or id(node) in drop:
            continue
        if y not in outputs:
            gu.rename_reads(graph, {y: x})
            drop.add(id(node))
            removed += 1
        elif x not in fixed and x in producer and id(producer[x]) not in drop:
            src = producer[x]
            src.output[list(src.output).index(x)] = y
            gu.rename_reads(graph, {x: y})
            node.input[0] = y  # now a self-loop; dropped below
            producer[y] = src
            drop.add(id(node))
            removed += 1
    if drop:
        kept = [n for n in nodes if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(kept)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            removed += simplify_graph(sub)
    return removed


def run(model: onnx.ModelProto) -> PassResult:
    n = simplify_graph(model.graph)
    return PassResult(model, [f"{n} no-op node(s) removed"], modified=bool(n))


SIMPLIFY = Pass(name="simplify", description="remove Identity nodes, merge Transpose pairs, drop identity Transposes",
                run=run)
