"""toposort: order the nodes of every graph so each node comes after the nodes it reads from.

Rewrite: node order only (nothing else changes). Where the order already is topological it is kept as is.
A graph with a cycle cannot be sorted; the pass says so and leaves it unchanged.
"""

from __future__ import annotations

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult


def sort_graph(graph: onnx.GraphProto, skipped: list[str]) -> int:
    moved = 0
    order = gu.topo_order(graph)
    if order is None:
        skipped.append(f"graph '{graph.name}' has a cycle: left in its original order")
    elif order != list(range(len(graph.node))):
        nodes = [graph.node[i] for i in order]
        moved = sum(1 for pos, i in enumerate(order) if pos != i)
        copies = [onnx.NodeProto() for _ in nodes]
        for c, n in zip(copies, nodes):
            c.CopyFrom(n)
        del graph.node[:]
        graph.node.extend(copies)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            moved += sort_graph(sub, skipped)
    return moved


def run(model: onnx.ModelProto) -> PassResult:
    skipped: list[str] = []
    moved = sort_graph(model.graph, skipped)
    return PassResult(model, [f"{moved} node(s) moved"], skipped, modified=bool(moved))


TOPOSORT = Pass(name="toposort", description="sort nodes topologically (every graph and body)", run=run)
