"""``trtlab debug reduce``: shrink a failing model to a minimal subgraph that still fails the same way.

Algorithm, over the work nodes in topological order (constant nodes ride along, see ``reduce_graph``):

1. ``original``: the check runs on the whole model once; it must fail (else: nothing to reduce, exit 2).
2. ``bisect``: binary search for the shortest failing prefix ``[0, end]``, then for the latest start ``s`` with
   ``[s, end]`` still failing. With one failing node that is at most ``2 * ceil(log2 N)`` checks and leaves the
   node alone. Only candidates that were checked and failed are ever kept, so the result always reproduces,
   even when failing is not monotonic along the order.
3. ``linear``: remove chunks of the kept nodes (half, quarter, ... one node), keeping every removal that still
   fails, until a sweep of single nodes removes nothing.

Every check is appended to ``reduce.jsonl`` in the run directory (candidate node ranges, size, result, time).
``--replay`` with such a log answers the checks it already holds without running them again.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from trtlab.errors import TrtlabError
from trtlab.reducer.graph import Candidate, Plan
from trtlab.results import Result

SCHEMA = "trtlab.debug.reduce/1"
LOG_SCHEMA = "trtlab.debug.reduce.log/1"
LOG = "reduce.jsonl"


def bisect_budget(n: int) -> int:
    return 2 * math.ceil(math.log2(max(n, 1))) + 4


@dataclass
class ReduceResult(Result):
    schema: str
    command: str
    argv: list[str]
    model: dict
    failure: dict
    output: str
    reproduced: bool
    nodes_before: int
    nodes_after: int
    work_nodes_before: int
    work_nodes_after: int
    kept: list[dict]
    inputs: list[str]
    outputs: list[str]
    checks: dict
    original: str
    final: str
    history: list[dict]
    inputs_file: str | None = None  # --fails compare: the reproducer's boundary feeds (MIN.inputs.npz)
    reproduce: str | None = None  # the command that shows the reproducer failing on its own
    timing: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when the reproducer was written and still fails the way the original does."""
        return self.reproduced


def ranges_text(keep) -> str:
    """Work positions as compact ranges: (0, 1, 2, 5) -> '0-2,5'."""
    parts, start, prev = [], None, None
    for p in sorted(keep):
        if start is None:
            start = prev = p
        elif p == prev + 1:
            prev = p
        else:
            parts.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = p
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ",".join(parts)


def read_replay(path, digest: str | None) -> dict[str, bool]:
    p = Path(path)
    if not p.is_file():
        raise TrtlabError(f"--replay {path}", "file not found", f"pass the {LOG} of an earlier run")
    answers: dict[str, bool] = {}
    try:
        lines = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtlabError(f"--replay {path}", f"not a reduce log ({exc})",
                          f"pass the {LOG} of an earlier run") from None
    if not lines or lines[0].get("schema") != LOG_SCHEMA:
        raise TrtlabError(f"--replay {path}", "not a trtlab debug reduce log", f"pass the {LOG} of an earlier run")
    if digest and lines[0].get("model_sha256") not in (None, digest):
        raise TrtlabError(f"--replay {path}", "the log was written for another model (sha256 differs)",
                          "replay a log of this exact model, or drop --replay")
    for entry in lines[1:]:
        if "candidate" in entry and isinstance(entry.get("reproduces"), bool):
            answers[entry["candidate"]] = entry["reproduces"]
    return answers


class Reducer:
    """Runs the phases; ``check`` memoizes candidates, counts checks per phase and writes the log."""

    def __init__(self, plan: Plan, mode, log_path: Path, replay: dict[str, bool] | None = None, say=None):
        self.plan, self.mode = plan, mode
        self.replay = replay or {}
        self.memo: dict[str, tuple[bool, Candidate | None]] = {}
        self.counts = {"original": 0, "bisect": 0, "linear": 0, "replayed": 0}
        self.history: list[dict] = []
        self.say = say or (lambda text: None)
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, entry: dict) -> None:
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()

    def record(self, phase: str, candidate: str, size: int, work: int, reproduces: bool, detail: str,
               seconds: float, replayed: bool = False, extra: dict | None = None) -> None:
        entry = {"check": len(self.history) + 1, "phase": phase, "candidate": candidate, "nodes": size,
                 "work_nodes": work, "reproduces": reproduces, "detail": detail, "seconds": round(seconds, 4),
                 "replayed": replayed, **(extra or {})}
        self.history.append(entry)
        self.write(entry)
        verdict = "fails (kept)" if reproduces else "passes (dropped)"
        short = detail if len(detail) <= 110 else detail[:107] + "..."
        self.say(f"[{phase} {self.counts[phase] if not replayed else 'replay'}] nodes {candidate} ({work} work, "
                 f"{size} in model): {verdict} - {short}")

    def check(self, keep, phase: str) -> bool:
        key = ranges_text(keep)
        if key in self.memo:
            return self.memo[key][0]
        cand = self.plan.candidate(keep)
        extra = {"inputs": len(cand.inputs), "outputs": len(cand.outputs)}
        if key in self.replay:
            self.counts["replayed"] += 1
            self.memo[key] = (self.replay[key], cand)
            self.record(phase, key, len(cand.origin), len(cand.keep), self.replay[key], "from the replay log", 0.0,
                        True, extra)
            return self.replay[key]
        self.counts[phase] += 1
        start = time.perf_counter()
        verdict = self.mode(cand)
        self.memo[key] = (verdict.reproduces, cand)
        self.record(phase, key, len(cand.origin), len(cand.keep), verdict.reproduces, verdict.detail,
                    time.perf_counter() - start, extra=extra)
        return verdict.reproduces

    def bisect(self) -> list[int]:
        n = self.plan.size
        lo, hi = 0, n - 1  # the whole model (prefix ending at n-1) is known to fail
        while lo < hi:
            mid = (lo + hi) // 2
            if self.check(range(mid + 1), "bisect"):
                hi = mid
            else:
                lo = mid + 1
        end = hi
        lo, hi = 0, end  # [0, end] fails (checked, or the whole model)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.check(range(mid, end + 1), "bisect"):
                lo = mid
            else:
                hi = mid - 1
        return list(range(lo, end + 1))

    def linear(self, keep: list[int]) -> list[int]:
        chunk = max(1, len(keep) // 2)
        while len(keep) > 1:
            removed = False
            i = 0
            while i < len(keep) and len(keep) > 1:
                trial = keep[:i] + keep[i + chunk:]
                if trial and self.check(trial, "linear"):
                    keep, removed = trial, True
                else:
                    i += chunk
            if chunk == 1 and not removed:
                break
            chunk = max(1, chunk // 2)
        return keep

    def close(self) -> None:
        self.log.close()


def learn_types(plan: Plan, samples: list[dict], freeze: bool = False) -> list[str]:
    """Type the boundaries shape inference could not by running what onnxruntime can run of the model."""
    from trtlab.reducer.graph import observe, runnable_part

    missing = plan.untyped()
    if not missing and not freeze:
        return []
    notes = []
    everything = [o for n in plan.model.graph.node for o in n.output if o]
    try:  # onnxruntime runs com.microsoft ops and more that onnx.defs has no schema for: the whole model first
        values = observe(plan.model, samples[:1], everything)[0]
    except Exception:  # noqa: BLE001 (it refused the model: fall back to the nodes with a schema)
        values = None
    try:
        if values is None:
            part, dropped = runnable_part(plan.model)
            if dropped:
                notes.append(f"types: onnxruntime refused the whole model; it ran it without {len(dropped)} "
                             f"node(s) that have no ONNX schema ({', '.join(dropped[:3])}"
                             f"{', ...' if len(dropped) > 3 else ''})")
            values = observe(part, samples[:1], [o for n in part.graph.node for o in n.output if o])[0]
        values.update(samples[0])
    except Exception as exc:  # noqa: BLE001 (TrtlabError or any onnxruntime error): carry on with what inference gave
        text = exc.format() if isinstance(exc, TrtlabError) else " ".join(str(exc).split())[:200]
        return notes + [f"types: running the model in onnxruntime to learn shapes failed ({text})"]
    if freeze:
        for name, arr in values.items():
            if name in plan.facts:
                plan.facts[name] = (plan.facts[name][0], list(arr.shape))
    added = plan.add_observed(values)
    left = plan.untyped()
    if added:
        notes.append(f"types: {added} tensor(s) typed from an onnxruntime run (shape inference left them open)")
    if left:
        notes.append(f"types: {len(left)} tensor(s) stay untyped ({', '.join(left[:3])}"
                     f"{', ...' if len(left) > 3 else ''}); candidates cut there declare them without a type")
    return notes


def inputs_path_for(out) -> Path:
    """Where the reproducer's feeds go: ``nc_min.onnx`` -> ``nc_min.inputs.npz`` beside it."""
    out = Path(out)
    return out.with_name((out.stem if out.suffix == ".onnx" else out.name) + ".inputs.npz")


def save_feeds(mode, final: Candidate, out: Path) -> tuple[str | None, str | None]:
    """Modes whose candidates run on fed values (compare) save them beside the reproducer: without them it
    passes when checked on its own. Returns (npz path, the command that reproduces) or (None, None)."""
    feeds = mode.feeds(final) if hasattr(mode, "feeds") else None
    if not feeds:
        return None, None
    from trtlab.inputs import save_npz

    path = inputs_path_for(out)
    save_npz(path, feeds)
    return str(path), mode.reproduce(out, path)


def run_reduce(model, mode, run_dir: Path, out: Path, samples: list[dict], *, replay=None, say=None,
               failure: dict | None = None) -> ReduceResult:
    """Reduce ``model`` under ``mode`` (a ``reduce_checks`` mode); write ``out`` and the run directory's log."""
    from trtlab.model import model_summary, save_model

    t0 = time.perf_counter()
    summary = model_summary(model)
    plan = Plan.of(model.proto)
    warnings = list(model.warnings) + plan.warnings
    say = say or (lambda text: None)
    answers = read_replay(replay, summary["sha256"]) if replay else None
    reducer = Reducer(plan, mode, run_dir / LOG, answers, say)
    try:
        reducer.write({"schema": LOG_SCHEMA, "model": summary["path"], "model_sha256": summary["sha256"],
                       "failure": failure or {"mode": mode.name}, "work_nodes": plan.size})
        start = time.perf_counter()
        reducer.counts["original"] += 1
        original = mode.original(plan)
        say(f"{summary['name']}: {len(model.proto.graph.node)} nodes, {plan.size} to cut "
            f"({len(plan.constant)} constant nodes ride along); failure mode {mode.name}")
        reducer.record("original", ranges_text(range(plan.size)), len(model.proto.graph.node), plan.size, True,
                       original.detail, time.perf_counter() - start)
        reducer.memo[ranges_text(range(plan.size))] = (True, None)
        warnings += learn_types(plan, samples, freeze=mode.name == "build") if samples else []
        t_bisect = time.perf_counter()
        keep = reducer.bisect()
        t_linear = time.perf_counter()
        keep = reducer.linear(keep)
        t_end = time.perf_counter()
    finally:
        reducer.close()
    final = plan.candidate(keep)
    known = reducer.memo.get(ranges_text(keep))
    final_detail = next((h["detail"] for h in reversed(reducer.history) if h["candidate"] == ranges_text(keep)
                         and h["reproduces"]), original.detail)
    save_model(final.proto, out)
    inputs_file, reproduce = save_feeds(mode, final, Path(out))
    graph = model.proto.graph
    kept = [{"index": i, "name": graph.node[i].name, "op": graph.node[i].op_type,
             "domain": graph.node[i].domain or "ai.onnx", "constant": i in plan.const_set} for i in final.origin]
    counts = dict(reducer.counts)
    counts.update({"total": counts["original"] + counts["bisect"] + counts["linear"],
                   "bisect_budget": bisect_budget(plan.size)})
    return ReduceResult(
        schema=SCHEMA, command="debug reduce", argv=[], model=summary, failure=failure or {"mode": mode.name},
        output=str(out), reproduced=known is None or known[0], nodes_before=len(graph.node),
        nodes_after=len(final.origin), work_nodes_before=plan.size, work_nodes_after=len(keep), kept=kept,
        inputs=final.inputs, outputs=final.outputs, checks=counts, original=original.detail, final=final_detail,
        history=reducer.history, inputs_file=inputs_file, reproduce=reproduce,
        timing={"total_s": round(time.perf_counter() - t0, 4), "original_and_types_s": round(t_bisect - t0, 4),
                "bisect_s": round(t_linear - t_bisect, 4), "linear_s": round(t_end - t_linear, 4)},
        warnings=warnings)
