"""to-fp16 / to-bf16: store weights and compute activations in half precision, with Casts at FP32 boundaries.

Rewrites (``convert_to_half``):
- every node of a standard domain runs in half precision, unless it is on the keep-list (node name or op type),
  holds a body (If/Loop/Scan), computes a value derived only from ``Shape``/``Size`` and weights (shape
  arithmetic stays exact; a node that also reads an activation, like Reshape or OneHot, computes data), or
  is a ``Cast`` from float to a non-float type. Which of its inputs and outputs become half is read from the
  operator schema (type constraints), so ops that only accept ``tensor(float)`` in a slot (Resize scales,
  Range, ...) keep FP32 there and mixed-type exports (``Sub``/``Where``/``Pow`` with FP32 constants) stay
  well typed;
- float weights read in half -> stored in half (FP16 values clipped to +-65504, counted in the notes); a
  weight read both ways is stored twice;
- where a tensor's dtype differs from what a reader needs, one ``Cast`` is inserted (shared by all readers);
- ``Cast(to=float)`` and ``ConstantOfShape(value=float)`` in half nodes produce half;
- graph inputs and outputs keep their dtype (``keep_io_types``, default on): Casts at the edges.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from trtlab.comparators.tolerances import PRECISION_TOLERANCES
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult, main_opset

from trtlab.errors import TrtlabError

HALF = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
HALF_STR = {TensorProto.FLOAT16: "tensor(float16)", TensorProto.BFLOAT16: "tensor(bfloat16)"}
FLOAT = TensorProto.FLOAT
FP16_MAX = 65504.0
ALWAYS_FP32 = {"EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
               "Bernoulli",
               "BitCast",  # reinterprets bits: a half input is another value
               "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss",  # losses accumulate: FP32
               # onnxruntime expands these functions with FP32 constants: the half model does not type-check
               "MeanVarianceNormalization", "GroupNormalization",
               # sequences keep the element type they were declared with
               "SplitToSequence", "SequenceConstruct", "SequenceInsert", "SequenceEmpty", "SequenceErase",
               "SequenceAt", "ConcatFromSequence", "SequenceMap"}
SCATTER_REDUCING = ("ScatterND", "ScatterElements")  # with reduction="add"/"mul"/...: accumulate in FP32
BF16_OPSET = 13


def convert_to_half(proto: onnx.ModelProto, precision: str, keep_fp32: Iterable[str] = (),
                    keep_io_types: bool = True) -> onnx.ModelProto:
    """A copy of ``proto`` converted to ``precision`` ("fp16" or "bf16"); see the module docstring.

    Raises TrtlabError (exit 2) for bf16 below opset 13, where the model cannot hold bfloat16 tensors."""
    model, _conv = _convert(proto, precision, set(keep_fp32), keep_io_types)
    return model


def convert_with_report(proto: onnx.ModelProto, precision: str, keep_fp32: Iterable[str] = (),
                        keep_io_types: bool = True) -> tuple[onnx.ModelProto, list[str], float | None, list[str]]:
    """``convert_to_half`` plus what it did: (model, notes, converted fraction of the float compute nodes,
    warnings: a fraction below ``LOW_FRACTION`` means the "half" model computes mostly in FP32)."""
    model, conv = _convert(proto, precision, set(keep_fp32), keep_io_types)
    frac = conv.fraction()
    fold = foldable(proto)
    return (model, conv.notes(), frac,
            low_fraction_warning(frac, conv.stats["float_nodes"], precision, fold) + conv.clip_warning(fold))


def foldable(model: onnx.ModelProto) -> bool:
    """Whether ``--fold-constants`` would change the main graph: a node computed from constants only, or a
    BatchNormalization right after a Conv (fused into it). False once the model was folded: then advice to fold
    first would only repeat what already ran."""
    consts = {t.name for t in model.graph.initializer}
    consts.update(o for n in model.graph.node if n.op_type == "Constant" for o in n.output)
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        reads = [r for r in node.input if r]
        if node.op_type != "Constant" and reads and all(r in consts for r in reads):
            return True
        if node.op_type == "BatchNormalization" and reads and producer.get(reads[0]) == "Conv":
            return True
    return False


LOW_FRACTION = 0.5


def low_fraction_warning(frac: float | None, float_nodes: int, precision: str, fold: bool = True) -> list[str]:
    if frac is None or frac >= LOW_FRACTION:
        return []
    return [f"only {frac:.0%} of the {float_nodes} float compute node(s) run in {precision}: the result is mostly "
            "FP32 (the notes say why nodes stayed FP32: keep-list, unknown input types, shape arithmetic)"
            + ("; `trtlab surgeon MODEL --fold-constants -o F.onnx` first makes more types known" if fold else "")]


def _convert(proto, precision, keep, keep_io_types):
    from trtlab.passes.fold_constants import constants_to_initializers

    if precision not in HALF:
        raise ValueError(f"precision must be fp16 or bf16, not {precision!r}")
    if precision == "bf16" and main_opset(proto) < BF16_OPSET:
        raise TrtlabError(f"bf16 conversion of a model with opset {main_opset(proto)}",
                          f"bfloat16 needs opset {BF16_OPSET} or later (Cast and most ops gained it there)",
                          f"convert the opset first: `trtlab surgeon MODEL --opset {BF16_OPSET} --to-bf16 -o OUT.onnx` "
                          f"(or -p opset:target={BF16_OPSET}); to build, `trtlab surgeon MODEL --opset {BF16_OPSET} "
                          "-o M13.onnx` then `trtlab build M13.onnx --precision bf16`; or use fp16")
    half = HALF[precision]
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    constants_to_initializers(model.graph)
    types = {k: v[0] for k, v in gu.shape_facts(model).items()}
    conv = _Converter(model, half, keep, types, keep_io_types)
    conv.run()
    return model, conv


class _Converter:
    def __init__(self, model, half, keep, types, keep_io_types):
        self.model, self.g, self.half = model, model.graph, half
        self.keep, self.types, self.keep_io = keep, types, keep_io_types
        self.opset = main_opset(model)
        self.native: dict[str, int] = {}  # tensor -> dtype it has after conversion (float tensors only)
        self.casts: dict[tuple[str, int], str] = {}
        self.clipped_names: list[str] = []
        self.stats = {"half_nodes": 0, "fp32_nodes": 0, "casts": 0, "weights": 0, "clipped": 0, "kept": 0,
                      "float_nodes": 0, "float_half": 0}

    # which nodes run in half ---------------------------------------------------------------------------------
    def _shape_derived(self) -> set[str]:
        """Tensors computed from shapes only: outputs of Shape/Size, and of nodes that read a shape-derived value
        and otherwise only weights or other shape-derived values. A node that also reads an activation (Reshape
        of data, OneHot of an input's indices, Expand, Tile, ...) computes data: the rule stops there, or it would
        spread through the whole graph."""
        derived: set[str] = set()
        inits = {t.name for t in self.g.initializer}
        for node in self.g.node:
            reads = [r for r in node.input if r]
            if node.op_type in ("Shape", "Size") or (
                    any(r in derived for r in reads) and all(r in derived or r in inits for r in reads)):
                derived.update(o for o in node.output if o)
        return derived

    def _half_mode(self, node, derived: set[str]) -> bool:
        if node.name in self.keep or node.op_type in self.keep or (node.output and node.output[0] in self.keep):
            self.stats["kept"] += 1
            return False
        if node.domain not in ("", "ai.onnx") or node.op_type in ALWAYS_FP32 or any(True for _ in gu.subgraphs(node)):
            return False
        if node.op_type in SCATTER_REDUCING and _attr(node, "reduction", b"none") not in (b"none", "none"):
            return False
        if any(o in derived for o in node.output if o):
            return False  # shape arithmetic stays exact; a node that only reads a shape (Reshape's target) may not
        if node.op_type == "Cast" and _attr(node, "to") != FLOAT:
            return False
        if any(r and r not in self.types for r in node.input):
            return False  # unknown input type: leave it alone
        return _schema(node, self.opset) is not None

    # main ------------------------------------------------------------------------------------------------------
    def run(self) -> None:
        g = self.g
        derived = self._shape_derived()
        inits = {t.name: t for t in g.initializer}
        for vi in g.input:
            if vi.name not in inits and vi.type.tensor_type.elem_type == FLOAT:
                self.native[vi.name] = FLOAT if self.keep_io else self.half
                if not self.keep_io:
                    vi.type.tensor_type.elem_type = self.half
        needs: dict[str, set[int]] = {}  # initializer -> dtypes its readers need
        plans = []
        for node in g.node:
            mode = self._half_mode(node, derived)
            want = self._slot_types(node, mode)
            plans.append((node, mode, want))
            for name, dtype in want.items():
                if name in inits:
                    needs.setdefault(name, set()).add(dtype)
            for sub in gu.subgraphs(node):
                for ref in gu.outer_refs(sub):
                    if ref in inits and self.types.get(ref) == FLOAT:
                        needs.setdefault(ref, set()).add(FLOAT)
        out_names = {o.name for o in g.output} | {vi.name for vi in g.input}  # inputs: old exporters list weights
        self._convert_weights(inits, needs, out_names)
        new_nodes = []
        for node, mode, want in plans:
            for i, name in enumerate(node.input):
                if name in want:
                    node.input[i] = self._as(name, want[name], new_nodes)
            for sub in gu.subgraphs(node):
                mapping = {r: self._as(r, FLOAT, new_nodes) for r in gu.outer_refs(sub)
                           if self.native.get(r, FLOAT) != FLOAT and self.types.get(r) == FLOAT}
                if mapping:
                    gu.rename_reads(sub, mapping)
            self._set_outputs(node, mode)
            new_nodes.append(node)
            self.stats["half_nodes" if mode else "fp32_nodes"] += 1
            if self._float_compute(node):
                self.stats["float_nodes"] += 1
                self.stats["float_half"] += bool(mode)
        self._fix_graph_outputs(new_nodes)
        del g.node[:]
        g.node.extend(new_nodes)
        for sub_g in gu.walk_graphs(g):
            del sub_g.value_info[:]

    def _slot_types(self, node, mode: bool) -> dict[str, int]:
        """For each float input of ``node``: the dtype it must be read in."""
        want: dict[str, int] = {}
        schema = _schema(node, self.opset) if mode else None
        for i, name in enumerate(node.input):
            if not name or self.types.get(name) != FLOAT:
                continue
            want[name] = self.half if schema is not None and _allows(schema, i, True, self.half) else FLOAT
        return want

    def _set_outputs(self, node, mode: bool) -> None:
        schema = _schema(node, self.opset) if mode else None
        if schema is not None and node.op_type == "Cast":
            node.attribute[[a.name for a in node.attribute].index("to")].i = self.half
        if schema is not None and node.op_type == "ConstantOfShape":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == FLOAT:
                    a.t.CopyFrom(self._half_tensor(numpy_helper.to_array(a.t), a.t.name))
        for i, name in enumerate(node.output):
            if not name:
                continue
            if node.op_type == "ConstantOfShape" and schema is not None and self.types.get(name) == FLOAT:
                self.native[name] = self.half
            elif self.types.get(name) == FLOAT:
                self.native[name] = self.half if schema is not None and _allows(schema, i, False, self.half) else FLOAT
            elif node.op_type == "Cast" and schema is not None:
                self.native[name] = self.half

    def _as(self, name: str, dtype: int, new_nodes: list) -> str:
        have = self.native.get(name, FLOAT)
        if have == dtype:
            return name
        key = (name, dtype)
        if key not in self.casts:
            cast_name = f"{name}__trtlab_{'fp32' if dtype == FLOAT else 'half'}"
            new_nodes.append(onnx.helper.make_node("Cast", [name], [cast_name], to=dtype, name=cast_name))
            self.native[cast_name] = dtype
            self.casts[key] = cast_name
            self.stats["casts"] += 1
        return self.casts[key]

    def _fix_graph_outputs(self, new_nodes: list) -> None:
        for out in self.g.output:
            name = out.name
            if self.native.get(name, FLOAT) == FLOAT or self.types.get(name) != FLOAT:
                continue
            if not self.keep_io:
                out.type.tensor_type.elem_type = self.half
                continue
            inner = f"{name}__trtlab_half"
            for node in new_nodes:
                for i, o in enumerate(node.output):
                    if o == name:
                        node.output[i] = inner
                for i, r in enumerate(node.input):
                    if r == name:
                        node.input[i] = inner
                for sub in gu.subgraphs(node):
                    gu.rename_reads(sub, {name: inner})
            new_nodes.append(onnx.helper.make_node("Cast", [inner], [name], to=FLOAT, name=f"{name}__trtlab_output"))
            self.stats["casts"] += 1

    def _convert_weights(self, inits: dict, needs: dict, out_names: set[str]) -> None:
        for name, dtypes in needs.items():
            if self.half not in dtypes:
                continue
            t = inits[name]
            value = numpy_helper.to_array(t).astype(np.float32)
            half_t = self._half_tensor(value, name)
            self.stats["weights"] += 1
            if dtypes == {self.half} and name not in out_names:
                t.CopyFrom(half_t)
                self.native[name] = self.half
            else:
                half_t.name = f"{name}__trtlab_half"
                self.g.initializer.append(half_t)
                self.native[half_t.name] = self.half
                self.casts[(name, self.half)] = half_t.name

    def _half_tensor(self, value: np.ndarray, name: str) -> TensorProto:
        if self.half == TensorProto.FLOAT16:
            clipped = int(np.count_nonzero(np.abs(value[np.isfinite(value)]) > FP16_MAX))
            self.stats["clipped"] += clipped
            if clipped:
                self.clipped_names.append(name)
                value = np.where(np.isfinite(value), np.clip(value, -FP16_MAX, FP16_MAX), value)
            return numpy_helper.from_array(value.astype(np.float16), name)
        bits = np.ascontiguousarray(value, dtype=np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        nan = np.isnan(value)
        rounded[nan] = 0x7FC0
        t = TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=list(value.shape))
        t.raw_data = rounded.tobytes()
        return t

    FLOAT_COMPUTE_SKIP = ("Cast", "Shape", "Size", "Identity", "Constant")

    def _float_compute(self, node) -> bool:
        """A node that computes on float data (what a precision change is about): a float input or output, and not
        a Cast/Shape/Identity."""
        if node.op_type in self.FLOAT_COMPUTE_SKIP:
            return False
        return any(self.types.get(n) == FLOAT for n in list(node.input) + list(node.output) if n)

    def fraction(self) -> float | None:
        """Converted share of the float compute nodes (None when the model has none)."""
        s = self.stats
        return s["float_half"] / s["float_nodes"] if s["float_nodes"] else None

    def notes(self) -> list[str]:
        s = self.stats
        frac = self.fraction()
        share = f"{frac:.0%} of {s['float_nodes']} float compute node(s) converted; " if frac is not None else ""
        notes = [f"{share}{s['half_nodes']} node(s) in half precision, {s['fp32_nodes']} in FP32 "
                 f"({s['kept']} by the keep-list), {s['weights']} weight(s) converted, {s['casts']} Cast(s) inserted"]
        if s["clipped"]:
            notes.append(f"{s['clipped']} weight value(s) beyond +-65504 clipped to the FP16 range "
                         f"({clipped_list(self.clipped_names)})")
        return notes

    def clip_warning(self, fold: bool = True) -> list[str]:
        """Clipped weights, named, with what avoids them: folding first when it would change the model (a
        BatchNormalization variance above 65504 is in range once folded into the Conv before it), else keeping
        their readers in FP32."""
        if not self.clipped_names:
            return []
        import shlex

        readers = list(dict.fromkeys(n.name or n.output[0] for n in self.g.node
                                     if (n.name or n.output) and any(i in self.clipped_names for i in n.input)))
        keep = ("keep their readers in FP32 (`--keep-fp32 " + " ".join(shlex.quote(r) for r in readers[:8]) + "`)"
                if readers else "keep their readers in FP32 (--keep-fp32 NODE)")
        return [f"{self.stats['clipped']} weight value(s) beyond +-65504 clipped to FP16 in "
                f"{clipped_list(self.clipped_names)}: "
                + ("fold first (`trtlab surgeon MODEL --fold-constants --to-fp16 -o OUT.onnx`; folded into a Conv "
                   f"they are usually in range), or {keep}" if fold else keep)]


def clipped_list(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


_attr = gu.attr


_SCHEMAS: dict = {}


def _schema(node, opset: int):
    key = (node.op_type, node.domain, opset)
    if key not in _SCHEMAS:
        try:
            _SCHEMAS[key] = onnx.defs.get_schema(node.op_type, opset, node.domain)
        except Exception:
            _SCHEMAS[key] = None
    return _SCHEMAS[key]


def _allows(schema, index: int, is_input: bool, half: int) -> bool:
    formals = schema.inputs if is_input else schema.outputs
    if not formals:
        return False
    formal = formals[min(index, len(formals) - 1)]
    if index >= len(formals) and formal.option != onnx.defs.OpSchema.FormalParameterOption.Variadic:
        return False
    type_str = formal.type_str
    for c in schema.type_constraints:
        if c.type_param_str == type_str:
            return HALF_STR[half] in c.allowed_type_strs
    return type_str == HALF_STR[half]


def unmatched_keep(model: onnx.ModelProto, keep: Iterable[str]) -> list[str]:
    """Entries of a keep-list that are neither a node name nor an op type anywhere in ``model`` (typos)."""
    from trtlab.model import walk_nodes

    seen: set[str] = set()
    for node, _depth in walk_nodes(model.graph):
        seen.update((node.name, node.op_type, node.output[0] if node.output else ""))
    return [k for k in keep if k not in seen]


def keep_warning(unmatched: list[str], model: onnx.ModelProto | None = None) -> str:
    """The warning for keep-list typos, with the names the model does have (closest first), so that one of them
    can be typed as is."""
    text = (f"--keep-fp32 {' '.join(unmatched)}: matches no node name or op type of the model, so it keeps nothing "
            "in FP32 (names are case-sensitive")
    if model is None:
        return text + ")"
    return text + "; " + keep_names_text(model, unmatched) + ")"


def keep_names_text(model: onnx.ModelProto, wanted: list[str], limit: int = 6) -> str:
    import difflib

    from trtlab.model import walk_nodes

    names, ops = [], []
    for node, _depth in walk_nodes(model.graph):
        names.append(node.name or (node.output[0] if node.output else ""))
        ops.append(node.op_type)
    names = [n for n in dict.fromkeys(names) if n]
    close = [m for w in wanted for m in difflib.get_close_matches(w, names + ops, n=3, cutoff=0.5)]
    shown = list(dict.fromkeys([c for c in close if c in names] + names))[:limit]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    near = f"closest: {', '.join(dict.fromkeys(close))}; " if close else ""
    return (f"{near}node names: {', '.join(shown) or 'none'}{more}; op types: "
            f"{', '.join(sorted(set(ops))[:limit * 2])}")


def _run(precision):
    def run(model: onnx.ModelProto, keep_fp32: Iterable[str] = (), keep_io_types: bool = True) -> PassResult:
        if isinstance(keep_fp32, str):
            keep_fp32 = [k for k in keep_fp32.split(",") if k]
        unmatched = unmatched_keep(model, keep_fp32)
        converted, notes, _frac, low = convert_with_report(model, precision, keep_fp32, keep_io_types)
        return PassResult(converted, notes, modified=True, verify_tolerance=PRECISION_TOLERANCES[precision],
                          warnings=([keep_warning(unmatched, model)] if unmatched else []) + low)
    return run


_OPTIONS = {"keep_fp32": "node names, op types or nodes' first output names that stay in FP32 (Casts at their "
                         "boundary)",
            "keep_io_types": "keep graph inputs/outputs in their original dtype (default on)"}
TO_FP16 = Pass(name="to-fp16", description="convert weights and activations to FP16, Casts around an FP32 keep-list",
               run=_run("fp16"), options=_OPTIONS, numeric=True,
               ort_gaps=True, undo_option="keep_fp32")
TO_BF16 = Pass(name="to-bf16", description="convert weights and activations to BF16, Casts around an FP32 keep-list",
               run=_run("bf16"), options=_OPTIONS, numeric=True,
               ort_gaps=True, undo_option="keep_fp32")
