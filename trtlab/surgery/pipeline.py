"""The surgeon pass runner: run passes in order, normalise after each, measure, and verify on request.

After every pass the runner (not the pass) normalises the graph with onnx-graphsurgeon (cleanup + toposort),
times the pass, counts nodes by op type, initializers and bytes before and after, and, with verification on,
runs the model before and after the pass on the same seeded inputs (``trtlab.surgery.verify``). It stops at the
first pass that changes an output beyond tolerance, fails, or leaves a model onnxruntime cannot load.
Results use the schema "trtlab.surgeon/1".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import onnx

from trtlab.comparators.tolerances import PRECISION_TOLERANCES
from trtlab.errors import TrtlabError
from trtlab.results import Result

SCHEMA = "trtlab.surgeon/1"
FP32_TOLERANCES = PRECISION_TOLERANCES["fp32"]  # passes that keep FP32 math; fp16/bf16 passes bring their own


@dataclass
class PassRecord:
    name: str
    options: dict
    seconds: float = 0.0
    nodes_before: int = 0
    nodes_after: int = 0
    ops_before: dict = field(default_factory=dict)
    ops_after: dict = field(default_factory=dict)
    initializers_before: int = 0
    initializers_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    verified: bool | None = None
    max_abs_error: float | None = None
    status: str = "ok"  # ok | skipped | failed
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    undone: list = field(default_factory=list)  # [{"rewrite": node, "reason": why}] rewrites the runner undid
    normalize_seconds: float = 0.0
    verify_seconds: float = 0.0
    dumped: str | None = None


@dataclass
class SurgeonResult(Result):
    schema: str = SCHEMA
    command: str = "surgeon"
    argv: list = field(default_factory=list)
    model: str | None = None
    output: str | None = None
    passed: bool = True
    passes: list[PassRecord] = field(default_factory=list)
    verify: dict = field(default_factory=dict)  # enabled, reason, seed, tolerances
    failure: str | None = None
    summary: dict = field(default_factory=dict)  # before/after totals
    environment: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


@dataclass
class Step:
    name: str
    options: dict = field(default_factory=dict)


def measure(model: onnx.ModelProto) -> dict:
    from trtlab.model import approx_size, walk_graphs
    from trtlab.passes.base import op_counts

    ops = op_counts(model.graph)
    return {"nodes": sum(ops.values()), "ops": ops,
            "initializers": sum(len(g.initializer) for g in walk_graphs(model.graph)),
            "bytes": approx_size(model)}


GS_NORMALIZE_LIMIT = 64 << 20  # above this, graphsurgeon's export would copy every weight: normalise in place


def _normalize_in_place(model: onnx.ModelProto) -> None:
    from trtlab.passes.graphutil import prune
    from trtlab.passes.toposort import sort_graph

    prune(model.graph)
    sort_graph(model.graph, [])


def normalize(model: onnx.ModelProto, size: int = 0) -> tuple[onnx.ModelProto, str | None]:
    """graphsurgeon cleanup + toposort, model-level fields kept; for models over GS_NORMALIZE_LIMIT (and when gs
    refuses a graph) trtlab's own in-place equivalent (dead nodes and initializers pruned, nodes sorted). Graph
    outputs that became weights (a fully folded branch) are given an Identity node."""
    out, warning = _normalize(model, size)
    _outputs_from_nodes(out.graph)
    return out, warning


def _outputs_from_nodes(graph: onnx.GraphProto) -> None:
    """A graph output that no node produces and that is a weight gets ``Identity(weight)``: a model folded down to
    constants still has nodes (trtlab, onnxruntime and TensorRT's parser refuse or mishandle graphs without any)."""
    produced = {o for n in graph.node for o in n.output}
    inputs = {vi.name for vi in graph.input}
    inits = {t.name: t for t in graph.initializer}
    taken = produced | inputs | set(inits)
    for out in graph.output:
        if out.name in produced or out.name in inputs or out.name not in inits:
            continue
        new = f"{out.name}__value"
        while new in taken:
            new += "_"
        taken.add(new)
        inits[out.name].name = new
        graph.node.append(onnx.helper.make_node("Identity", [new], [out.name], name=f"{out.name}__identity"))


def _normalize(model: onnx.ModelProto, size: int = 0) -> tuple[onnx.ModelProto, str | None]:
    from trtlab.passes.graphutil import graphsurgeon

    if size > GS_NORMALIZE_LIMIT or _reads_outer_weights(model.graph):
        _normalize_in_place(model)
        return model, None
    try:
        with graphsurgeon() as gs:
            graph = gs.import_onnx(model)
            graph.cleanup(remove_unused_graph_inputs=False).toposort()
            out = gs.export_onnx(graph, do_type_check=False)
    except Exception as exc:
        _normalize_in_place(model)
        return model, f"graphsurgeon could not normalise the graph ({type(exc).__name__}: {str(exc)[:150]}); " \
                      "pruned and sorted by trtlab instead"
    for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(out, name, getattr(model, name))
    del out.metadata_props[:]
    out.metadata_props.extend(model.metadata_props)
    del out.opset_import[:]
    out.opset_import.extend(model.opset_import)
    if len(out.functions) != len(model.functions):
        del out.functions[:]
        out.functions.extend(model.functions)
    return out, None


def _reads_outer_weights(graph: onnx.GraphProto) -> bool:
    """Whether a body (If/Loop/Scan) reads an initializer of an enclosing graph: graphsurgeon's export copies such
    a weight into every body that reads it (a model with nested Ifs grew by half), so trtlab normalises those
    models itself."""
    from trtlab.passes.graphutil import outer_refs, subgraphs

    inits = {t.name for t in graph.initializer}
    for node in graph.node:
        for sub in subgraphs(node):
            if outer_refs(sub) & inits or _reads_outer_weights(sub):
                return True
    return False


def fit_ir_version(model: onnx.ModelProto) -> str | None:
    """IR versions below 4 require every initializer to be listed as a graph input too; passes that add
    initializers or drop inputs (extract, to-half, fold-constants) break that, and onnx.checker rejects the model.
    Raise ir_version to 4 then (a format change only: same opsets, same semantics)."""
    if model.ir_version >= 4:
        return None
    inputs = {vi.name for vi in model.graph.input}
    if all(t.name in inputs for t in model.graph.initializer):
        return None
    old, model.ir_version = model.ir_version, 4
    return f"ir_version {old} -> 4: the model has initializers that are not graph inputs, which IR < 4 forbids"


def run_pipeline(model: onnx.ModelProto, steps: list[Step], *, verifier=None, tolerance: tuple | None = None,
                 dump: Callable[[str, int, onnx.ModelProto], str] | None = None, dump_after: set[str] | None = None,
                 on_step: Callable[[str], None] | None = None, result: SurgeonResult | None = None
                 ) -> tuple[onnx.ModelProto, SurgeonResult]:
    """Run ``steps`` on ``model`` (modified in place where passes allow). Never raises for a pass that changes
    outputs: the result says ``passed=False`` and names the pass; bad options raise TrtlabError (exit 2)."""
    from trtlab.passes.registry import PASSES

    result = result or SurgeonResult()
    before = measure(model)
    result.summary["before"] = before
    current = model
    for index, step in enumerate(steps):
        p = PASSES[step.name]
        if on_step:
            on_step(step.name)
        rec = PassRecord(name=step.name, options=dict(step.options), nodes_before=before["nodes"],
                         ops_before=before["ops"], initializers_before=before["initializers"],
                         bytes_before=before["bytes"])
        result.passes.append(rec)
        work = current
        if verifier is not None:  # the pass rewrites a copy: the model verified last stays as it was run
            work = onnx.ModelProto()
            work.CopyFrom(current)
        out = _apply(p, step, work, rec, result)
        if out is None:
            break
        after, after_m = _normalized(out, before, rec, result, step.name)
        if verifier is not None:
            tol = tolerance or out.verify_tolerance or FP32_TOLERANCES  # the user's tolerances win
            state = verifier.state()
            if not _verified(verifier, current, after, tol, p, rec, result):
                repaired = _undo_offending(p, step, current, verifier, state, tol, rec, result)
                if repaired is None:
                    break
                after, after_m = repaired
        if dump and dump_after and (step.name in dump_after or "all" in dump_after):
            rec.dumped = dump(step.name, index, after)
        current, before = after, after_m
    result.summary["after"] = before if result.passed else result.summary["before"]
    return current, result


def _apply(p, step: Step, model: onnx.ModelProto, rec: PassRecord, result: SurgeonResult):
    """Run one pass; a pass that fails (other than on bad options, exit 2) is recorded and ends the pipeline."""
    start = time.perf_counter()
    try:
        out = p(model, **step.options)
    except TrtlabError as exc:
        if exc.code == 2:
            raise
        rec.status, rec.notes = "failed", [exc.format()]
        result.passed, result.failure = False, f"pass {step.name} failed: {exc.problem}"
        return None
    except Exception as exc:
        text = " ".join(str(exc).split())
        rec.status, rec.notes = "failed", [f"{type(exc).__name__}: {text[:300]}"]
        result.passed, result.failure = False, f"pass {step.name} failed ({type(exc).__name__}: {text[:200]})"
        return None
    rec.seconds = time.perf_counter() - start
    rec.notes, rec.skipped = list(out.notes), list(out.skipped)
    result.warnings.extend(f"{step.name}: {w}" for w in out.warnings)
    return out


def _normalized(out, before: dict, rec: PassRecord, result: SurgeonResult, name: str):
    """The runner's normalisation after a pass (cleanup, toposort, IR version), and the counts after it."""
    t0 = time.perf_counter()
    after, warning = normalize(out.model, before["bytes"])
    rec.normalize_seconds = time.perf_counter() - t0
    rec.notes.extend(n for n in (warning, fit_ir_version(after)) if n)
    if _has_bodies(after):
        from trtlab.passes.graphutil import drop_conflicting_value_info

        dropped = drop_conflicting_value_info(after)
        if dropped:
            rec.notes.append(f"{len(dropped)} declared shape(s) that disagree with shape inference dropped "
                             f"({', '.join(dropped[:3])}{', ...' if len(dropped) > 3 else ''})")
    after_m = measure(after)
    rec.nodes_after, rec.ops_after = after_m["nodes"], after_m["ops"]
    rec.initializers_after, rec.bytes_after = after_m["initializers"], after_m["bytes"]
    if out.modified is False and rec.ops_after == rec.ops_before and rec.skipped:
        rec.status = "skipped"
    return after, after_m


MAX_UNDO_CHECKS = 48  # verifications the bisection may spend on one pass


def _undo_offending(p, step: Step, before: onnx.ModelProto, verifier, state: tuple, tol: tuple, rec: PassRecord,
                    result: SurgeonResult):
    """The pass broke the model (verification failed): find the rewrites that did it by bisecting over the nodes
    the pass may leave alone (its ``undo_option``), rerun it with only those left alone, and keep the rest.
    Returns (model, measures), with the record and result marked as passing again, or None when nothing can be
    kept (every node has to stay as it was, or no set of them helps): the pass fails as recorded."""
    if not p.undo_option:
        return None
    failure = result.failure
    units = [n.output[0] for n in before.graph.node if n.output and n.output[0]]
    given = list(step.options.get(p.undo_option) or [])
    checks = 0

    def attempt(excluded: list[str]):
        nonlocal checks
        checks += 1
        verifier.restore(state)
        work = onnx.ModelProto()
        work.CopyFrom(before)
        try:
            out = p(work, **{**step.options, p.undo_option: given + excluded})
        except Exception:  # noqa: BLE001 - a failing attempt only means "not this set"
            return None
        scratch = PassRecord(name=rec.name, options={})
        after, after_m = _normalized(out, measure(before), scratch, SurgeonResult(), step.name)
        check = verifier.check(before, after, tol, rec.name, ort_gaps=p.ort_gaps)
        return None if check.verified is False else (after, after_m, out, scratch, check)

    if attempt(units) is None:
        return None
    kept = list(units)
    chunk = max(1, len(kept) // 2)
    while checks < MAX_UNDO_CHECKS:
        i = 0
        while i < len(kept) and checks < MAX_UNDO_CHECKS:
            trial = kept[:i] + kept[i + chunk:]
            if attempt(trial) is not None:
                kept = trial
            else:
                i += chunk
        if chunk == 1:
            break
        chunk = max(1, chunk // 2)
    if len(kept) == len(units):  # nothing can be kept: the pass fails, as recorded, with what was tried
        rec.undone = [{"rewrite": k, "reason": failure} for k in kept]
        rec.notes.append(f"undoing rewrites did not help: every one of the {len(units)} node(s) has to stay as it "
                         f"was ({checks} verification(s))")
        return None
    final = attempt(kept)
    if final is None:
        return None
    after, after_m, out, scratch, check = final
    rec.nodes_after, rec.ops_after = after_m["nodes"], after_m["ops"]
    rec.initializers_after, rec.bytes_after = after_m["initializers"], after_m["bytes"]
    rec.verified, rec.max_abs_error = check.verified, check.max_abs_error
    rec.notes = list(out.notes) + scratch.notes + ([check.note] if check.note else [])
    rec.skipped = list(out.skipped)
    rec.undone = [{"rewrite": k, "reason": failure} for k in kept]
    rec.notes.append(f"{len(kept)} of {len(units)} node(s) left as they were ({p.undo_option}="
                     f"{'+'.join(kept[:4])}{'+...' if len(kept) > 4 else ''}), because with them rewritten: {failure}")
    rec.status = "ok"
    result.passed, result.failure = True, None
    result.warnings.append(f"{step.name}: {len(kept)} rewrite(s) undone ({'+'.join(kept[:4])}) because with them: "
                           f"{failure}"[:300])
    return after, after_m


def _has_bodies(model: onnx.ModelProto) -> bool:
    return any(n.op_type in ("If", "Loop", "Scan") for n in model.graph.node)


def _verified(verifier, before: onnx.ModelProto, after: onnx.ModelProto, tol: tuple, p, rec: PassRecord,
              result: SurgeonResult) -> bool:
    """Run the model before and after the pass on the same inputs; False (and a failed record) on a change."""
    t0 = time.perf_counter()
    check = verifier.check(before, after, tol, rec.name, ort_gaps=p.ort_gaps)
    rec.verify_seconds = time.perf_counter() - t0
    rec.verified, rec.max_abs_error = check.verified, check.max_abs_error
    if check.note:
        rec.notes.append(check.note)
    if check.verified is False:
        rec.status = "failed"
        rec.notes.append(check.failure)
        result.passed, result.failure = False, check.failure
        return False
    return True


def parse_step(text: str) -> Step:
    """``NAME`` or ``NAME:key=value,key=value`` (values: true/false, numbers, or text; ``+`` separates lists)."""
    from trtlab.passes.registry import PASSES

    name, _, rest = text.partition(":")
    name = name.strip()
    if name not in PASSES:
        raise TrtlabError(f"pass '{name}'", "unknown pass", f"choose from: {', '.join(PASSES)} (see --list)")
    options = {}
    for part in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = part.partition("=")
        options[key.strip().replace("-", "_")] = _value(value) if eq else True
    unknown = [k for k in options if k not in PASSES[name].options]
    if unknown:
        raise TrtlabError(f"pass '{text}'", f"unknown option(s) {', '.join(unknown)}",
                          f"{name} accepts: {', '.join(PASSES[name].options) or '(no options)'}")
    return Step(name, options)


def _value(text: str):
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if "+" in text:
        return [t for t in text.split("+") if t]
    try:
        return int(text)
    except ValueError:
        return text
