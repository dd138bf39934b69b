"""``trtlab surgeon MODEL --isolate-unsupported -o DIR``: partition, write the segments, verify the pipeline.

After writing DIR the pipeline is checked against the original model: both run on the same seeded inputs
(onnxrt for the original, ``hybrid:DIR`` for the segments) and every tensor both expose is compared. The run
directory gets results.json (schema "trtlab.partition/1") and report.html.
"""

from __future__ import annotations

import time
from pathlib import Path

from trtlab.cli.common import command_argv
from trtlab.errors import EXIT_MISMATCH, EXIT_OK, TrtlabError

SCHEMA = "trtlab.partition/1"


def run_isolate(args) -> int:
    from trtlab.model import load_model, model_sha256
    from trtlab.partition.folder import write_dir
    from trtlab.partition.plan import isolate
    from trtlab.partition.summary import summarize
    from trtlab.rundir import new_run_dir
    from trtlab.ui import progress

    if not args.output:
        raise TrtlabError("--isolate-unsupported", "no output folder given", "add -o DIR (the segments go there)")
    if args.min_segment_size < 1:
        raise TrtlabError("--min-segment-size", "must be at least 1", "e.g. --min-segment-size 3")
    model_path = Path(args.model)
    loaded = load_model(model_path, check=False)
    out_dir = Path(args.output)
    if out_dir.resolve() == model_path.resolve():
        raise TrtlabError(f"-o {out_dir}", "is the input model", "give a folder for the segments")
    start = time.perf_counter()
    with progress(args.quiet or args.json) as bar:
        task = bar.add_task("asking the TensorRT parser", total=None)

        def on_round(seg):
            bar.update(task, description=f"parsing TensorRT segment {seg.index} on its own ({len(seg.node_ids)} nodes)")

        part = isolate(loaded.proto, min_size=args.min_segment_size, use_parser=not args.static_support,
                       on_round=on_round)
        samples = _samples(args, loaded)
        bar.update(task, description=f"writing {len(part.segments)} segments")
        info = write_dir(out_dir, loaded.proto, part, samples[0] if samples else None, sha256=model_sha256(loaded))
    plan_s = time.perf_counter() - start
    run_dir = Path(args.run_dir) if args.run_dir else new_run_dir("partition", model_path.stem)
    run_dir.mkdir(parents=True, exist_ok=True)
    verify = _verify(args, loaded, out_dir, samples)
    result = _results(args, loaded, out_dir, info, verify, plan_s)
    summary = summarize(part.segments, part.support, args.min_segment_size)
    result["summary"] = {k: v for k, v in summary.items() if k != "segments"}  # the numbers `trtlab check` gives
    _write_run(run_dir, result)
    _print(args, result, run_dir)
    return EXIT_MISMATCH if verify.get("passed") is False else EXIT_OK


def _samples(args, loaded) -> list[dict] | None:
    from trtlab.cli.common import make_samples

    try:
        return make_samples(args, loaded)[0]
    except TrtlabError:
        return None


def _verify(args, loaded, out_dir: Path, samples) -> dict:
    """Original on onnxrt vs the segments on hybrid:DIR, every shared tensor, within --atol/--rtol."""
    if args.verify is False:
        return {"enabled": False, "reason": "--no-verify"}
    if not samples:
        return {"enabled": False, "reason": "no inputs could be generated for this model (--load-inputs)"}
    from trtlab import backends
    from trtlab.comparators.tolerances import for_target
    from trtlab.comparison.run import run_compare

    tol = for_target(backends.parse_spec("onnxrt"), args.atol, args.rtol)  # FP32 defaults unless given
    target = backends.parse_spec(f"hybrid:{out_dir}")
    try:
        res, _hist = run_compare(loaded, backends.parse_spec("onnxrt"), target, samples, tol, True, quiet=True)
    except TrtlabError as exc:
        return {"enabled": False, "reason": f"the pipeline could not be run on this machine: {exc.problem}"}
    worst = max((m.max_abs or 0.0 for m in (res.layers or []) + res.outputs), default=0.0)
    return {"enabled": True, "passed": res.passed, "backend": "onnxrt vs hybrid", "atol": tol.atol, "rtol": tol.rtol,
            "samples": len(samples), "tensors_compared": len(res.layers or []),
            "outputs": [{"tensor": m.name, "max_abs": m.max_abs, "passed": m.passed} for m in res.outputs],
            "max_abs_error": worst, "notes": res.target.get("notes", []), "warnings": res.warnings}


def _results(args, loaded, out_dir, info, verify, plan_s) -> dict:
    from trtlab.model import model_summary
    from trtlab.rundir import environment

    res = {"schema": SCHEMA, "command": "surgeon --isolate-unsupported", "argv": command_argv(args),
           "model": model_summary(loaded), "output": str(out_dir), "passed": verify.get("passed", True) is not False,
           "support_source": info["support_source"], "prediction": info["prediction"],
           "min_segment_size": args.min_segment_size,
           "segments": [{k: v for k, v in s.items() if k not in ("node_ids", "node_names")} |
                        {"inputs": [t["name"] for t in s["inputs"]], "outputs": [t["name"] for t in s["outputs"]]}
                        for s in info["segments"]],
           "unsupported": info["unsupported"], "verify": verify, "notes": info["notes"],
           "timing": {"plan_s": round(plan_s, 4)}, "environment": environment(), "warnings": list(loaded.warnings)}
    return res


def _write_run(run_dir: Path, result: dict) -> None:
    from trtlab.rundir import RESULTS, atomic_write_json
    from trtlab.ui import warn

    atomic_write_json(run_dir / RESULTS, result)
    try:
        from trtlab.reports import write_report

        write_report(run_dir)
    except Exception as exc:  # the partition stands even if the report cannot be drawn
        warn(f"report.html not written: {type(exc).__name__}: {exc}")


def _print(args, result: dict, run_dir: Path) -> None:
    from trtlab.partition.summary import summary_line
    from trtlab.ui import out, print_json

    if args.json:
        print_json(result)
        return
    label = "PREDICTED by the static support table" if result["prediction"] else "from the TensorRT parser"
    segs = result["segments"]
    out.print(f"{len(segs)} segment(s), support {label}: {summary_line(result['summary'])}", markup=False)
    for s in segs:
        out.print(f"  seg{s['index']:02d} {s['backend']:<7} {s['node_count']:>4} node(s)  in: "
                  f"{', '.join(s['inputs'][:4])}{' ...' if len(s['inputs']) > 4 else ''}  out: "
                  f"{', '.join(s['outputs'][:4])}{' ...' if len(s['outputs']) > 4 else ''}", markup=False)
    for u in result["unsupported"]:
        out.print(f"  fallback: {u['name']} ({u['domain']}::{u['op']}) -- {u['reason']}", markup=False)
        if u.get("hint"):
            out.print(f"    hint: {u['hint']}", markup=False)
    v = result["verify"]
    if v.get("enabled"):
        verdict = "matches" if v["passed"] else "DOES NOT match"
        out.print(f"hybrid pipeline {verdict} the original: max |error| {v['max_abs_error']:.3g} over "
                  f"{v['tensors_compared']} tensors (atol {v['atol']:g}, rtol {v['rtol']:g})", markup=False)
        for note in v.get("notes", []):
            out.print(f"  note: {note}", markup=False)
    else:
        out.print(f"not verified: {v.get('reason')}", markup=False)
    for note in result["notes"]:
        out.print(f"note: {note}", markup=False)
    out.print(f"segments: {result['output']}  (run them: trtlab run --hybrid {result['output']})", markup=False)
    out.print(f"run: {run_dir}", markup=False)


def run_hybrid(args) -> int:
    """``trtlab run --hybrid DIR``: run the segments in order on seeded inputs, time each segment."""
    import numpy as np
    import onnx

    from trtlab import backends
    from trtlab.cli.common import make_samples
    from trtlab.model import LoadedModel
    from trtlab.partition.folder import read_dir
    from trtlab.rundir import atomic_savez, environment, new_run_dir

    info, models = read_dir(args.hybrid)
    names = {t["name"] for t in info.get("inputs", [])}
    inputs = [vi for m in models for vi in m.graph.input if vi.name in names]
    stub = onnx.helper.make_model(
        onnx.helper.make_graph([], "inputs", list({vi.name: vi for vi in inputs}.values()), []))
    samples, warnings = make_samples(args, LoadedModel(proto=stub, path=None, label="partition"))
    be = backends.create(backends.parse_spec(f"hybrid:{args.hybrid}"))
    with be:
        be.load(stub, [])
        outputs = be.run(samples[0])
        for _ in range(max(args.iterations, 1) - 1):
            be.run(samples[0])
    run_dir = Path(args.out) if args.out else new_run_dir("run", Path(args.hybrid).name)
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.save_outputs:
        atomic_savez(args.save_outputs, outputs)
    lat = be.timing.latency_ms
    result = {"schema": "trtlab.run/1", "command": "run --hybrid", "argv": command_argv(args),
              "target": str(args.hybrid), "mode": "hybrid", "backend": be.info, "notes": be.notes,
              "timing": {"iterations": len(lat), "median_ms": float(np.median(lat)), "setup_s": be.timing.setup_s},
              "segments": [{"index": s.index, "backend": s.kind, "runs_on": s.runs_on, "nodes": seg["nodes"],
                            "median_ms": round(float(np.median(s.latency_ms)), 4)}
                           for s, seg in zip(be.stages, info["segments"])],
              "outputs": {n: {"shape": list(v.shape), "dtype": str(v.dtype)} for n, v in outputs.items()},
              "environment": environment(), "warnings": warnings, "passed": True}
    _write_run(run_dir, result)
    from trtlab.ui import out, print_json

    if args.json:
        print_json(result)
        return EXIT_OK
    for s in result["segments"]:
        out.print(f"  seg{s['index']:02d} {s['backend']:<7} on {s['runs_on']:<7} median {s['median_ms']:.3f} ms",
                  markup=False)
    out.print(f"hybrid pipeline: {len(lat)} run(s), median {result['timing']['median_ms']:.3f} ms; outputs "
              + ", ".join(f"{n} {list(v.shape)}" for n, v in outputs.items()), markup=False)
    for note in be.notes:
        out.print(f"note: {note}", markup=False)
    out.print(f"run: {run_dir}", markup=False)
    return EXIT_OK
