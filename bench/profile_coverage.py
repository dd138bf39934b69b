"""Per-node profile of every shared model on ONNX Runtime: do the node times add up to the run time?

    python bench/profile_coverage.py [--spec onnxrt] [--json OUT.json]

Per model that ONNX Runtime runs: the median latency from trtlab's timed runner (``trtlab run`` without the
profiler), then ``--profile-nodes``' figures: the sum of the nodes' mean times, ORT's own ``model_run`` time in the
same profiled runs, and the two ratios (nodes / measured median, nodes / ORT's run).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = Path(os.environ.get("TRTLAB_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def measure(path: str, spec_text: str) -> dict:
    from trtlab.backends import parse_spec
    from trtlab.backends.ort_profile import profile_nodes
    from trtlab.backends.ort_timing import open_timed
    from trtlab.inputs import plan_inputs, random_feeds
    from trtlab.model import load_model
    from trtlab.timing import benchmark

    spec = parse_spec(spec_text)
    model = load_model(path)
    feeds = random_feeds(plan_inputs(model.proto.graph, {}), 1, 0)
    backend, runner, stream = open_timed(spec, model.proto, feeds)
    rep = benchmark(runner, feeds, warmup_s=0.1, iterations=5, duration_s=0.5)
    runner.close()
    backend.close()
    key = "compute_ms" if "compute_ms" in rep.stats else "host_ms"
    prof = profile_nodes(spec, model.proto, feeds, runs=10)
    return {"model": os.path.basename(path), "measured_ms": rep.stats[key]["median"], "nodes_ms": prof["nodes_ms"],
            "ort_run_ms": prof["run_ms"], "vs_measured": prof["nodes_ms"] / rep.stats[key]["median"],
            "vs_ort_run": prof["nodes_ms"] / prof["run_ms"], "nodes_reported": len(prof["nodes"]),
            "graph_nodes": len(model.proto.graph.node),
            "not_in_graph": [n["name"] for n in prof["nodes"] if not n["in_graph"]][:5]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="onnxrt")
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'model':34} {'measured':>10} {'nodes':>10} {'ORT run':>10} {'n/meas':>7} {'n/run':>6} nodes")
    for path in sorted(glob.glob(str(MODELS / "*.onnx"))):
        try:
            row = measure(path, args.spec)
        except Exception as exc:  # models ORT refuses by design: listed with the reason
            rows.append({"model": os.path.basename(path), "error": " ".join(str(exc).split())[:160]})
            print(f"{os.path.basename(path)[:34]:34} not run: {rows[-1]['error'][:60]}")
            continue
        rows.append(row)
        print(f"{row['model'][:34]:34} {row['measured_ms']:10.4f} {row['nodes_ms']:10.4f} {row['ort_run_ms']:10.4f} "
              f"{row['vs_measured']:7.2f} {row['vs_ort_run']:6.2f} {row['nodes_reported']}/{row['graph_nodes']}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
