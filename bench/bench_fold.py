"""Issue 3 benchmark: constant folding, trtlab versus Polygraphy and onnxslim, side by side.

trtlab:     trtlab surgeon M --fold-constants -o OUT
Polygraphy: polygraphy surgeon sanitize M --fold-constants -o OUT
onnxslim:   onnxslim M OUT

On the BERT-base-sized export (bench/models.py) and on every public model in ../shared/models: wall time, peak
memory (median over repeats), node count after folding (main graph, and including If/Loop/Scan bodies), and
whether the result still loads and matches the original in onnxruntime on the same seeded inputs
(bench/fold_check.py, atol 1e-4 / rtol 1e-3). A tool that exits non-zero writes no usable model: counted as
"failed", not as "broken". "Broken" means a model written that does not load, or that computes something else.

Run: ``python bench/bench_fold.py [--quick] [--repeats N] [--models NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import models
from bench.measure import Measured, load_average, measure, tail, tool

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "models" if (ROOT.parent / "shared").exists() else Path("/work/shared/models")
WORK = models.OUT / "fold"
BERT = {"shape": [f"{n}:1x128" for n in ("input_ids", "attention_mask", "token_type_ids")],
        "range": [f"input_ids:0,{models.BERT_VOCAB - 1}", "attention_mask:0,1", "token_type_ids:0,1"]}
TOOLS = {
    "trtlab": lambda m, o: [tool("trtlab"), "surgeon", m, "--fold-constants", "-o", o],
    # the same job as Polygraphy's: trtlab's default also runs the model before and after each pass (--verify)
    "trtlab-noverify": lambda m, o: [tool("trtlab"), "surgeon", m, "--fold-constants", "--no-verify", "-o", o],
    "polygraphy": lambda m, o: [tool("polygraphy"), "surgeon", "sanitize", m, "--fold-constants", "-o", o],
    "onnxslim": lambda m, o: [tool("onnxslim"), m, o],
    # for reading the node counts only: onnxslim without its graph fusions (Conv+BN, Gemm, ...), i.e. folding and
    # cleanup, the same job as the others; not counted as a peer for the targets
    "onnxslim-nofusion": lambda m, o: [tool("onnxslim"), m, o, "--skip-optimizations", "graph_fusion"],
}
PEERS = ("polygraphy", "onnxslim")


def trtlab_has_surgeon() -> bool:
    out = subprocess.run([tool("trtlab"), "surgeon", "--help"], check=False, capture_output=True, text=True)
    return out.returncode == 0


def public_models() -> dict[str, Path]:
    found = sorted(SHARED.glob("*.onnx")) + sorted(SHARED.glob("*/*.onnx"))
    return {p.stem: p for p in found}


def fold_check(original: Path, result: Path, extra: dict) -> dict:
    argv = [sys.executable, str(ROOT / "bench" / "fold_check.py"), str(original), str(result)]
    for key in ("shape", "range"):
        if extra.get(key):
            argv += [f"--{key}", *extra[key]]
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:  # noqa: BLE001 - a crash of the checker (segfault in ORT) is a finding
        return {"loads": False, "matches": False, "error": f"checker crashed: {str(exc)[:200]}"}


def bench_one(name: str, path: Path, tools: list[str], repeats: int, extra: dict) -> dict:
    """``repeats`` rounds; within a round every tool runs once, one after the other (on a shared machine the load
    drifts: tools measured in the same round see about the same load, and ratios are read per round)."""
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    row = {"model": name, "tools": {}}
    results: dict[str, Measured] = {t: Measured(t) for t in tools}
    for rep in range(repeats):
        for t in tools:
            out = work / f"{t}.onnx"
            for f in out.parent.glob(out.name + "*"):
                f.unlink()
            one = measure(t, [TOOLS[t](str(path), str(out))], work / f"round{rep}", 1)
            for key in ("wall_s", "peak_mb", "rcs", "logs", "cpu_s"):
                getattr(results[t], key).extend(getattr(one, key))
    for t in tools:
        out = work / f"{t}.onnx"
        res = results[t]
        entry = res.as_dict()
        entry["ok"] = all(rc == [0] for rc in res.rcs) and out.exists()
        if entry["ok"]:
            entry.update(fold_check(path, out, extra))
            # broken: computes something else, or no longer loads although the original did
            entry["broken"] = entry.get("matches") is False or (
                entry.get("loads") is False and entry.get("original_loads", True))
        else:
            entry["error"] = tail(res.logs[-1], 2)[-300:]
            entry["broken"] = False
        row["tools"][t] = entry
    return row


def summarize(rows: list[dict], tools: list[str]) -> dict:
    out = {}
    for t in tools:
        entries = [r["tools"][t] for r in rows if t in r["tools"]]
        out[t] = {"wall_s_total": round(sum(e["wall_s_median"] for e in entries), 2),
                  "ok": sum(e["ok"] for e in entries), "failed": sum(not e["ok"] for e in entries),
                  "broken": [r["model"] for r in rows if r["tools"].get(t, {}).get("broken")]}
    if "trtlab" in tools and "polygraphy" in tools:
        for t in ("trtlab", "trtlab-noverify"):
            if t in tools:  # per round: the two ran back to back
                out[f"round_ratios_{t}_polygraphy"] = {
                    r["model"]: [round(a / b, 3) for a, b in zip(r["tools"][t]["wall_s"],
                                                                 r["tools"]["polygraphy"]["wall_s"])]
                    for r in rows}
        ratios = [r["tools"]["trtlab"]["wall_s_median"] / r["tools"]["polygraphy"]["wall_s_median"] for r in rows]
        out["wall_ratio_trtlab_polygraphy"] = {
            "total": round(out["trtlab"]["wall_s_total"] / out["polygraphy"]["wall_s_total"], 3),
            "median": round(statistics.median(ratios), 3)}
        if "trtlab-noverify" in tools:
            nv = [r["tools"]["trtlab-noverify"]["wall_s_median"] / r["tools"]["polygraphy"]["wall_s_median"]
                  for r in rows]
            out["wall_ratio_trtlab_noverify_polygraphy"] = {
                "total": round(out["trtlab-noverify"]["wall_s_total"] / out["polygraphy"]["wall_s_total"], 3),
                "median": round(statistics.median(nv), 3)}
        worse = []
        for r in rows:
            nodes = {t: r["tools"][t].get("result", {}).get("nodes") for t in tools if r["tools"][t]["ok"]}
            peers = [n for t, n in nodes.items() if t in PEERS and n is not None]
            if nodes.get("trtlab") is not None and peers and nodes["trtlab"] > min(peers):
                worse.append(f"{r['model']} ({nodes['trtlab']} vs {min(peers)})")
        out["trtlab_more_nodes_than_best_peer"] = worse
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one repeat; BERT and the five real public models only")
    p.add_argument("--repeats", type=int, default=3, help="repeats for the BERT export (median)")
    p.add_argument("--public-repeats", type=int, default=1, help="repeats for each public model")
    p.add_argument("--models", nargs="+", help="only these (bert and/or public model stems)")
    p.add_argument("--tools", nargs="+", choices=list(TOOLS), help="only these tools (default: all)")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    tools = list(TOOLS) if trtlab_has_surgeon() else [t for t in TOOLS if not t.startswith("trtlab")]
    if args.tools:
        tools = [t for t in tools if t in args.tools]
    cases = {"bert": models.bert(), **public_models()}
    if args.quick:
        cases = {k: v for k, v in cases.items() if k in ("bert", "fastestdet", "road_segmentation_adas",
                                                         "light_densenet121", "super_resolution", "poly_loop")}
    if args.models:
        cases = {k: v for k, v in cases.items() if k in args.models}
    report = {"load_before": load_average(), "tools": tools, "trtlab_surgeon_available": "trtlab" in tools,
              "models": []}
    if "trtlab" not in tools:
        print("trtlab surgeon is not available in this checkout (not merged yet): measuring the peers only")
    for name, path in cases.items():
        repeats = 1 if args.quick else (args.repeats if name == "bert" else args.public_repeats)
        row = bench_one(name, Path(path), tools, repeats, BERT if name == "bert" else {})
        report["models"].append(row)
        print(name + ": " + ", ".join(
            f"{t} {e['wall_s_median']:.2f}s {e['peak_mb_median']:.0f}MB "
            f"{e.get('result', {}).get('nodes', '-')} nodes"
            f"{' BROKEN' if e['broken'] else ('' if e['ok'] else ' failed')}" for t, e in row["tools"].items()),
            flush=True)
    report["summary"] = summarize(report["models"], tools)
    report["load_after"] = load_average()
    print(json.dumps(report["summary"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
