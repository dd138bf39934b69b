"""elide: remove ops whose result is provably their input, and merge Unsqueeze pairs.

Rewrites (each graph and body):

- ``Cast(x, to=T)`` where shape inference types ``x`` as T -> ``x``;
- ``Mul(x, c)``, ``Mul(c, x)``, ``Div(x, c)`` with every element of constant ``c`` equal to 1, and
  ``Add(x, c)``, ``Add(c, x)``, ``Sub(x, c)`` with every element of ``c`` equal to 0 -> ``x``, only when
  broadcasting ``c`` cannot change ``x``'s shape: ``c`` is a scalar, or ``x``'s rank is known, ``c``'s rank is at
  most that, and every dimension of ``c`` other than 1 equals ``x``'s known dimension there; and ``c`` has
  ``x``'s element type when that type is known. (Float caveat: ``-0.0 + 0.0`` is ``+0.0``, so removing an Add
  of zeros keeps a ``-0.0`` that the original turned into ``+0.0``: equal under every comparison, visible only
  through ``1/x`` or ``copysign``. Every other case is bit-exact, NaN and infinities included.)
- ``Unsqueeze(Unsqueeze(x, a1), a2)`` -> ``Unsqueeze(x, a)`` where ``a`` places the ones exactly where the pair
  did, when the inner output has no other reader and is not a graph output, both axes are constants (attribute
  before opset 13, constant input after) and, if any axis is negative, ``x``'s rank is known.

Removed ops become ``Identity`` and are then dropped by ``simplify`` (which keeps graph output names: an Identity
that writes a graph output from a graph input stays). Constants come from the graph's own initializers (see
``passes/rewrite.py``); types and ranks from ONNX shape inference (``graphutil.shape_facts``), which runs only when
there is a candidate that needs it.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto
from trtlab.passes import graphutil as gu
from trtlab.passes import rewrite as rw
from trtlab.passes.base import Pass, PassResult
from trtlab.passes.simplify import simplify_graph

NEUTRAL = {"Mul": (1, True), "Add": (0, True), "Div": (1, False), "Sub": (0, False)}  # op -> (element, commutes)


def _neutral_operand(node: NodeProto, consts: dict) -> tuple[str, np.ndarray] | None:
    """(x, c) when ``node`` is an arithmetic op with a constant identity-element operand ``c``."""
    if node.op_type not in NEUTRAL or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
        return None
    element, commutes = NEUTRAL[node.op_type]
    pairs = [(node.input[0], node.input[1])] + ([(node.input[1], node.input[0])] if commutes else [])
    for x, c_name in pairs:
        if c_name in consts and x not in consts:
            c = rw.array(consts[c_name])
            if c is not None and c.dtype.kind in "fiu" and c.size and np.all(c == element):
                return x, c
    return None


def shape_kept(c: np.ndarray, fact) -> bool:
    """Broadcasting ``c`` against a tensor with shape fact ``fact`` leaves its shape and type unchanged."""
    if fact is not None and fact[0] and onnx.helper.np_dtype_to_tensor_dtype(c.dtype) != fact[0]:
        return False
    if c.ndim == 0:
        return True
    dims = fact[1] if fact else None
    if dims is None or c.ndim > len(dims):
        return False
    return all(d == 1 or dims[len(dims) - c.ndim + i] == d for i, d in enumerate(c.shape))


def _axes(node: NodeProto, consts: dict, opset: int) -> list[int] | None:
    if opset < 13:
        axes = rw.attr(node, "axes")
        return list(axes) if axes is not None else None
    if len(node.input) < 2 or node.input[1] not in consts:
        return None
    a = rw.array(consts[node.input[1]])
    return [int(v) for v in a.reshape(-1)] if a is not None else None


def merge_axes(a1: list[int], a2: list[int], rank: int | None) -> list[int] | None:
    """Axes of one Unsqueeze equal to Unsqueeze(a1) then Unsqueeze(a2) on a rank-``rank`` input (None: unknown)."""
    if any(a < 0 for a in a1 + a2):
        if rank is None:
            return None
        a1 = [a + rank + len(a1) if a < 0 else a for a in a1]
        a2 = [a + rank + len(a1) + len(a2) if a < 0 else a for a in a2]
    if len(set(a1)) != len(a1) or len(set(a2)) != len(a2):
        return None
    second = set(a2)
    free = [p for p in range(max(a1 + a2, default=0) + len(a2) + 2) if p not in second]  # final axes not from a2
    if max(a1, default=0) >= len(free):
        return None
    return sorted(second | {free[j] for j in a1})


def _needs_facts(graph: GraphProto, consts: dict) -> bool:
    for n in graph.node:
        if n.op_type == "Cast" or (n.op_type == "Unsqueeze"):
            return True
        got = _neutral_operand(n, consts)
        if got is not None:
            return True
    return False


def elide_graph(graph: GraphProto, facts_fn, ir_version: int, opset: int, taken: set[str]) -> int:
    consts = rw.constants(graph, ir_version)
    outputs = {o.name for o in graph.output}
    users = gu.consumers(graph)
    nodes = list(graph.node)
    producer = {o: n for n in nodes for o in n.output if o}
    dropped: set[int] = set()
    changed = 0
    facts = facts_fn() if _needs_facts(graph, consts) else {}
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or not node.output:
            continue
        x = None
        if node.op_type == "Cast" and len(node.input) == 1:
            fact = facts.get(node.input[0])
            if fact and fact[0] and fact[0] == rw.attr(node, "to"):
                x = node.input[0]
        elif node.op_type in NEUTRAL:
            got = _neutral_operand(node, consts)
            if got is not None and shape_kept(got[1], facts.get(got[0])):
                x = got[0]
        elif node.op_type == "Unsqueeze" and node.input and node.input[0] in producer:
            changed += _merge_unsqueeze(graph, node, producer[node.input[0]], users, outputs, consts, facts,
                                        opset, dropped, taken)
        if x is not None:
            node.op_type = "Identity"
            del node.input[:]
            node.input.append(x)
            del node.attribute[:]
            changed += 1
    rw.drop(graph, dropped, nodes)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            changed += elide_graph(sub, facts_fn, ir_version, opset, taken)
    return changed


def _merge_unsqueeze(graph, node, inner, users, outputs, consts, facts, opset, dropped, taken) -> int:
    if inner.op_type != "Unsqueeze" or inner.domain not in ("", "ai.onnx") or id(inner) in dropped:
        return 0
    if rw.sole_reader(graph, users, inner.output[0], outputs) is not node:
        return 0
    a1, a2 = _axes(inner, consts, opset), _axes(node, consts, opset)
    fact = facts.get(inner.input[0])
    rank = len(fact[1]) if fact and fact[1] is not None else None
    merged = merge_axes(a1, a2, rank) if a1 is not None and a2 is not None else None
    if merged is None:
        return 0
    node.input[0] = inner.input[0]
    if opset < 13:
        rw.set_ints(node, "axes", merged)
    else:
        node.input[1] = rw.add_constant(graph, np.array(merged, dtype=np.int64), f"{node.output[0]}_axes", taken)
        consts[node.input[1]] = graph.initializer[-1]
    dropped.add(id(inner))
    return 1


def elide_model(model: onnx.ModelProto) -> int:
    cache: dict = {}

    def facts():
        if "f" not in cache:
            cache["f"] = gu.shape_facts(model)
        return cache["f"]

    return elide_graph(model.graph, facts, model.ir_version, rw.opset(model), rw.all_names(model))


def run(model: onnx.ModelProto) -> PassResult:
    n = elide_model(model)
    removed = simplify_graph(model.graph) if n else 0
    note = f"{n} no-op Cast/arithmetic node(s) or Unsqueeze pair(s) rewritten, {removed} node(s) removed"
    return PassResult(model, [note], modified=bool(n))


ELIDE = Pass(name="elide", description="remove same-type Casts and arithmetic with identity constants (x*1, x+0, "
             "...), merge Unsqueeze pairs", run=run)
