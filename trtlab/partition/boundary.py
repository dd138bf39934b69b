"""Types of the tensors on segment boundaries: each segment is a standalone model, and a parser (TensorRT's above
all) needs a dtype and a rank for every input it reads.

Sources, most trusted first: shape inference, then a run of the model in onnxruntime. Outputs of a custom-domain op
that has neither a schema nor a kernel here defeat both, and so does everything after them; a TensorRT segment that
reads one would fail its own parse and go whole to the fallback. For those, each untyped output of a custom-domain
node (never a standard op's: inference knows them) gets an ASSUMED type, recorded in words, from (in order):

1. the model's own declaration of the tensor (its value_info, or a graph output);
2. the op's schema, where one is registered (an output type constraint with a single type, or one bound to an
   input of known type);
3. what its consumers require, from their ONNX schemas (a type variable shared with an input of known type fixes
   the dtype; Conv, ConvTranspose and pooling fix the rank, Conv the channel count too);
4. last, for a one-output op, its first input's dtype, and that input's rank with every dim symbolic (an op may
   change the number of elements, so no dim is borrowed).

Assumed types are then given to shape inference as known, so the tensors after them get inferred types; that
repeats until nothing more can be typed. Every assumption is a note and a ``typed`` entry in partition.json, and
``hybrid:DIR`` checks each assumed segment input against the arrays that arrive (a wrong one is named, with the
fix: a value_info in the model, source 1). Fallback segments leave an assumed output type undeclared, for their
runtime to type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

Fact = tuple[int, list]  # (elem_type, dims with None for unknown); dims None: rank unknown
MAX_ROUNDS = 64
NOTES_SHOWN = 4  # assumptions spelled out in the notes; partition.json has every one
STANDARD = ("", "ai.onnx")


@dataclass
class Typing:
    facts: dict[str, Fact | None]
    assumed: dict[str, str] = field(default_factory=dict)  # tensor -> how its type was assumed
    derived: set[str] = field(default_factory=set)  # typed by inference only once assumptions were made

    def source(self, name: str) -> str | None:
        """How ``name`` was typed when it is not plain inference or onnxruntime: words for partition.json."""
        if name in self.assumed:
            return "assumed: " + self.assumed[name]
        if name in self.derived:
            return "inferred from assumed types"
        return None

    def notes(self, names: list[str]) -> list[str]:
        """One note per boundary tensor whose type is an assumption, one for those inferred after them."""
        names = list(dict.fromkeys(names))
        assumed = [n for n in names if n in self.assumed]
        out = [f"type of {n} assumed: {self.assumed[n]}" for n in assumed[:NOTES_SHOWN]]
        if len(assumed) > NOTES_SHOWN:
            out.append(f"types of {len(assumed) - NOTES_SHOWN} more boundary tensor(s) assumed, each recorded as "
                       "'typed' in partition.json: " + ", ".join(assumed[NOTES_SHOWN:NOTES_SHOWN + 4])
                       + (" ..." if len(assumed) > NOTES_SHOWN + 4 else ""))
        derived = [n for n in names if n in self.derived]
        if derived:
            out.append(f"{len(derived)} boundary tensor(s) typed by shape inference from those assumed types: "
                       + ", ".join(derived[:4]) + (" ..." if len(derived) > 4 else ""))
        return out


def untyped(fact) -> bool:
    return not fact or not fact[0] or fact[1] is None


def boundary_types(model: onnx.ModelProto, names: list[str], feeds: dict | None = None) -> dict[str, Fact | None]:
    """name -> (elem_type, dims with None for unknown), from ``type_tensors``."""
    return type_tensors(model, names, feeds).facts


def type_tensors(model: onnx.ModelProto, names: list[str], feeds: dict | None = None) -> Typing:
    """Types of ``names``: shape inference, else an onnxruntime run, else assumptions (module docstring)."""
    facts = _inferred(model)
    out = {n: facts.get(n) for n in dict.fromkeys(names)}
    missing = [n for n, f in out.items() if untyped(f)]
    if not missing:
        return Typing(out)
    learned = _types_from_ort(model, missing, feeds)
    for n, fact in learned.items():
        if untyped(out.get(n)):
            out[n] = facts[n] = fact
    missing = [n for n, f in out.items() if untyped(f)]
    if not missing:
        return Typing(out)
    known, assumed = assume_types(model, facts)
    typing = Typing(out)
    for n in missing:
        if not untyped(known.get(n)):
            out[n] = known[n]
            if n in assumed:
                typing.assumed[n] = assumed[n]
            else:
                typing.derived.add(n)
    return typing


def _inferred(model: onnx.ModelProto, seeds=()) -> dict[str, Fact | None]:
    from trtlab.passes.graphutil import shape_facts

    facts = shape_facts(model, seeds)
    for vi in model.graph.input:
        fact = _declared(vi)
        if fact:
            facts[vi.name] = fact
    return facts


def _declared(vi: onnx.ValueInfoProto) -> Fact | None:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.elem_type:
        return None
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in tt.shape.dim] if tt.HasField("shape") else None
    return tt.elem_type, dims


def _types_from_ort(model: onnx.ModelProto, names: list[str], feeds: dict | None) -> dict:
    """Run the model in onnxruntime with ``names`` exposed; dims of dynamic models stay symbolic (None)."""
    from trtlab.backends import parse_spec
    from trtlab.backends.onnxrt import OnnxrtBackend
    from trtlab.errors import TrtlabError
    from trtlab.inputs import plan_inputs, random_feeds

    try:
        plan_ = plan_inputs(model.graph, {}, {}, None)
        dynamic = any(s.is_dynamic for s in plan_.specs) if hasattr(plan_, "specs") else False
        feeds = feeds or random_feeds(plan_, 1, 0)
        with OnnxrtBackend(parse_spec("onnxrt")) as be:
            be.load(model, names)
            values = be.run(feeds)
    except (TrtlabError, Exception):  # the model does not run here: the caller leaves those tensors untyped
        return {}
    from onnx.helper import np_dtype_to_tensor_dtype

    return {n: (np_dtype_to_tensor_dtype(v.dtype), [None] * v.ndim if dynamic else list(v.shape))
            for n, v in values.items() if n in names}


def value_info(name: str, fact) -> onnx.ValueInfoProto:
    """A boundary tensor's declaration; unknown dims get names of their own (``NAME_d0`` ...)."""
    if not fact:
        return onnx.ValueInfoProto(name=name)
    elem, dims = fact
    shape = None if dims is None else [d if d is not None else f"{name}_d{i}" for i, d in enumerate(dims)]
    return onnx.helper.make_tensor_value_info(name, elem, shape)


# --- assumptions ------------------------------------------------------------------------------------------------

def assume_types(model: onnx.ModelProto, facts: dict) -> tuple[dict, dict[str, str]]:
    """Type every main-graph node output that ``facts`` leaves untyped, where a source of the module docstring
    allows; return (all facts, {tensor: how it was assumed})."""
    from trtlab.passes.graphutil import consumers

    graph = model.graph
    ctx = _Context(model, consumers(graph))
    known = dict(facts)
    base = {n: f for n, f in facts.items() if not untyped(f)}  # onnxruntime's answers survive re-inference
    seeds: dict[str, onnx.ValueInfoProto] = {}
    why: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        new = _assume_round(graph, known, ctx, need_inputs=True) or _assume_round(graph, known, ctx, False)
        if not new:
            break
        for name, (fact, reason) in new.items():
            seeds[name], why[name] = value_info(name, fact), reason
        known = _inferred(model, list(seeds.values()))
        known.update({n: f for n, f in base.items() if untyped(known.get(n))})
    return known, why


def _assume_round(graph, known: dict, ctx, need_inputs: bool) -> dict:
    """One sweep over the custom-domain nodes: assume their untyped outputs where their inputs are all typed (or
    whatever their inputs, with ``need_inputs`` False: then only sources 1 to 3 can answer). Standard ops are left
    to inference: when it cannot type them the graph is inconsistent, and a guess would hide that."""
    from trtlab.passes.graphutil import STANDARD_DOMAINS

    new = {}
    for node in graph.node:
        if node.domain in STANDARD_DOMAINS:  # inference knows these: untyped means the graph is inconsistent
            continue
        outs = [(k, o) for k, o in enumerate(node.output) if o and untyped(known.get(o))]
        if not outs or (need_inputs and any(untyped(known.get(i)) for i in node.input if i)):
            continue
        for k, name in outs:
            fact, reason = _assume(node, k, name, known, ctx)
            if fact:
                new[name] = (fact, reason)
    return new


class _Context:
    def __init__(self, model: onnx.ModelProto, users: dict[str, list[int]]):
        from trtlab.passes.base import main_opset

        self.graph = model.graph
        self.opset = main_opset(model)
        self.users = users
        self.outputs = {vi.name for vi in model.graph.output}
        self.declared = {vi.name: vi for vi in list(model.graph.value_info) + list(model.graph.output)}


def _assume(node: onnx.NodeProto, k: int, name: str, known: dict, ctx: _Context) -> tuple[Fact | None, str]:
    """(fact, reason) for output ``k`` (``name``) of ``node``; (None, "") when no source answers."""
    prior = known.get(name)
    elem = prior[0] if prior and prior[0] else 0
    dims = None
    whence_elem = "shape inference" if elem else ""
    whence_dims = ""
    declared = _declared(ctx.declared[name]) if name in ctx.declared else None
    if declared:
        where = "its declaration as a graph output" if name in ctx.outputs else "the model's own value_info"
        if not elem:
            elem, whence_elem = declared[0], where
        if declared[1] is not None:
            dims, whence_dims = declared[1], where
    if not elem:
        elem = _schema_output_elem(node, k, known, ctx)
        whence_elem = f"the registered schema of {node.domain or 'ai.onnx'}::{node.op_type}" if elem else ""
    if not elem or dims is None:
        for u in ctx.users.get(name, []):
            e, d, what = _consumer_needs(ctx.graph.node[u], name, known, ctx)
            if e and not elem:
                elem, whence_elem = e, what
            if d is not None and dims is None:
                dims, whence_dims = d, what
    first = node.input[0] if node.input else ""
    if len([o for o in node.output if o]) == 1 and first and not untyped(known.get(first)):
        e0, d0 = known[first]
        if not elem:
            elem, whence_elem = e0, f"the first input of {node.op_type} ({first})"
        if dims is None:
            dims, whence_dims = [None] * len(d0), f"the rank of the first input of {node.op_type} ({first})"
    if not elem:
        return None, ""
    dtype = onnx.TensorProto.DataType.Name(elem).lower()
    shape = None if dims is None else "x".join("?" if d is None else str(d) for d in dims) or "scalar"
    if shape is None:
        text = f"dtype {dtype} from {whence_elem}; rank unknown"
    elif whence_dims == whence_elem:
        text = f"dtype {dtype}, shape {shape} from {whence_elem}"
    else:
        text = f"dtype {dtype} from {whence_elem}; shape {shape} from {whence_dims}"
    return (elem, dims), f"{text} (output of {node.domain}::{node.op_type}, untyped by inference and onnxruntime)"


def _elem_of(type_str: str) -> int:
    if type_str.startswith("tensor(") and type_str.endswith(")"):
        return getattr(onnx.TensorProto, type_str[7:-1].upper(), 0)
    return 0


def _formal(params, i: int):
    if not params:
        return None
    if i < len(params):
        return params[i]
    last = params[-1]
    return last if last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic else None


def _schema(node: onnx.NodeProto, ctx: _Context):
    domain = node.domain if node.domain not in STANDARD else ""
    version = ctx.opset if not domain else 1000
    try:
        return onnx.defs.get_schema(node.op_type, max_inclusive_version=version, domain=domain)
    except Exception:  # no schema registered for this op
        return None


def _bound_elem(schema, node: onnx.NodeProto, type_str: str, known: dict) -> int:
    """The dtype ``type_str`` stands for in ``node``: its only allowed type, or that of an input bound to it."""
    concrete = _elem_of(type_str)
    if concrete:
        return concrete
    allowed = next((list(c.allowed_type_strs) for c in schema.type_constraints if c.type_param_str == type_str), [])
    if len(allowed) == 1:
        return _elem_of(allowed[0])
    for j, inp in enumerate(node.input):
        formal = _formal(schema.inputs, j)
        if inp and formal is not None and formal.type_str == type_str and known.get(inp) and known[inp][0]:
            return known[inp][0]
    return 0


def _schema_output_elem(node: onnx.NodeProto, k: int, known: dict, ctx: _Context) -> int:
    schema = _schema(node, ctx)
    formal = _formal(schema.outputs, k) if schema else None
    return _bound_elem(schema, node, formal.type_str, known) if formal is not None else 0


def _consumer_needs(user: onnx.NodeProto, name: str, known: dict, ctx: _Context) -> tuple[int, list | None, str]:
    """(dtype, dims, words) that consumer ``user`` requires of its input ``name``; 0 / None where it requires none."""
    schema = _schema(user, ctx) if user.domain in STANDARD else None
    if schema is None:
        return 0, None, ""
    elem, dims, facts = 0, None, []
    for i, inp in enumerate(user.input):
        formal = _formal(schema.inputs, i)
        if inp != name or formal is None:
            continue
        e = _bound_elem(schema, user, formal.type_str, known)
        if e and not elem:
            elem = e
            facts.append(f"{formal.name} is {onnx.TensorProto.DataType.Name(e).lower()}")
        if i == 0 and dims is None:
            dims, why = _rank_needed(user, known)
            if dims is not None:
                facts.append(why)
    what = f"its consumer {user.name or user.op_type} ({user.op_type}: {', '.join(facts)})"
    return elem, dims, what


def _rank_needed(user: onnx.NodeProto, known: dict) -> tuple[list | None, str]:
    """Dims that ``user`` requires of its first input, from its weights or attributes (None where unknown)."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in user.attribute}
    w = known.get(user.input[1]) if len(user.input) > 1 else None
    if user.op_type in ("Conv", "ConvTranspose") and w and w[1] and all(d is not None for d in w[1][:2]):
        group = int(attrs.get("group", 1))
        channels = w[1][1] * group if user.op_type == "Conv" else w[1][0]
        return [None, channels] + [None] * (len(w[1]) - 2), f"rank {len(w[1])} and {channels} channels like W"
    if user.op_type in ("MaxPool", "AveragePool", "LpPool") and attrs.get("kernel_shape"):
        rank = 2 + len(attrs["kernel_shape"])
        return [None] * rank, f"rank {rank} from kernel_shape"
    return None, ""
