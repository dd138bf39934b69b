"""The rule model: a pattern (a small op-type DAG with constraints), what it becomes, and how to check a match.

A pattern is a list of nodes, each with an ``id``, an ``op`` (and ``domain``), ``inputs`` and attribute
constraints. An input is one of:

- the id of another pattern node (its first output; ``id:1`` for the second),
- a pattern variable (a name listed in ``inputs`` of the pattern): any tensor, bound on first use and required to
  be the same tensor wherever the name appears again,
- a constant constraint ``{const: NAME, value: 2.0, rank: 1, scalar: true, tol: 1e-4}``: an initializer or the output
  of a Constant node, bound to NAME; ``value`` compares every element within ``tol`` (relative).

``outputs`` lists the pattern nodes whose first outputs leave the subgraph; the first one is the anchor where
matching starts. Add, Mul, Max, Min, Sum, And, Or, Equal are commutative: both input orders are tried.

A replacement names the op (type, domain, opset or plugin version, namespace), its inputs (pattern variables or
constant names, in order) and attributes: literals, ``{value_of: CONST}`` (the constant as a scalar or list) or
``{attr_of: [NODE_ID, ATTR]}``. Python rules may instead give ``attributes(match) -> dict``, ``check(match) ->
reason or None`` and ``build(match, ctx) -> [NodeProto]`` for replacements of more than one node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trtlab.model import DEFAULT_DOMAINS

COMMUTATIVE = frozenset({"Add", "Mul", "Max", "Min", "Sum", "And", "Or", "Equal", "Xor"})
PLUGIN_DOMAIN = "trt.plugins"


@dataclass
class ConstRef:
    name: str | None = None  # bound name (None: anonymous)
    value: float | list | None = None
    tol: float = 1e-4
    rank: int | None = None
    scalar: bool = False


@dataclass
class PatternNode:
    id: str
    op: str
    inputs: list = field(default_factory=list)  # str (node id / variable, "id:k" for output k) or ConstRef
    domain: str = ""
    attrs: dict = field(default_factory=dict)  # name -> required value ("last" for axes: the last axis)


@dataclass
class Pattern:
    nodes: list[PatternNode]
    outputs: list[str]
    inputs: list[str] = field(default_factory=list)  # variable names

    def node(self, pid: str) -> PatternNode:
        return next(n for n in self.nodes if n.id == pid)

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]


@dataclass
class Replacement:
    op: str
    domain: str = ""
    inputs: list[str] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    min_opset: int | None = None  # for standard ops: the ai.onnx opset the op needs
    version: str = "1"  # plugin version (TensorRT's plugin_version attribute)
    namespace: str = ""  # plugin namespace (plugin_namespace attribute)
    extra_outputs: list[str] = field(default_factory=list)  # output names after the preserved ones

    @property
    def is_plugin(self) -> bool:
        return self.domain not in DEFAULT_DOMAINS


@dataclass
class Match:
    rule: str
    pattern_index: int
    nodes: dict[str, int]  # pattern node id -> graph node index
    vars: dict[str, str]  # variable -> tensor name
    consts: dict[str, str]  # const name -> tensor name
    values: dict[str, np.ndarray]  # const name -> value
    outputs: list[str]  # tensor names leaving the subgraph (kept by the replacement)
    graph: object = field(default=None, repr=False)  # the onnx GraphProto
    facts: dict = field(default_factory=dict, repr=False)  # shape facts (name -> (elem, dims))

    def node(self, pid: str):
        return self.graph.node[self.nodes[pid]]

    def attr(self, pid: str, name: str, default=None):
        from onnx import helper

        for a in self.node(pid).attribute:
            if a.name == name:
                v = helper.get_attribute_value(a)
                return v.decode() if isinstance(v, bytes) else v
        return default

    def scalar(self, const: str) -> float:
        return float(np.asarray(self.values[const]).reshape(-1)[0])

    def shape(self, tensor: str):
        fact = self.facts.get(tensor)
        return None if not fact else fact[1]

    @property
    def anchor(self) -> int:
        return max(self.nodes.values())


@dataclass
class Rule:
    name: str
    patterns: list[Pattern]
    replacement: Replacement
    description: str = ""
    check: Callable | None = None  # (match) -> reason str or None
    attributes: Callable | None = None  # (match) -> dict of attributes
    build: Callable | None = None  # (match, ctx) -> list of NodeProto (and ctx may add graph outputs)
    reference: Callable | None = None  # NumPy implementation of the plugin: (*inputs, **attrs) -> tuple
    source: str = "builtin"
    where: str = ""  # where the rule was defined, for errors ("rules.py rule 0 (swish)")

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """Run one of the rule's own callables; whatever it raises becomes one clear TrtlabError (exit 2)."""
        from trtlab.errors import TrtlabError

        try:
            return fn(*args, **kwargs)
        except TrtlabError:
            raise
        except Exception as exc:
            raise TrtlabError(self.where or f"rule {self.name}", f"{what}() raised {type(exc).__name__}: {exc}",
                              f"fix the rule's {what} function (call it on a match in Python to see the "
                              "traceback)") from None


def approx_equal(actual: np.ndarray, expected, tol: float) -> bool:
    exp = np.asarray(expected, dtype=np.float64)
    act = np.asarray(actual, dtype=np.float64)
    if act.size == 0:
        return False
    try:
        return bool(np.allclose(act, np.broadcast_to(exp, act.shape), rtol=tol, atol=tol * 1e-3))
    except ValueError:
        return False
