"""Conformance sweep: every ONNX backend conformance model (``onnx.backend.test.case.node``) that onnxruntime runs
goes through fold-constants, cleanup, to-fp16 and to-bf16 (each on its own, verified on the test case's own
inputs) and through TensorRT's ONNX parser (``trtlab check``'s parse, in a child process so a parser crash costs
one model, not the sweep).

Run: ``python bench/conformance.py [--limit N] [--write docs/conformance-passes.md]``. The models and inputs are cached
under ``bench/out/`` (collecting them takes ~20 s).
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import onnx

OUT = Path(__file__).resolve().parent / "out"
PASSES = ("fold-constants", "cleanup", "to-fp16", "to-bf16")


def cases() -> list[dict]:
    """[{name, model (bytes), feeds, opset, ops}] for every conformance node test, cached."""
    cache = OUT / f"conformance2-{onnx.__version__}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = collect_testcases(None)
    rows = []
    for case in found:
        model = case.model
        if not case.data_sets:
            continue
        inputs = case.data_sets[0][0]
        names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
        if len(inputs) != len(names) or not all(isinstance(v, np.ndarray) for v in inputs):
            feeds = None  # sequences/optionals: not a tensor feed
        else:
            feeds = dict(zip(names, inputs))
        opset = op_opset(model)
        rows.append({"name": case.name, "model": model.SerializeToString(), "feeds": feeds, "opset": opset,
                     "ops": sorted({n.op_type for n in model.graph.node})})
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def op_opset(model: onnx.ModelProto) -> str:
    """The opset of the model's (first) op's domain: "13", or "ai.onnx.ml 3" for another domain."""
    domain = model.graph.node[0].domain if model.graph.node else ""
    version = next((o.version for o in model.opset_import if o.domain == domain or (
        domain in ("", "ai.onnx") and o.domain in ("", "ai.onnx"))), None)
    return str(version) if domain in ("", "ai.onnx") else f"{domain} {version}"


def ort_runs(model: onnx.ModelProto, feeds: dict) -> str | None:
    """None when onnxruntime runs the model on its test inputs, else why not."""
    from trtlab.errors import TrtlabError
    from trtlab.surgery.verify import Verifier

    try:
        Verifier(feeds).baseline(model)
    except TrtlabError as exc:
        return exc.problem[:160]
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own failures, reported
        return f"{type(exc).__name__}: {str(exc)[:150]}"
    return None


def sweep_pass(model: onnx.ModelProto, feeds: dict, name: str) -> tuple[str, str]:
    """(status, detail): status "ok" (verified, or nothing to change), "skipped" (not verifiable, with the
    reason), "refused" (no node of the model can be rewritten without changing its outputs beyond the pass's
    tolerance: the pass fails with that reason, exit 1, nothing written) or "failed"."""
    from trtlab.surgery.pipeline import Step, run_pipeline
    from trtlab.surgery.verify import Verifier

    work = onnx.ModelProto()
    work.CopyFrom(model)
    verifier = Verifier(feeds)
    verifier.baseline(work)
    from trtlab.errors import TrtlabError

    try:
        _out, result = run_pipeline(work, [Step(name)], verifier=verifier)
    except TrtlabError as exc:
        if exc.code == 2:  # refused with a reason and a hint (bf16 below opset 13)
            return "skipped", f"refused: {exc.problem}"[:200]
        return "failed", f"{exc.problem}"[:200]
    except Exception as exc:  # noqa: BLE001 - a crash of the runner is what the sweep looks for
        return "failed", f"crashed: {type(exc).__name__}: {str(exc)[:150]}"
    rec = result.passes[0]
    if not result.passed and any("undoing rewrites did not help" in n for n in rec.notes):
        return "refused", (result.failure or "")[:200]  # no node can be rewritten within tolerance: exit 1, said why
    if not result.passed:
        return "failed", (result.failure or "")[:200]
    if rec.verified is None and rec.nodes_after and rec.status != "skipped":
        return "skipped", next((n for n in rec.notes if n.startswith("not verified")), "not verified")[:200]
    return "ok", ""


def sweep(limit: int | None = None, stride: int = 1, passes=PASSES, check: bool = True, progress=None) -> dict:
    rows = cases()[::stride][:limit]
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="trtlab-conformance-"))
    for i, row in enumerate(rows):
        if progress:
            progress(i, len(rows), row["name"])
        model = onnx.load_from_string(row["model"])
        entry = {"name": row["name"], "opset": row["opset"], "ops": row["ops"], "passes": {}}
        why = "sequence or optional inputs" if row["feeds"] is None else ort_runs(model, row["feeds"])
        entry["ort"] = why
        if why is None:
            for p in passes:
                entry["passes"][p] = sweep_pass(model, row["feeds"], p)
        (tmp / f"{row['name']}.onnx").write_bytes(row["model"])
        results.append(entry)
    if check:
        parsed = check_all(sorted(tmp.glob("*.onnx")))
        for entry in results:
            entry["check"] = parsed.get(entry["name"], ("crashed", "no answer"))
    return {"rows": results, "passes": list(passes)}


# --- TensorRT parser, in a child process ------------------------------------------------------------------

def check_all(paths: list[Path], timeout: float = 600) -> dict[str, tuple[str, str]]:
    """name -> ("accepted"|"refused"|"crashed"|"error", detail). A child parses the models one by one and reports
    each before and after; when it dies, the model it was on is "crashed" and a new child goes on after it."""
    answers: dict[str, tuple[str, str]] = {}
    todo = [str(p) for p in paths]
    while todo:
        proc = subprocess.run([sys.executable, __file__, "--check-worker"], input="\n".join(todo), text=True,
                              capture_output=True, timeout=timeout, check=False)
        started = None
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if "start" in msg:
                started = msg["start"]
            else:
                answers[msg["name"]] = (msg["status"], msg["detail"])
                started = None
        done = {Path(p).stem for p in todo if Path(p).stem in answers}
        if started is not None:
            answers[Path(started).stem] = ("crashed", f"the parser process died (exit {proc.returncode})")
            done.add(Path(started).stem)
        remaining = [p for p in todo if Path(p).stem not in done]
        if len(remaining) == len(todo):  # no progress: the child cannot start
            for p in remaining:
                answers[Path(p).stem] = ("error", proc.stderr.strip().splitlines()[-1:][0] if proc.stderr else "")
            break
        todo = remaining
    return answers


def _check_worker() -> None:
    from trtlab.errors import TrtlabError
    from trtlab.model import load_model
    from trtlab.trt.check import run_check
    from trtlab.trt.module import load

    trt = load()
    for path in sys.stdin.read().split("\n"):
        if not path:
            continue
        print(json.dumps({"start": path}), flush=True)
        name = Path(path).stem
        try:
            result = run_check(trt, load_model(path))
            detail = "" if result.parseable else "; ".join(
                (n.error or "")[:120] for n in result.failing[:1]) or "; ".join(
                e["message"][:120] for e in result.errors[:1])
            status = "accepted" if result.parseable else "refused"
        except TrtlabError as exc:
            status, detail = "error", exc.problem[:160]
        except Exception as exc:  # noqa: BLE001 - `check` must not crash: recorded as such
            status, detail = "crashed", f"{type(exc).__name__}: {str(exc)[:150]}"
        print(json.dumps({"name": name, "status": status, "detail": detail}), flush=True)


# --- report ---------------------------------------------------------------------------------------------

def summary(data: dict) -> dict:
    rows = data["rows"]
    runnable = [r for r in rows if r["ort"] is None]
    out = {"models": len(rows), "ort_runs": len(runnable), "passes": {}}
    for p in data["passes"]:
        out["passes"][p] = dict(Counter(r["passes"][p][0] for r in runnable))
    out["check"] = dict(Counter(r.get("check", ("not run", ""))[0] for r in rows))
    return out


def op_table(data: dict) -> list[tuple[str, str, int, int, int]]:
    """(op, opsets, models, accepted, refused) for the single-op models (the ``_expanded`` decompositions and
    multi-op tests are counted in the totals, not here)."""
    table: dict[str, dict] = {}
    for r in data["rows"]:
        if len(r["ops"]) != 1 or r["name"].endswith(("_expanded", "_expanded_ver18")) or "check" not in r:
            continue
        t = table.setdefault(r["ops"][0], {"opsets": set(), "n": 0, "acc": 0, "ref": 0})
        t["opsets"].add(r["opset"])
        t["n"] += 1
        status = r["check"][0]
        t["acc"] += status == "accepted"
        t["ref"] += status != "accepted"
    return [(op, ", ".join(sorted(str(o) for o in t["opsets"])), t["n"], t["acc"], t["ref"])
            for op, t in sorted(table.items())]


def render(data: dict, seconds: float, trt_version: str) -> str:
    s = summary(data)
    lines = ["# Conformance sweep", "",
             "Generated by `python bench/conformance.py --write docs/conformance-passes.md` "
             f"(onnx {onnx.__version__}, {trt_version}; {seconds:.0f} s).", "",
             f"ONNX backend conformance node tests: **{s['models']}** models; onnxruntime (CPU) runs "
             f"**{s['ort_runs']}** of them on their own test inputs. Each of those goes through each pass on its own, "
             "verified on the test inputs (outputs before and after the pass compared; the precision passes at "
             "their precision's tolerances).", "",
             "| pass | ok (verified or nothing to change) | skipped (not verifiable, reason recorded) | refused "
             "(no node convertible within tolerance: exit 1 with the reason) | failed |",
             "|---|---|---|---|---|"]
    for p, c in s["passes"].items():
        lines.append(f"| {p} | {c.get('ok', 0)} | {c.get('skipped', 0)} | {c.get('refused', 0)} | "
                     f"{c.get('failed', 0)} |")
    for status, title in (("failed", "Failed"), ("refused", "Refused (the pass fails with this reason)")):
        found = [(r["name"], p, r["passes"][p][1]) for r in data["rows"] if r["ort"] is None
                 for p in data["passes"] if r["passes"][p][0] == status]
        if found:
            lines += ["", f"{title}:", ""] + [f"- `{n}` {p}: {d[:170]}" for n, p, d in found[:60]]
    skipped = Counter(r["passes"][p][1][:150] for r in data["rows"] if r["ort"] is None for p in data["passes"]
                      if r["passes"][p][0] == "skipped")
    if skipped:
        lines += ["", "Most common reasons for a skip:", ""] + [f"- {n} x {why}" for why, n in skipped.most_common(6)]
    c = s["check"]
    lines += ["", f"`trtlab check` (TensorRT's ONNX parser, in a child process) on all {s['models']} models: "
              f"{c.get('accepted', 0)} accepted, {c.get('refused', 0)} refused, {c.get('error', 0)} refused before "
              f"parsing (not a valid model for trtlab), {c.get('crashed', 0)} crashed the parser process.", ""]
    crashed = [r["name"] for r in data["rows"] if r.get("check", ("",))[0] == "crashed"]
    if crashed:
        lines += ["Crashed the parser: " + ", ".join(f"`{n}`" for n in crashed), ""]
    lines += ["## ONNX ops the installed TensorRT parser accepts, by opset", "",
              "One row per op with single-op conformance models (decompositions `*_expanded` left out): the opsets "
              "those models use, and how many the parser accepted or refused (a refusal may be about one "
              "attribute or dtype of the op, not the op as a whole).", "",
              "| op | opsets | models | accepted | refused |", "|---|---|---|---|---|"]
    lines += [f"| {op} | {o} | {n} | {a} | {r} |" for op, o, n, a, r in op_table(data)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--write", help="write the markdown report here")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--check-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.check_worker:
        _check_worker()
        return 0
    start = time.perf_counter()

    def progress(i, n, name):
        if i % 100 == 0:
            print(f"[{i}/{n}] {name} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)

    data = sweep(args.limit, args.stride, progress=progress)
    seconds = time.perf_counter() - start
    print(json.dumps(summary(data), indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))
    if args.write:
        from trtlab.trt.module import load

        trt = load()
        Path(args.write).write_text(render(data, seconds, f"{trt.name} {trt.version}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
