"""Run the benchmarks and append the results to docs/benchmarks.md.

``python bench/run.py`` (or ``python -m bench``): both benchmarks, 3 repeats (median).
``--quick``: one repeat, smaller model sets. ``--only compare|fold``. ``--no-docs``: print, do not append.
Benchmarks are not tests: they are never collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_compare, bench_fold, models

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PACKAGES = ("trtlab", "onnxruntime", "onnx", "onnx-graphsurgeon", "numpy", "polygraphy", "onnxslim",
            "onnxconverter-common", "torch")
COMPARE_TARGET = {"wall": 0.35, "peak": 0.6}
FOLD_TARGET = 0.5


def machine() -> str:
    mem = 0
    try:
        text = Path("/proc/meminfo").read_text()
        mem = int(next(x for x in text.splitlines() if x.startswith("MemTotal")).split()[1]) / 2**20
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), {mem:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            "shared with other agents, so timings are noisy")


def versions() -> str:
    out = []
    for p in PACKAGES:
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p} (not installed)")
    return ", ".join(out)


def _verdict(value: float, target: float) -> str:
    return f"x{value:.2f} ({'meets' if value <= target else 'misses'} <= {target})"


def render_compare(rep: dict) -> list[str]:
    lines = [f"### Layer-wise compare vs Polygraphy (issue 2), median of {rep['repeats']}",
             "", ("trtlab: `trtlab compare M --ref onnxrt --target onnxrt --layerwise --no-report`; Polygraphy: "
             "`polygraphy run M --onnxrt --onnx-outputs '*' --save-outputs ref.json`, then the same with "
             "`--load-outputs ref.json` (its wall time is the sum, its peak the larger of the two processes). "
             "Same shapes, value ranges and seed. Peak = max RSS of the process tree."), "",
             ("| model | nodes | layers | trtlab wall s | trtlab peak MB | Polygraphy wall s | Polygraphy peak MB "
             "| wall ratio | peak ratio |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rep["models"]:
        t, p = r["trtlab"], r["polygraphy"]
        lines.append(f"| {r['model']} | {r['nodes']} | {r['layers_compared']} | {t['wall_s_median']:.2f} "
                     f"| {t['peak_mb_median']:.0f} | {p['wall_s_median']:.2f} | {p['peak_mb_median']:.0f} "
                     f"| {_verdict(r['wall_ratio'], COMPARE_TARGET['wall'])} "
                     f"| {_verdict(r['peak_ratio'], COMPARE_TARGET['peak'])} |"
                     + ("" if r["ok"] else " (a command failed)"))
    lines.append("")
    lines.append("All runs (s / MB): " + "; ".join(
        f"{r['model']} trtlab {r['trtlab']['wall_s']} {r['trtlab']['peak_mb']}, Polygraphy "
        f"{r['polygraphy']['wall_s']} {r['polygraphy']['peak_mb']}" for r in rep["models"]))
    if "fp16" in rep:
        t, p = rep["fp16"]["trtlab"], rep["fp16"]["polygraphy"]
        fd = t.get("first_divergence") or {}
        lines += ["", ("FP16 on the BERT export: `trtlab compare bert.onnx --target onnxrt:fp16 --layerwise` "
                  f"{'runs' if t.get('works') else 'FAILS'} (exit {t['rc']}, {t['wall_s']} s, "
                  f"{t.get('layers_compared', 0)} layers compared, {t.get('layers_failing', 0)} outside FP16 "
                  f"tolerance, first divergence `{fd.get('tensor')}` ({fd.get('op')}): {fd.get('reason')}). "
                  f"`polygraphy run bert.onnx --onnxrt --fp-to-fp16` {'fails' if p['fails'] else 'runs'} "
                  f"(exit {p['rc']}): `{p['error']}`")]
    return lines


def _cmdline(argv: list[str]) -> str:
    return " ".join([Path(argv[0]).name, *argv[1:]])


def render_fold(rep: dict) -> list[str]:
    tools = rep["tools"]
    lines = ["### Constant folding vs Polygraphy and onnxslim (issue 3)", ""]
    if not rep["trtlab_surgeon_available"]:
        lines += [("`trtlab surgeon` is not in this checkout yet (being written on branch `surgeon`): peers only; "
                  "rerun `python bench/run.py --only fold` once it is merged."), ""]
    lines += ["Commands: " + "; ".join(f"{t}: `{_cmdline(bench_fold.TOOLS[t]('M', 'OUT'))}`" for t in tools)
              + f". BERT: median of {rep['models'][0]['tools'][tools[0]]['wall_s'].__len__()} runs; public models: "
              "as given by --public-repeats. Nodes: main graph (incl. subgraph bodies). 'ok' = the result loads in "
              "onnxruntime and matches the original (atol 1e-4, rtol 1e-3) on the same seeded inputs; 'n/a' = the "
              "original itself does not run in onnxruntime; 'BROKEN' = a written model that does not load or "
              "computes something else; 'failed' = the tool exited with an error.", "",
              "| model | original nodes | " + " | ".join(f"{t} s / MB / nodes / result" for t in tools) + " |",
              "|---|---|" + "---|" * len(tools)]
    for r in rep["models"]:
        cells, orig = [], None
        for t in tools:
            e = r["tools"][t]
            orig = orig or e.get("original")
            res = e.get("result") or {}
            status = ("failed" if not e["ok"] else "BROKEN" if e["broken"]
                      else "n/a" if e.get("original_runs") is False else "ok")
            nodes = f"{res.get('nodes', '-')} ({res.get('nodes_total', '-')})" if res else "-"
            cells.append(f"{e['wall_s_median']:.2f} / {e['peak_mb_median']:.0f} / {nodes} / {status}")
        o = f"{orig['nodes']} ({orig['nodes_total']})" if orig else "-"
        lines.append(f"| {r['model']} | {o} | " + " | ".join(cells) + " |")
    s = rep["summary"]
    lines += ["", "Totals: " + "; ".join(f"{t}: {s[t]['wall_s_total']} s, {s[t]['ok']} written, {s[t]['failed']} "
                                         f"failed, broken: {', '.join(s[t]['broken']) or 'none'}" for t in tools)]
    if "wall_ratio_trtlab_polygraphy" in s:
        w = s["wall_ratio_trtlab_polygraphy"]
        lines.append(f"trtlab/Polygraphy wall time: total {_verdict(w['total'], FOLD_TARGET)}, median per model "
                     f"x{w['median']:.2f}. trtlab has more nodes than the best peer on: "
                     f"{', '.join(s['trtlab_more_nodes_than_best_peer']) or 'no model'}.")
    if "wall_ratio_trtlab_noverify_polygraphy" in s:
        w = s["wall_ratio_trtlab_noverify_polygraphy"]
        lines.append(f"Same work as Polygraphy (`--no-verify`: no before/after runs in onnxruntime): total "
                     f"{_verdict(w['total'], FOLD_TARGET)}, median per model x{w['median']:.2f}.")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one repeat, smaller model sets")
    p.add_argument("--only", choices=("compare", "fold"))
    p.add_argument("--no-docs", action="store_true", help="do not append to docs/benchmarks.md")
    p.add_argument("--note", default="", help="a line to add to the docs entry (e.g. what was changed)")
    args = p.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    models.resnet50(), models.bert()  # build (or reuse) before timing anything
    start_load = bench_compare.load_average()
    results = {}
    if args.only in (None, "compare"):
        results["compare"] = bench_compare.main(quick)
    if args.only in (None, "fold"):
        results["fold"] = bench_fold.main(quick)
    (models.OUT / "last-run.json").write_text(json.dumps(results, indent=1))
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M %Z')}{' (quick)' if args.quick else ''}", "",
             (f"- Machine: {machine()}. Load average (1/5/15 min) at start {start_load}, at end "
             f"{bench_compare.load_average()}."), f"- Versions: {versions()}."]
    if args.note:
        lines.append(f"- Note: {args.note}")
    lines.append("")
    if "compare" in results:
        lines += render_compare(results["compare"]) + [""]
    if "fold" in results:
        lines += render_fold(results["fold"]) + [""]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_docs:
        DOCS.parent.mkdir(exist_ok=True)
        if not DOCS.exists():
            DOCS.write_text("# Benchmarks\n\nAppended by `python bench/run.py` (see bench/). Ratios are trtlab / peer; "
                            "lower is better. Not part of the tests.\n\n")
        with DOCS.open("a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
