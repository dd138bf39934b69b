"""The graph side of ``trtlab debug reduce``: which nodes can be cut, and how a set of them becomes a model.

- ``Plan.of(model)`` sorts the main graph topologically and splits it into *work nodes* (what bisection cuts)
  and *constant nodes* (standard ops computed from initializers and Constant nodes only). A candidate pulls in
  the constant nodes it needs, so a cut never turns a weight or a shape into a graph input. It also pulls in the
  *shape arithmetic* feeding it (``Shape``/``Size`` and the integer nodes computed from them and from constants):
  a cut there would turn a computed shape into an INT64 graph input, which TensorRT refuses as a shape tensor
  ("must have type Int32"), a different failure from the one being reduced. A ``Shape`` node's own input (an
  activation) becomes the graph input instead.
- ``Plan.candidate(keep)`` builds a standalone model from a set of work nodes: every tensor read from outside the
  set becomes a typed graph input (initializers stay initializers), every tensor the rest of the original graph
  reads from the set (or a graph output) becomes a graph output. Empty optional inputs ("") are skipped, and
  If/Loop/Scan nodes are atomic: the outer-scope names their bodies read are boundary inputs too.
- Types come from shape inference, then from the model's stored value_info, then from running the model in
  onnxruntime (``observe``; only if it refuses the whole model, what it can run of it: ``runnable_part``), so
  boundaries stay typed even after a failed inference, com.microsoft ops included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import ModelProto

from trtlab.passes import graphutil as gu

RANDOM_OPS = ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli")


@dataclass
class Candidate:
    proto: ModelProto
    keep: tuple[int, ...]  # work positions kept
    origin: list[int]  # original node index of every node in ``proto`` (constant nodes included)
    inputs: list[str]
    outputs: list[str]


@dataclass
class Plan:
    model: ModelProto
    order: list[int]  # work nodes: original indices in topological order
    constant: list[int]  # constant nodes: original indices in topological order
    facts: dict = field(default_factory=dict)  # tensor -> (elem_type, dims or None)
    warnings: list[str] = field(default_factory=list)
    shape_set: set[int] = field(default_factory=set)  # work nodes computing shapes: pulled in like constants

    @classmethod
    def of(cls, model: ModelProto) -> Plan:
        graph = model.graph
        order = gu.topo_order(graph)
        if order is None:
            from trtlab.errors import TrtlabError

            raise TrtlabError("debug reduce", "the main graph has a cycle (it is not a DAG)",
                              "re-export the model; `trtlab surgeon MODEL --toposort` reports where")
        const = constant_nodes(graph, order)
        work = [i for i in order if i not in const]
        if not work:  # an all-constant graph (no inputs): cut it like any other
            work, const = order, set()
        plan = cls(model, work, [i for i in order if i in const])
        plan._index(graph, order)
        plan.facts = typed_facts(model)
        plan.shape_set = shape_nodes(graph, order, const, plan.facts)
        return plan

    def _index(self, graph, order: list[int]) -> None:
        self.ranks = {n: r for r, n in enumerate(order)}
        self.inits = {t.name: t for t in graph.initializer}
        self.real_inputs = {vi.name for vi in graph.input if vi.name not in self.inits}
        self.producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
        self.reads = [list(dict.fromkeys(gu.node_reads(n))) for n in graph.node]
        self.graph_outputs = {o.name for o in graph.output}
        self.graph_inputs = {vi.name: vi for vi in graph.input}
        self.readers: dict[str, set[int]] = {}
        for i, names in enumerate(self.reads):
            for name in names:
                self.readers.setdefault(name, set()).add(i)
        self.const_set = set(self.constant)

    @property
    def size(self) -> int:
        return len(self.order)

    def untyped(self) -> list[str]:
        """Tensors crossing between work nodes that shape inference and value_info leave without dtype or rank."""
        names = {r for i in self.order for r in self.reads[i] if r in self.producer and
                 self.producer[r] not in self.const_set}
        return sorted(n for n in names if n not in self.facts or self.facts[n][1] is None)

    def add_observed(self, values: dict[str, np.ndarray]) -> int:
        """Type tensors from arrays that onnxruntime produced; return how many got a type this way."""
        added = 0
        for name, arr in values.items():
            if name not in self.facts or self.facts[name][1] is None:
                try:
                    elem = onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
                except (KeyError, ValueError, TypeError):  # strings, objects: nothing ONNX can declare
                    continue
                self.facts[name] = (elem, list(arr.shape))
                added += 1
        return added

    def candidate(self, keep) -> Candidate:
        keep = tuple(sorted(set(keep)))
        nodes = {self.order[p] for p in keep}
        graph = self.model.graph
        needed_const = self._const_closure(nodes)
        all_nodes = sorted(nodes | needed_const, key=self._rank)
        produced = {o for i in all_nodes for o in graph.node[i].output if o}
        inputs: list[str] = []
        inits: list[str] = []
        for i in all_nodes:
            for name in self.reads[i]:
                if name in produced or name in inputs or name in inits:
                    continue
                (inits if name in self.inits and name not in self.real_inputs else inputs).append(name)
        outputs = self._outputs(nodes)
        proto = self._proto(all_nodes, inputs, outputs, inits)
        return Candidate(proto, keep, all_nodes, inputs, outputs)

    def _rank(self, i: int) -> int:
        return self.ranks[i]

    def _const_closure(self, nodes: set[int]) -> set[int]:
        out: set[int] = set()
        stack = [r for i in nodes for r in self.reads[i]]
        while stack:
            name = stack.pop()
            p = self.producer.get(name)
            if p is None or p in out or (p not in self.const_set and p not in self.shape_set):
                continue
            out.add(p)
            stack.extend(self.reads[p])
        return out

    def _outputs(self, nodes: set[int]) -> list[str]:
        graph = self.model.graph
        outputs: list[str] = []
        for i in sorted(nodes, key=self._rank):
            mine = [o for o in graph.node[i].output if o]
            used_inside = False
            for o in mine:
                readers = self.readers.get(o, set())
                if o in self.graph_outputs or any(r not in nodes and r not in self.const_set for r in readers):
                    outputs.append(o)
                if readers & nodes:
                    used_inside = True
            if mine and not used_inside and not any(o in outputs for o in mine):
                outputs.append(mine[0])  # keep a node whose results nobody reads alive in the candidate
        return list(dict.fromkeys(outputs))

    def _proto(self, all_nodes, inputs, outputs, inits) -> ModelProto:
        src = self.model
        new = ModelProto()
        new.ir_version = src.ir_version
        new.producer_name = "trtlab debug reduce"
        new.opset_import.extend(src.opset_import)
        new.functions.extend(src.functions)
        g = new.graph
        g.name = (src.graph.name or "model") + "_reduced"
        g.node.extend(src.graph.node[i] for i in all_nodes)
        g.initializer.extend(self.inits[n] for n in inits)
        g.input.extend(self.value_info(n) for n in inputs)
        g.output.extend(self.value_info(n) for n in outputs)
        return new

    def value_info(self, name: str) -> onnx.ValueInfoProto:
        fact = self.facts.get(name)
        if name in self.graph_inputs and (not fact or fact[1] is None):
            return self.graph_inputs[name]  # the user's declaration, symbolic dims included
        if not fact:
            return onnx.ValueInfoProto(name=name)
        elem, dims = fact
        shape = None if dims is None else [d if d is not None else f"{_dim_name(name)}_{k}" for k, d in enumerate(dims)]
        return onnx.helper.make_tensor_value_info(name, elem, shape)


def _dim_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[:40] or "t"


def constant_nodes(graph, order: list[int]) -> set[int]:
    """Standard-domain, deterministic nodes whose every input derives from initializers and Constant nodes."""
    inits = {t.name for t in graph.initializer}
    real = {vi.name for vi in graph.input if vi.name not in inits}
    const_names = set(inits) - real
    out: set[int] = set()
    for i in order:
        node = graph.node[i]
        if node.domain not in gu.STANDARD_DOMAINS or node.op_type in RANDOM_OPS:
            continue
        if any(True for _ in gu.subgraphs(node)):
            continue  # If/Loop/Scan stay work nodes (atomic), even with constant inputs
        if all(r in const_names for r in gu.node_reads(node)):
            out.add(i)
            const_names.update(o for o in node.output if o)
    return out


_INTEGER = {onnx.TensorProto.INT64, onnx.TensorProto.INT32}


def shape_nodes(graph, order: list[int], const: set[int], facts: dict) -> set[int]:
    """Work nodes that compute shapes: ``Shape``/``Size``, and standard nodes whose inputs all derive from those
    and from constants and whose outputs are integers (when their type is known)."""
    derived = {o for i in const for o in graph.node[i].output if o}
    derived |= {t.name for t in graph.initializer}
    derived -= {vi.name for vi in graph.input}  # an initializer that is also a graph input can be fed anything
    shaped: set[str] = set()
    out: set[int] = set()
    for i in order:
        node = graph.node[i]
        if i in const or node.domain not in gu.STANDARD_DOMAINS or any(True for _ in gu.subgraphs(node)):
            continue
        reads = gu.node_reads(node)
        integer = all(facts.get(o, (None,))[0] in (None, *_INTEGER) for o in node.output if o)
        if node.op_type in ("Shape", "Size") or (reads and integer and all(r in derived for r in reads)
                                                 and any(r in shaped for r in reads)):
            out.add(i)
            derived.update(o for o in node.output if o)
            shaped.update(o for o in node.output if o)
    return out


def typed_facts(model: ModelProto) -> dict:
    """Shape inference, then inference again seeded with the model's own value_info (a custom op's output type
    recorded by the exporter lets inference go on past it), then the stored declarations themselves."""
    facts = gu.shape_facts(model)
    produced = [o for n in model.graph.node for o in n.output if o]
    if all(o in facts and facts[o][1] is not None for o in produced):
        return facts
    stored = list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)
    if model.graph.value_info:
        skel = ModelProto()
        skel.ir_version = model.ir_version or 8
        skel.opset_import.extend(model.opset_import)
        skel.functions.extend(model.functions)
        skel.graph.node.extend(model.graph.node)
        skel.graph.input.extend(model.graph.input)
        skel.graph.value_info.extend(model.graph.value_info)
        declared = {vi.name for vi in model.graph.input}
        skel.graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                                for t in model.graph.initializer if t.name not in declared)
        try:
            inferred = onnx.shape_inference.infer_shapes(skel, strict_mode=False)
            stored = list(inferred.graph.value_info) + stored
        except Exception:  # noqa: BLE001, S110 (inference is a best effort here; stored declarations follow)
            pass
    for vi in stored:
        tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if tt is None or not tt.elem_type:
            continue
        old = facts.get(vi.name)
        if old is None or (old[1] is None and tt.HasField("shape")):
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim] \
                if tt.HasField("shape") else None
            facts[vi.name] = (tt.elem_type, dims)
    return facts


# --- running what onnxruntime can run ---------------------------------------------------------------------------

def runnable_part(model: ModelProto) -> tuple[ModelProto, list[str]]:
    """The model without nodes that have no ONNX schema (custom domains, unknown ops) and what depends on them."""
    graph = model.graph
    dead: set[str] = set()
    keep, dropped = [], []
    for node in graph.node:
        known = node.domain in gu.STANDARD_DOMAINS and onnx.defs.has(node.op_type, node.domain or "")
        local = any(f.name == node.op_type and f.domain == node.domain for f in model.functions)
        if (not known and not local) or any(r in dead for r in gu.node_reads(node)):
            dead.update(o for o in node.output if o)
            dropped.append(node.name or node.op_type)
        else:
            keep.append(node)
    new = ModelProto()
    new.CopyFrom(model)
    del new.graph.node[:]
    new.graph.node.extend(keep)
    del new.graph.output[:]
    new.graph.output.extend(o for o in model.graph.output if o.name not in dead)
    return new, dropped


def observe(model: ModelProto, samples: list[dict], names: list[str], spec: str = "onnxrt") -> list[dict]:
    """Run ``spec`` on each sample with ``names`` exposed; one {name: array} per sample (only names it produced)."""
    from trtlab.backends import create, parse_spec

    with create(parse_spec(spec)) as backend:
        backend.load(model, outputs=names)
        return [backend.run(feeds) for feeds in samples]
