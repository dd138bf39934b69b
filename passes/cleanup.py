"""cleanup: remove what cannot affect the outputs.

Rewrites:
- nodes whose outputs nobody reads (outer-scope reads from If/Loop/Scan bodies count) -> removed;
- initializers nobody reads -> removed;
- identical initializers (same type, shape and bytes) -> one;
- graph inputs nobody reads -> removed (``remove_unused_inputs``, on by default; initializers listed as inputs by
  old exporters are kept).
"""

from __future__ import annotations

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult
from trtlab.passes.dedup import dedup_initializers


def run(model: onnx.ModelProto, remove_unused_inputs: bool = True) -> PassResult:
    graph = model.graph
    inits_before = sum(len(g.initializer) for g in gu.walk_graphs(graph))
    merged = dedup_initializers(graph)
    nodes = gu.prune(graph)
    unused = 0
    skipped = []
    if remove_unused_inputs:
        read = {r for n in graph.node for r in gu.node_reads(n)} | {o.name for o in graph.output}
        inits = {t.name for t in graph.initializer}
        dead = [i for i, vi in enumerate(graph.input) if vi.name not in read and vi.name not in inits]
        if dead and len(dead) == len(graph.input) and graph.node:
            skipped.append("kept the unused graph inputs: removing all of them would leave a model without inputs")
            dead = []
        for i in reversed(dead):
            del graph.input[i]
        unused = len(dead)
    inits_removed = inits_before - sum(len(g.initializer) for g in gu.walk_graphs(graph)) - merged
    notes = [f"{nodes} dead node(s), {inits_removed} unused initializer(s), {merged} duplicate initializer(s), "
             f"{unused} unused graph input(s) removed"]
    return PassResult(model, notes, skipped, modified=bool(nodes or inits_removed or merged or unused))


CLEANUP = Pass(name="cleanup", description="remove dead nodes, unused initializers and inputs, duplicate initializers",
               run=run, options={"remove_unused_inputs": "also drop graph inputs nobody reads (default on)"})
