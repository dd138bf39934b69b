"""Helpers shared by the local rewrite passes (fuse-conv, fuse-pad, elide): constants, fresh names, node removal.

A *constant* here is an initializer of the graph being rewritten that a user cannot override: from IR version 4
on, an initializer that is also listed as a graph input is only a default value (it may be fed at run time), so
it is not a constant; below IR 4 every initializer must be listed as an input, and that listing means nothing.
Constants of enclosing graphs are not used inside bodies (a body is rewritten with its own initializers only).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto, TensorProto, numpy_helper
from trtlab.passes import graphutil as gu


def constants(graph: GraphProto, ir_version: int) -> dict[str, TensorProto]:
    """name -> initializer, for the initializers of ``graph`` that cannot be overridden at run time."""
    inputs = {vi.name for vi in graph.input} if ir_version >= 4 else set()
    return {t.name: t for t in graph.initializer if t.name not in inputs}


def array(t: TensorProto) -> np.ndarray | None:
    """The value of an initializer, or None when it is not held in the proto (external or shared weights)."""
    if t.data_location == TensorProto.EXTERNAL:
        return None
    try:
        return numpy_helper.to_array(t)
    except (ValueError, TypeError, KeyError):  # types numpy cannot hold, malformed payloads
        return None


def all_names(model: onnx.ModelProto) -> set[str]:
    """Every tensor name of the model (bodies included): fresh names must avoid all of them."""
    names: set[str] = set()
    for g in gu.walk_graphs(model.graph):
        names.update(vi.name for vi in list(g.input) + list(g.output) + list(g.value_info))
        names.update(t.name for t in g.initializer)
        for n in g.node:
            names.update(n.input)
            names.update(n.output)
    return names


def add_constant(graph: GraphProto, value: np.ndarray, base: str, taken: set[str]) -> str:
    """Add ``value`` as a new initializer with a name derived from ``base`` that no tensor uses; return the name."""
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    return name


attr = gu.attr  # one helper (graphutil.attr); fuse-conv and fuse-pad read it from here


def set_ints(node: NodeProto, name: str, values: list[int]) -> None:
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.append(onnx.helper.make_attribute(name, [int(v) for v in values]))


def drop(graph: GraphProto, dropped: set[int], nodes: list[NodeProto]) -> None:
    """Remove the nodes whose ``id()`` is in ``dropped`` (``nodes`` holds the wrappers, keeping the ids valid)."""
    if dropped:
        kept = [n for n in nodes if id(n) not in dropped]
        del graph.node[:]
        graph.node.extend(kept)


def sole_reader(graph: GraphProto, users: dict[str, list[int]], name: str, outputs: set[str]) -> NodeProto | None:
    """The only node that reads ``name`` (subgraph references counted), when ``name`` is not a graph output."""
    readers = users.get(name, [])
    if name in outputs or len(readers) != 1:
        return None
    return graph.node[readers[0]]


def opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1)
