"""Does a rewritten model still compute what the original computes? (run in its own process by bench_fold)

``python bench/fold_check.py ORIGINAL RESULT [--shape name:1x128 ...] [--range name:lo,hi ...]`` prints one JSON
line: node counts, whether each model loads and runs in onnxruntime (CPU, optimisations off), and the worst error
over the outputs on the same seeded inputs. Inputs come from trtlab's input planner (token ids stay inside the
embedding's range); outputs are matched by name, else by position.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import onnx

ATOL, RTOL = 1e-4, 1e-3


def node_count(path: str) -> dict:
    from trtlab.model import walk_nodes

    m = onnx.load(path, load_external_data=False)
    return {"nodes": len(m.graph.node), "nodes_total": sum(1 for _ in walk_nodes(m.graph))}


def run(path: str, feeds: dict) -> tuple[list[str], list[np.ndarray]]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise RuntimeError(f"inputs changed: {missing} not in the original's inputs")
    outs = sess.run(None, {n: feeds[n] for n in names})
    return [o.name for o in sess.get_outputs()], outs


def loads(path: str) -> bool:
    import onnxruntime as ort

    try:
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return True
    except Exception:  # noqa: BLE001
        return False


def check(original: str, result: str, shapes: dict, ranges: dict) -> dict:
    from trtlab.comparators import compare_arrays

    from trtlab.inputs import plan_inputs, random_feeds

    report = {"original": node_count(original)}
    try:
        report["result"] = node_count(result)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        return {**report, "loads": False, "error": f"unreadable: {str(exc)[:200]}"}
    graph = onnx.load(original, load_external_data=False).graph
    try:
        feeds = random_feeds(plan_inputs(graph, shapes, ranges), seed=1)
        ref_names, ref = run(original, feeds)
    except Exception as exc:  # noqa: BLE001 - the original itself does not run here: only check loading
        return {**report, "original_runs": False, "original_error": " ".join(str(exc).split())[:200],
                "original_loads": loads(original), "loads": loads(result), "matches": None}
    report["original_runs"] = True
    try:
        names, outs = run(result, feeds)
    except Exception as exc:  # noqa: BLE001
        return {**report, "loads": False, "matches": False, "error": " ".join(str(exc).split())[:300]}
    by_name = dict(zip(names, outs))
    worst, ok = 0.0, len(outs) == len(ref)
    for i, (name, r) in enumerate(zip(ref_names, ref)):
        o = by_name.get(name, outs[i] if i < len(outs) else None)
        if o is None or not isinstance(r, np.ndarray):
            ok = ok and o is not None
            continue
        m = compare_arrays(name, r, np.asarray(o), ATOL, RTOL)
        ok = ok and m.passed
        worst = max(worst, m.max_abs or 0.0)
    return {**report, "loads": True, "matches": bool(ok), "max_abs": worst}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("original")
    p.add_argument("result")
    p.add_argument("--shape", nargs="*", default=[], help="name:1x128")
    p.add_argument("--range", nargs="*", default=[], help="name:lo,hi")
    a = p.parse_args()
    shapes = {s.split(":")[0]: [int(d) for d in s.split(":")[1].split("x")] for s in a.shape}
    ranges = {s.split(":")[0]: tuple(float(v) for v in s.split(":")[1].split(",")) for s in a.range}
    print(json.dumps(check(a.original, a.result, shapes, ranges)))


if __name__ == "__main__":
    sys.exit(main())
