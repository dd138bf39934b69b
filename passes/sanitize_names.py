"""sanitize-names: unique, parser-friendly node and tensor names.

Rewrites:
- node names that are empty or repeated -> ``<OpType>_<n>`` (unique over the whole model, bodies included);
- tensor names with characters outside ``[A-Za-z0-9_.:/-]`` or repeated across scopes -> the same name with
  those characters replaced by ``_`` (made unique). Graph input and output names are kept, unless
  ``rename_io`` is on, because callers feed and read them by name.
"""

from __future__ import annotations

import re

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult

_BAD = re.compile(r"[^A-Za-z0-9_.:/\-]")


def run(model: onnx.ModelProto, rename_io: bool = False) -> PassResult:
    graphs = list(gu.walk_graphs(model.graph))
    io = {vi.name for vi in list(model.graph.input) + list(model.graph.output)}
    used_names: set[str] = set()
    renamed_nodes = 0
    counters: dict[str, int] = {}
    for g in graphs:
        for node in g.node:
            if not node.name or node.name in used_names or _BAD.search(node.name):
                base = _BAD.sub("_", node.name) if node.name else node.op_type
                name = base
                while name in used_names or not name:
                    counters[base] = counters.get(base, 0) + 1
                    name = f"{base}_{counters[base]}"
                node.name = name
                renamed_nodes += 1
            used_names.add(node.name)
    all_tensors = _tensor_names(graphs)
    taken = set(all_tensors)
    mapping: dict[str, str] = {}
    for name in all_tensors:
        if not _BAD.search(name) or (name in io and not rename_io):
            continue
        new = _BAD.sub("_", name) or "t"
        base, n = new, 0
        while new in taken:
            n += 1
            new = f"{base}_{n}"
        taken.add(new)
        mapping[name] = new
    if mapping:
        for g in graphs:
            _apply(g, mapping)
    notes = [f"{renamed_nodes} node name(s) and {len(mapping)} tensor name(s) changed"]
    return PassResult(model, notes, modified=bool(renamed_nodes or mapping))


def _tensor_names(graphs) -> list[str]:
    names: dict[str, None] = {}
    for g in graphs:
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            names[vi.name] = None
        for t in g.initializer:
            names[t.name] = None
        for node in g.node:
            for n in list(node.input) + list(node.output):
                if n:
                    names[n] = None
    return list(names)


def _apply(g: onnx.GraphProto, mapping: dict[str, str]) -> None:
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = mapping.get(vi.name, vi.name)
    for t in g.initializer:
        t.name = mapping.get(t.name, t.name)
    for node in g.node:
        for i, n in enumerate(node.input):
            if n in mapping:
                node.input[i] = mapping[n]
        for i, n in enumerate(node.output):
            if n in mapping:
                node.output[i] = mapping[n]


SANITIZE_NAMES = Pass(name="sanitize-names", description="unique, parser-friendly node and tensor names", run=run,
                      options={"rename_io": "also rename graph inputs/outputs (default off)"})
