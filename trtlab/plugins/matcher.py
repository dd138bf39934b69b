"""Match rule patterns against a graph, backtracking over input orders of commutative ops.

Every node whose op is the pattern's anchor (its first output node) is a candidate. A candidate is rejected
with a reason: the first constraint that failed on the deepest partial match (``Conv at node 'x' where the
pattern wants Sqrt``, ``constant 0.5 where the pattern wants 1.0``), an intermediate tensor read outside the
subgraph, or the rule's own check. Candidates that got past the anchor are near misses, reported in a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from trtlab.plugins.rules import COMMUTATIVE, ConstRef, Match, Pattern, Rule, approx_equal


@dataclass
class Candidate:
    rule: str
    node: str  # anchor node name
    index: int
    matched: int  # pattern nodes bound at the deepest point
    total: int
    reason: str | None = None  # None: accepted
    match: Match | None = field(default=None, repr=False)


class Graph:
    """Lookups over one main graph: producers, consumers, constants, shape facts."""

    def __init__(self, model: onnx.ModelProto):
        from trtlab.passes.graphutil import consumers

        self.model = model
        self.graph = model.graph
        self.producer = {o: i for i, n in enumerate(self.graph.node) for o in n.output if o}
        self.users = consumers(self.graph)
        self.inits = {t.name: t for t in self.graph.initializer}
        self.outputs = {o.name for o in self.graph.output}
        self._facts = None

    @property
    def facts(self) -> dict:
        if self._facts is None:
            from trtlab.passes.graphutil import shape_facts

            self._facts = shape_facts(self.model)
        return self._facts

    def name(self, i: int) -> str:
        n = self.graph.node[i]
        return n.name or f"{n.op_type}_{i}"

    def constant(self, tensor: str) -> np.ndarray | None:
        from onnx import numpy_helper

        if tensor in self.inits:
            return numpy_helper.to_array(self.inits[tensor])
        i = self.producer.get(tensor)
        if i is not None and self.graph.node[i].op_type == "Identity" and self.graph.node[i].input:
            return self.constant(self.graph.node[i].input[0])  # exporters alias shared weights through Identity
        if i is not None and self.graph.node[i].op_type == "Constant":
            for a in self.graph.node[i].attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
                if a.name in ("value_float", "value_int"):
                    return np.asarray(onnx.helper.get_attribute_value(a))
                if a.name in ("value_floats", "value_ints"):
                    return np.asarray(onnx.helper.get_attribute_value(a))
        return None


class _Failure:
    def __init__(self):
        self.depth, self.reason = -1, "no node of the anchor op"

    def note(self, depth: int, reason: str) -> None:
        if depth > self.depth:
            self.depth, self.reason = depth, reason


def _attr(node: onnx.NodeProto, name: str):
    for a in node.attribute:
        if a.name == name:
            v = onnx.helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else (list(v) if isinstance(v, (list, tuple)) else v)
    try:
        schema = onnx.defs.get_schema(node.op_type, domain=node.domain)
        default = schema.attributes[name].default_value
        if default.type:
            return onnx.helper.get_attribute_value(default)
    except Exception:
        pass
    return None


def _check_attrs(g: Graph, pn, node, used_inputs: set[int]) -> str | None:
    for name, want in pn.attrs.items():
        have = _attr(node, name)
        if have is None and name == "axes" and len(node.input) > 1 and node.input[1]:
            c = g.constant(node.input[1])  # opset 18+: axes is an input
            have = None if c is None else [int(v) for v in c.reshape(-1)]
            used_inputs.add(1)
        if want == "last":
            rank = _rank(g, node.input[0])
            ok = have in ([-1], -1) or (rank is not None and have in ([rank - 1], rank - 1))
            if not ok:
                return f"{name}={have} at node '{node.name}' where the pattern wants the last axis"
        elif have != want and not (isinstance(want, (int, float)) and isinstance(have, (int, float))
                                   and np.isclose(have, want)):
            return f"{name}={have} at node '{node.name}' where the pattern wants {want}"
    return None


def _rank(g: Graph, tensor: str):
    fact = g.facts.get(tensor)
    return None if not fact or fact[1] is None else len(fact[1])


def _bind_const(g: Graph, ref: ConstRef, tensor: str, st: dict) -> str | None:
    value = g.constant(tensor)
    if value is None:
        return f"'{tensor}' is computed, where the pattern wants a constant"
    if ref.scalar and value.size != 1:
        return f"constant '{tensor}' has shape {list(value.shape)}, where the pattern wants a scalar"
    if ref.rank is not None and value.ndim != ref.rank:
        return f"constant '{tensor}' has rank {value.ndim}, where the pattern wants rank {ref.rank}"
    if ref.value is not None and not approx_equal(value, ref.value, ref.tol):
        shown = value.reshape(-1)[:4].tolist()
        return f"constant '{tensor}' is {shown if value.size > 1 else shown[0]}, where the pattern wants {ref.value}"
    if ref.name:
        if ref.name in st["consts"] and st["consts"][ref.name] != tensor:
            return f"constant '{ref.name}' bound to two different tensors"
        st["consts"][ref.name] = tensor
        st["values"][ref.name] = value
    return None


def _match(g: Graph, pat: Pattern, pid: str, gi: int, st: dict, fail: _Failure):
    """Yield states in which pattern node ``pid`` is bound to graph node ``gi`` with all its inputs."""
    pn, node = pat.node(pid), g.graph.node[gi]
    depth = len(st["nodes"])
    if pid in st["nodes"]:
        if st["nodes"][pid] == gi:
            yield st
        else:
            fail.note(depth, f"pattern node '{pid}' would be two different nodes")
        return
    if gi in st["nodes"].values():
        fail.note(depth, f"node '{g.name(gi)}' would play two roles in the pattern")
        return
    if node.op_type != pn.op or node.domain not in ((pn.domain,) if pn.domain else ("", "ai.onnx")):
        fail.note(depth, f"node '{g.name(gi)}' is {node.op_type}, where the pattern wants {pn.op} ({pid})")
        return
    used: set[int] = set()
    reason = _check_attrs(g, pn, node, used)
    if reason:
        fail.note(depth, reason)
        return
    n_in = len(pn.inputs)
    actual = [t for k, t in enumerate(node.input) if k not in used]
    while actual and not actual[-1]:
        actual.pop()
    if len(actual) != n_in:
        fail.note(depth, f"node '{g.name(gi)}' has {len(actual)} inputs, where the pattern wants {n_in}")
        return
    orders = [list(range(n_in))]
    if pn.op in COMMUTATIVE and n_in == 2:
        orders.append([1, 0])
    for order in orders:
        base = _copy(st)
        base["nodes"][pid] = gi
        yield from _inputs(g, pat, pn, [actual[k] for k in order], 0, base, fail)


def _inputs(g: Graph, pat: Pattern, pn, tensors: list[str], k: int, st: dict, fail: _Failure):
    if k == len(pn.inputs):
        yield st
        return
    ref, tensor = pn.inputs[k], tensors[k]
    depth = len(st["nodes"])
    if isinstance(ref, ConstRef):
        s = _copy(st)
        reason = _bind_const(g, ref, tensor, s)
        if reason:
            fail.note(depth, reason)
            return
        yield from _inputs(g, pat, pn, tensors, k + 1, s, fail)
        return
    ref_id, _, out_k = ref.partition(":")
    if ref_id in pat.ids:
        producer = g.producer.get(tensor)
        if producer is None or g.graph.node[producer].output[int(out_k or 0)] != tensor:
            fail.note(depth, f"'{tensor}' (input {k} of '{pn.id}') is not output {out_k or 0} of a node "
                      f"the pattern calls '{ref_id}'")
            return
        for s in _match(g, pat, ref_id, producer, st, fail):
            yield from _inputs(g, pat, pn, tensors, k + 1, s, fail)
        return
    if ref in st["vars"] and st["vars"][ref] != tensor:
        fail.note(depth, f"'{ref}' is '{st['vars'][ref]}' in one place and '{tensor}' in another "
                  "(the pattern wants one tensor)")
        return
    s = _copy(st)
    s["vars"][ref] = tensor
    yield from _inputs(g, pat, pn, tensors, k + 1, s, fail)


def _copy(st: dict) -> dict:
    return {k: dict(v) for k, v in st.items()}


def _closed(g: Graph, pat: Pattern, st: dict) -> str | None:
    """Intermediate tensors must stay inside: no reader outside the match, not a graph output."""
    inside = set(st["nodes"].values())
    keep = {g.graph.node[st["nodes"][o.split(":")[0]]].output[int(o.partition(":")[2] or 0)] for o in pat.outputs}
    for pid, gi in st["nodes"].items():
        for t in g.graph.node[gi].output:
            if not t or t in keep:
                continue
            if t in g.outputs:
                return f"intermediate tensor '{t}' ({pid}) is a graph output"
            outside = [u for u in g.users.get(t, []) if u not in inside]
            if outside:
                return (f"intermediate tensor '{t}' ({pid}) is also read by node '{g.name(outside[0])}' "
                        "outside the pattern")
    missing = [p for p in pat.ids if p not in st["nodes"]]
    if missing:
        return f"pattern nodes {', '.join(missing)} not reached from the anchor"
    return None


def find(rule: Rule, g: Graph) -> list[Candidate]:
    """Every candidate of ``rule`` in ``g``: accepted ones carry a Match, rejected ones a reason."""
    out: list[Candidate] = []
    for pi, pat in enumerate(rule.patterns):
        anchor = pat.outputs[0].split(":")[0]
        anchor_op = pat.node(anchor).op
        for gi, node in enumerate(g.graph.node):
            if node.op_type != anchor_op:
                continue
            fail = _Failure()
            cand = Candidate(rule.name, g.name(gi), gi, 0, len(pat.nodes))
            for st in _match(g, pat, anchor, gi, {"nodes": {}, "vars": {}, "consts": {}, "values": {}}, fail):
                reason = _closed(g, pat, st)
                if reason is None:
                    match = _to_match(rule, pi, pat, st, g)
                    reason = rule.call("check", rule.check, match) if rule.check else None
                    if reason is not None and not isinstance(reason, str):
                        reason = f"check() returned {reason!r}"
                    if reason is None:
                        cand.matched, cand.match, cand.reason = len(pat.nodes), match, None
                        break
                fail.note(len(st["nodes"]), reason)
            if cand.match is None:
                cand.matched, cand.reason = max(fail.depth, 0), fail.reason
            out.append(cand)
    return _best_per_anchor(out)


def _to_match(rule: Rule, pi: int, pat: Pattern, st: dict, g: Graph) -> Match:
    outs = [g.graph.node[st["nodes"][o.split(":")[0]]].output[int(o.partition(":")[2] or 0)] for o in pat.outputs]
    return Match(rule.name, pi, dict(st["nodes"]), dict(st["vars"]), dict(st["consts"]), dict(st["values"]), outs,
                 g.graph, g.facts)


def _best_per_anchor(cands: list[Candidate]) -> list[Candidate]:
    """With several alternative patterns, keep one verdict per anchor node: a match, else the deepest miss."""
    best: dict[int, Candidate] = {}
    for c in cands:
        cur = best.get(c.index)
        if cur is None or (c.match and not cur.match) or (not cur.match and not c.match and
                                                          c.matched / c.total > cur.matched / cur.total):
            best[c.index] = c
    return [best[i] for i in sorted(best)]
