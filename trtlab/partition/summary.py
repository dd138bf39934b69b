"""What ``--isolate-unsupported`` builds, in numbers: how many TensorRT segments (and nodes), how many nodes on the
fallback and why. ``trtlab check`` records it for a model the parser refuses (``isolation`` in results.json), so its
summary is the partition isolation then writes (same labelling, same planner, same ``--min-segment-size``
default), not the capability query's node ranges.
"""

from __future__ import annotations

import onnx

from trtlab.partition import DEFAULT_MIN_SIZE
from trtlab.partition.plan import Segment, plan
from trtlab.partition.support import NodeSupport, support_from_check

# why a node is on the fallback (NodeSupport.source) -> words for the summary line
WHY = {"parser": "refused by the parser", "capability": "outside the parser's capability ranges",
       "segment-parse": "refused when their segment was parsed alone", "min-segment-size": "in TensorRT segments under "
       "{min} nodes", "prediction": "predicted unsupported", "plugin": "plugin nodes"}


def summarize(segments: list[Segment], support: list[NodeSupport], min_size: int) -> dict:
    """Counts and segments of a plan (``trtlab.partition.plan.plan``)."""
    trt = [s for s in segments if s.supported]
    why: dict[str, int] = {}
    for s in support:
        if not s.supported:
            why[s.source] = why.get(s.source, 0) + 1
    return {"trt_segments": len(trt), "trt_nodes": sum(len(s.node_ids) for s in trt),
            "fallback_segments": len(segments) - len(trt),
            "fallback_nodes": sum(len(s.node_ids) for s in segments if not s.supported),
            "fallback_why": why, "min_segment_size": min_size,
            "segments": [{"index": s.index, "backend": s.backend, "node_ids": list(s.node_ids)} for s in segments]}


def summary_line(summary: dict) -> str:
    """"N TensorRT segments (M nodes), K nodes on the fallback (why)": the same words in check and isolation."""
    n, m, k = summary["trt_segments"], summary["trt_nodes"], summary["fallback_nodes"]
    why = ", ".join(f"{count} {WHY.get(src, src).format(min=summary.get('min_segment_size'))}"
                    for src, count in sorted(summary.get("fallback_why", {}).items(), key=_order))
    return (f"{n} TensorRT segment{'s' * (n != 1)} ({m} node{'s' * (m != 1)}), {k} node{'s' * (k != 1)} on the "
            f"fallback" + (f" ({why})" if why else ""))


def _order(item: tuple[str, int]) -> tuple:
    """Most nodes first; ties in the order of ``WHY``."""
    src, count = item
    return -count, list(WHY).index(src) if src in WHY else len(WHY), src


def isolation_preview(model: onnx.ModelProto, result, trt, min_size: int = DEFAULT_MIN_SIZE, on_round=None) -> dict:
    """The partition ``trtlab surgeon MODEL --isolate-unsupported`` builds for ``model``, from a finished
    ``trtlab check`` result of it (no second full parse): each TensorRT segment is parsed on its own, as there."""
    support, notes = support_from_check(model, result)
    segments, support = plan(model, support, min_size, trt, on_round=on_round)
    return summarize(segments, support, min_size) | {"notes": notes}
