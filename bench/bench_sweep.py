"""Sweep throughput: `trtlab sweep --jobs 2` vs `--jobs 1` on 24 cells, and Ray's overhead per task.

``python -m bench.bench_sweep [--no-docs]``: runs the same 24 cells (8 shared models x check, compare
onnxrt:fp16, surgeon --fold-constants) three ways in one run: local --jobs 1, local --jobs 2, Ray (local
instance) --jobs 2; prints the wall times, the speedup (target >= 1.6x on 2 cores) and Ray's extra seconds per
task over the local pool, and appends them to docs/benchmarks.md. Not a test: never collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SHARED = Path(os.environ.get("TRTLAB_SHARED_MODELS", ROOT.parent / "shared" / "models"))
MODELS = ("mnist_opt.onnx", "poly_const_foldable.onnx", "poly_add_infinity.onnx", "poly_reducable.onnx",
          "gs_shape_cast_elision.onnx", "poly_dynamic_identity.onnx", "super_resolution.onnx",
          "yunet_face_120x160.onnx")
TASKS = ("check", "compare --target onnxrt:fp16", "surgeon --fold-constants")


def sweep(out: Path, *extra: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "trtlab", "sweep", *(str(SHARED / m) for m in MODELS)]
    for t in TASKS:
        cmd += ["--task", t]
    cmd += ["--out", str(out), "--json", "--quiet", "--no-report", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return wall, json.loads(proc.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        w1, s1 = sweep(tmp / "j1", "--jobs", "1")
        w2, s2 = sweep(tmp / "j2", "--jobs", "2")
        wr, sr = sweep(tmp / "ray", "--jobs", "2", "--executor", "ray")
    n = len(s1["cells"])
    same = {c["key"]: c["verdict"] for c in s1["cells"]} == {c["key"]: c["verdict"] for c in sr["cells"]} == \
        {c["key"]: c["verdict"] for c in s2["cells"]}
    speedup = w1 / w2
    lines = ["", f"### Sweep: --jobs 2 vs --jobs 1, and Ray (issue 16) — {time.strftime('%Y-%m-%d')}", "",
             f"{n} cells ({len(MODELS)} shared models x {len(TASKS)} tasks: {', '.join(TASKS)}), one run, "
             f"{os.cpu_count()} cores.", "",
             "| executor | wall s | per cell s | vs --jobs 1 |", "|---|---|---|---|",
             f"| local --jobs 1 | {w1:.1f} | {w1 / n:.2f} | x1.00 |",
             f"| local --jobs 2 | {w2:.1f} | {w2 / n:.2f} | speedup x{speedup:.2f} "
             f"({'meets' if speedup >= 1.6 else 'misses'} >= 1.6) |",
             f"| ray (local instance) --jobs 2 | {wr:.1f} | {wr / n:.2f} | x{w1 / wr:.2f} |", "",
             f"Ray overhead over the local pool: {(wr - w2) / n:+.2f} s per task (start of the Ray instance "
             f"included); verdicts identical across the three runs: {'yes' if same else 'NO'}.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_docs:
        with open(DOCS, "a") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
