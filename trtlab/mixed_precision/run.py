"""``debug precision``: risk analysis, search, held-out verdict, mixed model, kept lists; one result object."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from trtlab import weights
from trtlab.mixed_precision.evaluate import Evaluator, Goal
from trtlab.mixed_precision.risk import analyze, search_order
from trtlab.mixed_precision.search import search
from trtlab.mixed_precision.sim import half_set, name_nodes, plan_half

SCHEMA = "trtlab.debug.precision/1"
RISK_TOP = 200


@dataclass
class PrecisionResult:
    schema: str
    model: dict
    precision: str
    target: str
    ref: str
    goal: str
    samples: dict
    passed: bool  # the goal holds on the held-out samples
    reached: bool  # the goal holds on the search samples
    complete: bool
    kept: list[dict]
    exclude_nodes: list[str]  # AutoCast --nodes_to_exclude: one anchored, escaped regex per kept node
    low_precision_fraction: float  # of float compute (MACs, else output elements), in the mixed model
    low_precision_fraction_max: float  # with nothing kept (what the to-fp16 pass converts at most)
    before: dict  # held-out, all half
    after: dict  # held-out, mixed
    mixed_onnxruntime: dict  # mixed.onnx itself in onnxruntime on the held-out samples
    risk: list[dict]
    layers: list[dict]  # every float node in graph order: relative error when all half, kept or not
    evaluations: list[dict]
    counts: dict
    output: str | None
    files: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    command: str = "debug precision"
    argv: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)


def split_samples(samples: list[dict], holdout: int | None) -> tuple[list[dict], list[dict]]:
    """Search and held-out samples: the last ``holdout`` (default a third, at least 1) are held out."""
    from trtlab.errors import TrtlabError

    n = len(samples)
    h = max(1, n // 3) if holdout is None else holdout
    if n < 2 or h < 1 or h >= n:
        raise TrtlabError("debug precision", f"{n} sample(s) cannot be split into search and held-out sets "
                          f"(--holdout {h})", "give at least 2 samples, e.g. --samples 3 (one held out)")
    return samples[: n - h], samples[n - h:]


def run_precision(loaded, precision: str, target: str, ref: str, goal: Goal, samples: list[dict],
                  holdout: int | None, out_path: Path | None, max_evaluations: int = 200, risk_only: bool = False,
                  say=None, max_seconds: float | None = None) -> PrecisionResult:
    from trtlab.backends import parse_spec
    from trtlab.model import model_summary

    start = time.perf_counter()
    summary = model_summary(loaded)
    model, renamed = name_nodes(weights.materialize(loaded.proto))
    notes = [f"{renamed} unnamed or duplicate node name(s) given names (the keep-list names nodes)"] if renamed else []
    search_set, held = split_samples(samples, holdout)
    ref_spec = parse_spec(ref)
    target_spec = parse_spec(target)
    real = None
    if target_spec.options.get("cuda"):
        real = parse_spec("onnxrt:cuda" + (",tf32=0" if "tf32" not in target_spec.options else ""))
    plan = plan_half(model, precision)
    counts: dict = {}
    if say:
        say(f"risk analysis: {len(plan.float_nodes)} float node(s), {len(plan.slots)} run in {precision}")
    risks = analyze(model, plan, search_set[0], ref_spec, counts, say)
    order = {n.name: i for i, n in enumerate(model.graph.node)}
    by_node = {r.node: r for r in risks}
    cost_total = sum(r.cost for r in risks) or 1.0
    ev = Evaluator(model, plan, goal, {"search": search_set, "holdout": held}, ref_spec, parse_spec(ref), real,
                   search_spec(ref))
    t_analysis = time.perf_counter() - start
    if risk_only:
        outcome = None
        kept: list[str] = []
    else:
        outcome = search(ev, search_order(risks, order), max_evaluations, say, max_seconds,
                         {r.node: r.cost for r in risks}, t_analysis)
        kept = sorted(outcome.kept, key=lambda n: order[n])
    t_search = time.perf_counter() - start - t_analysis
    before = ev.evaluate([], "holdout", "held-out: all half")
    after = before
    fraction = sum(by_node[n].cost for n in half_set(model, plan, kept) if n in by_node) / cost_total
    fraction_max = sum(by_node[n].cost for n in plan.slots if n in by_node) / cost_total
    files, ort_check = {}, {}
    if out_path is not None and not risk_only:
        after, ort_check = _write_mixed(model, precision, kept, out_path, ev, held)
        files["mixed"] = str(out_path)
    elif not risk_only:
        after = ev.evaluate(kept, "holdout", "held-out: mixed")
    search_counts = {**ev.counts, "analysis_sessions": counts.get("sessions", 0)}
    return PrecisionResult(
        schema=SCHEMA, model=summary, precision=precision, target=target, ref=ref, goal=goal.describe(),
        samples={"search": len(search_set), "holdout": len(held)},
        passed=bool(after.passed), reached=bool(outcome.reached) if outcome else before.passed,
        complete=bool(outcome.complete) if outcome else False,
        kept=[_kept_entry(by_node[n]) for n in kept], exclude_nodes=[f"^{re.escape(n)}$" for n in kept],
        low_precision_fraction=round(fraction, 4), low_precision_fraction_max=round(fraction_max, 4),
        before=before.to_json() | {"outputs": before.outputs}, after=after.to_json() | {"outputs": after.outputs},
        mixed_onnxruntime=ort_check,
        risk=[r.to_json() for r in sorted(risks, key=lambda r: (-r.score, order[r.node]))[:RISK_TOP]],
        layers=[{"node": r.node, "op": r.op, "error": _finite(r.error), "kept": r.node in set(kept)}
                for r in risks],
        evaluations=[e.to_json() for e in ev.log], counts=search_counts,
        output=str(out_path) if out_path is not None and not risk_only else None, files=files,
        timing={"analysis_s": round(t_analysis, 3), "search_s": round(t_search, 3),
                "total_s": round(time.perf_counter() - start, 3)},
        notes=notes + ([outcome.note] if outcome and outcome.note else []))


def search_spec(ref: str):
    """What search steps run the simulation on: the reference's CPU onnxruntime with extended graph optimizations
    (fusions: ~3x faster on conv nets; the simulation's explicit Cast pairs stay, outputs identical) unless the
    reference names its own level or device. Held-out verdicts keep the reference's own spec."""
    from trtlab.backends import parse_spec

    spec = parse_spec(ref)
    if spec.name != "onnxrt" or "opt" in spec.options or spec.options.get("cuda"):
        return spec
    return parse_spec(ref.strip() + ("," if ":" in ref else ":") + "opt=extended")


def risk_table(proto, precision: str, feeds: dict, ref: str = "onnxrt", top: int = 50) -> list[dict]:
    """The risk ranking alone (``compare --fp16-risk``): one FP32 run and one half run on ``feeds``."""
    from trtlab.backends import parse_spec

    model, _ = name_nodes(weights.materialize(proto))
    plan = plan_half(model, precision)
    risks = analyze(model, plan, feeds, parse_spec(ref), {})
    order = {n.name: i for i, n in enumerate(model.graph.node)}
    return [r.to_json() for r in sorted(risks, key=lambda r: (-r.score, order[r.node]))[:top]]


def _finite(x):
    return None if x is None else (x if math.isfinite(x) else 1e30)


def _kept_entry(r) -> dict:
    return {"node": r.node, "op": r.op, "score": None if math.isinf(r.score) else round(r.score, 4),
            "reasons": r.reasons}


def _write_mixed(model, precision, kept, out_path: Path, ev: Evaluator, held: list[dict]):
    """Write mixed.onnx (atomically); the verdict on the held-out samples runs the written file itself (widened
    for a faithful CPU run, or as it is on a real FP16 target); also run it as it is in onnxruntime (CPU)."""
    from trtlab import backends
    from trtlab.backends import parse_spec
    from trtlab.mixed_precision.widen import widen
    from trtlab.model import load_model, save_model
    from trtlab.passes.to_half import convert_to_half

    save_model(convert_to_half(model, precision, kept), out_path)
    mixed = load_model(out_path).proto
    if ev.real_spec is not None:
        verdict = ev.judge_model(mixed, ev.real_spec, "holdout", "held-out: mixed.onnx", kept)
    else:
        verdict = ev.judge_model(widen(mixed), ev.run_spec, "holdout", "held-out: mixed.onnx (widened)", kept)
    check = {"loads": False}
    try:
        with backends.create(parse_spec("onnxrt")) as b:
            b.load(mixed, None)
            ev.counts["sessions"] += 1
            refs = ev.reference_outputs("holdout")
            ok = True
            worst: dict = {}
            for feeds, ref in zip(held, refs):
                out = b.run(feeds)
                for name in ev.outputs:
                    passed, metrics = ev.goal.judge(name, ref[name], out[name])
                    ok = ok and passed
                    worst = metrics if not worst else {k: _pick(k, worst[k], metrics[k]) for k in metrics}
            check = {"loads": True, "passed": ok, "worst": worst}
    except Exception as exc:  # reported in the result: the written model must load
        check = {"loads": False, "error": " ".join(str(exc).split())[:300]}
    return verdict, check


def _pick(key, a, b):
    vals = [v for v in (a, b) if v is not None]
    if not vals:
        return None
    return min(vals) if key in ("cosine", "snr_db") else max(vals)
