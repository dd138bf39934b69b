"""Per-node time from ONNX Runtime's profiler, mapped to the ONNX graph's nodes.

ORT writes one ``<node name>_kernel_time`` event per node execution (``dur`` in microseconds, ``args.op_name``,
``args.provider``) inside one ``model_run`` event per ``run``. On the CPU provider a kernel event is the node's
compute; on the CUDA provider it is the host time of launching the node's kernels (ORT's profiler sees device time
only in builds with CUDA profiling), so per-node CUDA figures rank launch cost, not kernel time.

Unnamed and duplicate-named nodes get unique names in the session's copy of the model (the user's model is not
touched) and are reported as ``#INDEX Op`` (``NAME (#INDEX)`` for a repeated name); nodes ORT inserts or fuses
(``opt=`` above ``disabled``, Memcpy on CUDA) and nodes of Loop/Scan bodies are reported under their ORT name
with ``in_graph`` false.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections import defaultdict

import numpy as np
import onnx

TAG = "__trtlab_node_"


def unique_names(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, tuple[int, str, str]]]:
    """A copy whose main-graph nodes have unique names, and session name -> (index, display name, op type)."""
    work = onnx.ModelProto()
    work.CopyFrom(model)
    seen: set[str] = set()
    mapping = {}
    for i, node in enumerate(work.graph.node):
        # An unnamed node is OpType_index, as compare names it and keep= accepts it.
        display = f"{node.op_type}_{i}" if not node.name else f"{node.name} (#{i})" if node.name in seen else node.name
        if not node.name or node.name in seen:
            node.name = f"{TAG}{i}"
        seen.add(node.name)
        mapping[node.name] = (i, display, node.op_type)
    return work, mapping


def parse_events(events: list[dict], mapping: dict[str, tuple[int, str, str]], skip_runs: int = 1) -> dict:
    """Every node's mean time per run (after ``skip_runs`` warm runs), summed by op type; ``run_ms`` is the mean of
    ORT's own ``model_run`` over the same runs, so ``nodes_ms / run_ms`` is the share of the run spent in nodes."""
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])
    counted = runs[skip_runs:] if len(runs) > skip_runs else runs
    if not counted:
        return {"runs": 0, "run_ms": None, "nodes_ms": None, "nodes": [], "by_op": []}
    starts = [e["ts"] for e in counted]
    per_node: dict[str, np.ndarray] = {}
    info: dict[str, tuple[str, str]] = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        k = int(np.searchsorted(starts, e["ts"], side="right")) - 1
        if k < 0 or e["ts"] > counted[k]["ts"] + counted[k]["dur"]:
            continue  # a warm-up run's node
        node = name[: -len("_kernel_time")]
        per_node.setdefault(node, np.zeros(len(counted)))[k] += e.get("dur", 0) / 1e3
        args = e.get("args") or {}
        info[node] = (str(args.get("op_name", "")), str(args.get("provider", "")))
    means = {node: float(np.mean(v)) for node, v in per_node.items()}
    total = sum(means.values())
    nodes = []
    for node, ms in means.items():
        op, provider = info[node]
        index, display, graph_op = mapping.get(node, (None, node, op))
        nodes.append({"name": display, "index": index, "op": op or graph_op, "provider": provider, "ms": ms,
                      "share": ms / total if total else 0.0, "in_graph": node in mapping})
    nodes.sort(key=lambda r: -r["ms"])
    by_op: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for r in nodes:
        by_op[r["op"]][0] += 1
        by_op[r["op"]][1] += r["ms"]
    return {"runs": len(counted), "run_ms": float(np.mean([e["dur"] for e in counted])) / 1e3, "nodes_ms": total,
            "nodes": nodes,
            "by_op": [{"op": op, "nodes": c, "ms": ms, "share": ms / total if total else 0.0}
                      for op, (c, ms) in sorted(by_op.items(), key=lambda kv: -kv[1][1])]}


def profile_nodes(spec, model: onnx.ModelProto, feeds: dict[str, np.ndarray], runs: int = 10) -> dict:
    """Run ``model`` on a profiled onnxrt session (``spec``): one warm run, then ``runs`` profiled runs."""
    from trtlab.backends.ort_timing import open_timed

    work, mapping = unique_names(model)
    with tempfile.TemporaryDirectory(prefix="trtlab-prof-") as tmp:
        backend, runner, stream = open_timed(spec, work, feeds, profile_prefix=os.path.join(tmp, "ort"))
        try:
            for _ in range(runs + 1):
                runner.infer(feeds, False)
            path = backend.session.end_profiling()
            files = [path] if path and os.path.exists(path) else glob.glob(os.path.join(tmp, "ort*.json"))
            with open(files[0]) as f:
                events = json.load(f)
        finally:
            runner.close()
            backend.close()
            if stream is not None:
                stream.close()
    result = parse_events(events, mapping, skip_runs=1)
    result["provider"] = backend.info.get("provider")
    result["graph_nodes"] = len(model.graph.node)
    return result
