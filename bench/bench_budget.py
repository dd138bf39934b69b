"""Issue 15 benchmark: layer-wise comparison within a memory budget, on the BERT-base-sized export.

Side by side, same inputs (shapes, value ranges, seed):
- trtlab unbounded:  trtlab compare bert.onnx --target onnxrt:fp16 --layerwise
- trtlab bounded:    trtlab compare bert.onnx --target onnxrt:fp16 --layerwise --max-memory 512M
- Polygraphy mark-all: polygraphy run bert.onnx --onnxrt --onnx-outputs mark all --save-outputs ref.json, then
  the same with --load-outputs ref.json (its layer-wise comparison; FP32 on both sides, since Polygraphy has no
  FP16 simulation on ONNX Runtime: its --fp-to-fp16 fails on this model, see bench_compare.py).

Pass criteria (issue 15): the bounded run succeeds (rc 0 or 1: a verdict), its peak RSS is at most 1.1 x the budget
plus what the process held when the comparison started (interpreter, libraries, the model with its weights held
once), its wall time at most 2 x the unbounded run's, and its metrics equal the unbounded run's.

Run: ``python bench/bench_budget.py [--budget 512M] [--repeats N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import models
from bench.bench_compare import CASES, polygraphy_args, trtlab_args
from bench.measure import load_average, measure, tool

WORK = models.OUT / "budget"
MIB = 2**20


def _metrics(run_dir: Path) -> tuple[dict, list]:
    res = json.loads((run_dir / "results.json").read_text())
    return res, [(m["name"], m["max_abs"], m["cosine"]) for m in (res["layers"] or []) + res["outputs"]]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", default="512M")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--no-polygraphy", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    model, case = str(models.bert()), CASES["bert"]
    load_before = load_average()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    base = [tool("trtlab"), "compare", model, "--target", "onnxrt:fp16", "--layerwise", "--no-report",
            *trtlab_args(case)]
    free, bounded = WORK / "unbounded", WORK / "bounded"
    runs = {"trtlab_unbounded": measure("trtlab unbounded", [base + ["--out", str(free)]], WORK, args.repeats,
                                        prepare=lambda: shutil.rmtree(free, ignore_errors=True)),
            "trtlab_bounded": measure(f"trtlab --max-memory {args.budget}", [base + ["--out", str(bounded),
                                      "--max-memory", args.budget]], WORK, args.repeats,
                                      prepare=lambda: shutil.rmtree(bounded, ignore_errors=True))}
    if not args.no_polygraphy:
        poly = [tool("polygraphy"), "run", model, "--onnxrt", "--onnx-outputs", "mark", "all",
                *polygraphy_args(case)]
        runs["polygraphy_mark_all"] = measure("polygraphy mark all", [poly + ["--save-outputs", "ref.json"],
                                                                       poly + ["--load-outputs", "ref.json"]],
                                              WORK, args.repeats)
    res_b, metrics_b = _metrics(bounded)
    _res_u, metrics_u = _metrics(free)
    mem = res_b["memory"]
    held = mem.get("held_before_bytes") or mem["weights_bytes"]  # what the process held before the comparison
    limit_mb = (1.1 * mem["budget_bytes"] + held) / MIB
    unb, bnd = runs["trtlab_unbounded"], runs["trtlab_bounded"]
    report = {
        "load_before": load_before, "budget": args.budget, "runs": {k: v.as_dict() for k, v in runs.items()},
        "memory": mem, "peak_limit_mb": round(limit_mb, 1), "layers_compared": len(res_b["layers"] or []),
        "same_metrics": metrics_b == metrics_u, "wall_ratio": round(bnd.wall / unb.wall, 3),
        "peak_ratio": round(bnd.peak / unb.peak, 3),
        "pass": (all(rc[0] in (0, 1) for rc in bnd.rcs) and bnd.peak <= limit_mb
                 and bnd.wall <= 2 * unb.wall and metrics_b == metrics_u),
        "load_after": load_average(),
    }
    for key, m in runs.items():
        print(f"{key:20s} wall {m.wall:7.1f} s  peak {m.peak:7.0f} MB  rc {m.rcs}", flush=True)
    print(f"bounded: peak {bnd.peak:.0f} MB (limit {limit_mb:.0f} = 1.1 x budget + held before), wall x"
          f"{report['wall_ratio']:.2f} of unbounded, {mem['chunks']} chunks, backends {mem['backend_bytes'] / MIB:.0f}"
          f" MiB, tensors <= {mem['peak_tensor_bytes'] / MIB:.0f} MiB, same metrics {report['same_metrics']} -> "
          f"{'PASS' if report['pass'] else 'FAIL'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
