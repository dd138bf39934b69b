"""Apply accepted matches: drop the matched nodes, put the replacement where the anchor was, keep tensor names.

Matches are taken in graph order; a candidate that overlaps one already taken is rejected with that reason. When
a replacement needs a newer ai.onnx opset than the model has (LayerNormalization 17, Gelu 20), the model is first
converted with onnx's version converter and matched again, so the rest of the graph stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from trtlab.errors import TrtlabError
from trtlab.plugins.matcher import Candidate, Graph, find
from trtlab.plugins.rules import Match, Replacement, Rule


@dataclass
class Substitution:
    model: onnx.ModelProto
    candidates: list[Candidate]
    applied: list[dict] = field(default_factory=list)  # one per replaced subgraph
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.match is not None and c.reason is None]


class Context:
    """What a rule's ``build`` may use to make nodes and tensors."""

    def __init__(self, model: onnx.ModelProto, rule: Rule, match: Match, taken: set[str]):
        self.model, self.rule, self.match = model, rule, match
        self.taken = taken
        self.initializers: list[onnx.TensorProto] = []
        self.notes: list[str] = []
        self.graph_outputs: dict[str, list[str]] = {}
        self._count = 0

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs) -> onnx.NodeProto:
        anchor = self.match.graph.node[self.match.anchor]
        self._count += 1
        name = f"{anchor.name or anchor.op_type}_{self.rule.name}" + (f"_{self._count}" if self._count > 1 else "")
        return onnx.helper.make_node(op, inputs, outputs, name=self.fresh(name), domain=domain, **attrs)

    def plugin(self, rep: Replacement, inputs: list[str], outputs: list[str], **attrs) -> onnx.NodeProto:
        """A plugin node: TensorRT's parser looks the creator up by op type, plugin_version, plugin_namespace."""
        return self.node(rep.op, inputs, outputs, domain=rep.domain, plugin_version=rep.version,
                         plugin_namespace=rep.namespace, **attrs)

    def vector(self, tensor: str, value: np.ndarray) -> str:
        """``tensor`` as a 1-D constant (a new initializer when it has leading 1-dims)."""
        if value.ndim == 1:
            return tensor
        name = self.fresh(f"{tensor}_1d")
        self.initializers.append(onnx.numpy_helper.from_array(value.reshape(-1), name))
        return name

    def replace_graph_output(self, old: str, new: list[str]) -> None:
        self.graph_outputs[old] = new


def _attributes(rule: Rule, m: Match) -> dict:
    if rule.attributes is not None:
        return rule.call("attributes", lambda: dict(rule.attributes(m)))
    out = {}
    for key, spec in rule.replacement.attributes.items():
        if isinstance(spec, dict) and "value_of" in spec:
            v = np.asarray(m.values[spec["value_of"]])
            out[key] = v.reshape(-1)[0].item() if v.size == 1 else v.reshape(-1).tolist()
        elif isinstance(spec, dict) and "attr_of" in spec:
            out[key] = m.attr(*spec["attr_of"])
        else:
            out[key] = spec
    return out


def _default_build(rule: Rule, m: Match, ctx: Context) -> list[onnx.NodeProto]:
    rep = rule.replacement
    inputs = []
    for name in rep.inputs:
        if name in m.vars:
            inputs.append(m.vars[name])
        elif name in m.consts:
            inputs.append(m.consts[name])
        elif name == "":
            inputs.append("")
        else:
            raise TrtlabError(f"rule {rule.name}", f"replacement input '{name}' is neither a pattern variable nor a "
                              "constant name", f"use one of: {', '.join([*m.vars, *m.consts])}")
    outputs = m.outputs + [ctx.fresh(f"{m.outputs[0]}_{x}") for x in rep.extra_outputs]
    attrs = _attributes(rule, m)
    if rep.is_plugin:
        return [ctx.plugin(rep, inputs, outputs, **attrs)]
    return [ctx.node(rep.op, inputs, outputs, domain=rep.domain, **attrs)]


def _select(cands: list[Candidate]) -> None:
    """Non-overlapping matches in graph order; overlapping ones get a reason."""
    used: dict[int, str] = {}
    for c in sorted((c for c in cands if c.match), key=lambda c: c.match.anchor):
        clash = [used[i] for i in c.match.nodes.values() if i in used]
        if clash:
            c.reason, c.match = f"overlaps a match of rule '{clash[0]}' already taken", c.match
            continue
        for i in c.match.nodes.values():
            used[i] = c.rule


def match_all(model: onnx.ModelProto, rules: list[Rule]) -> list[Candidate]:
    g = Graph(model)
    cands = [c for r in rules for c in find(r, g)]
    _select(cands)
    return cands


def _needed_opset(rules: dict[str, Rule], cands: list[Candidate]) -> int:
    return max((rules[c.rule].replacement.min_opset or 0 for c in cands if c.match and c.reason is None), default=0)


def _convert(model: onnx.ModelProto, target: int) -> onnx.ModelProto:
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, target)
    except Exception as exc:
        raise TrtlabError("substitute-plugins", f"the replacement needs ai.onnx opset {target} and onnx's version "
                          f"converter failed on this model ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                          f"convert the model yourself (`trtlab surgeon MODEL --opset {target}`), or drop the rule "
                          "that needs it") from None


def substitute(model: onnx.ModelProto, rules: list[Rule], dry_run: bool = False) -> Substitution:
    """Find every candidate of ``rules``; unless ``dry_run``, rewrite a copy of ``model`` with the accepted ones."""
    from trtlab.passes.base import main_opset

    by_name = {r.name: r for r in rules}
    cands = match_all(model, rules)
    notes: list[str] = []
    work = model
    need = _needed_opset(by_name, cands)
    if need > main_opset(model):
        notes.append(f"model {'would be ' if dry_run else ''}converted from ai.onnx opset {main_opset(model)} to "
                     f"{need} (onnx version converter) "
                     f"for {', '.join(sorted({c.rule for c in cands if c.match and c.reason is None}))}")
        if not dry_run:
            work = _convert(model, need)
            cands = match_all(work, rules)
    result = Substitution(work, cands, notes=notes)
    if dry_run or not result.accepted:
        return result
    result.model = _apply(work, by_name, result)
    return result


def _apply(model: onnx.ModelProto, rules: dict[str, Rule], result: Substitution) -> onnx.ModelProto:
    from trtlab.passes.graphutil import prune

    new = onnx.ModelProto()
    new.CopyFrom(model)
    g = new.graph
    taken = {o for n in g.node for o in n.output} | {t.name for t in g.initializer} | {n.name for n in g.node}
    taken |= {vi.name for vi in g.input}
    inserts: dict[int, list[onnx.NodeProto]] = {}
    drop: set[int] = set()
    out_swaps: dict[str, list[str]] = {}
    for c in result.accepted:
        rule, m = rules[c.rule], c.match
        m.graph = g
        ctx = Context(new, rule, m, taken)
        nodes = rule.call("build", rule.build, m, ctx) if rule.build else _default_build(rule, m, ctx)
        if not isinstance(nodes, (list, tuple)) or not nodes or not all(isinstance(n, onnx.NodeProto) for n in nodes):
            raise TrtlabError(rule.where or f"rule {rule.name}", "build() must return a non-empty list of NodeProto",
                              "make nodes with ctx.node(...) or ctx.plugin(...) and return them in a list")
        g.initializer.extend(ctx.initializers)
        nodes = list(nodes)
        inserts[m.anchor] = nodes
        drop.update(m.nodes.values())
        out_swaps.update(ctx.graph_outputs)
        result.notes.extend(ctx.notes)
        result.applied.append({"rule": c.rule, "anchor": c.node, "replaced": len(m.nodes),
                               "replaced_ops": sorted({g.node[i].op_type for i in m.nodes.values()}),
                               "new_nodes": [n.name for n in nodes], "new_op": nodes[-1].op_type,
                               "domain": nodes[-1].domain or "ai.onnx", "outputs": list(nodes[-1].output),
                               "inputs": list(nodes[0].input)})
    kept = []
    for i, node in enumerate(g.node):
        if i in inserts:
            kept.extend(inserts[i])
        if i not in drop:
            kept.append(node)
    del g.node[:]
    g.node.extend(kept)
    _swap_outputs(g, out_swaps)
    domains = {n.domain for n in kept if n.domain not in ("", "ai.onnx")}
    have = {o.domain for o in new.opset_import}
    for d in sorted(domains - have):
        new.opset_import.append(onnx.helper.make_opsetid(d, 1))
    prune(g)
    return new


def _swap_outputs(g: onnx.GraphProto, swaps: dict[str, list[str]]) -> None:
    if not swaps:
        return
    outs = []
    for vi in g.output:
        if vi.name in swaps:
            outs.extend(onnx.ValueInfoProto(name=n) for n in swaps[vi.name])
        else:
            outs.append(vi)
    del g.output[:]
    g.output.extend(outs)


def references(rules: list[Rule]) -> dict:
    """plugin name -> NumPy implementation: shipped ones, then the rules' own (a rule's wins)."""
    from trtlab.plugins.reference import REFERENCES

    refs = dict(REFERENCES)
    for r in rules:
        if r.reference is not None:
            refs[r.replacement.op] = r.reference
    return refs


