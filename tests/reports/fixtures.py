"""Hand-written results.json dicts for schemas whose producers land later, and run-dir helpers."""

from __future__ import annotations

import json
from pathlib import Path

SURGEON = {
    "schema": "trtlab.surgeon/1", "model": "/models/road_segmentation_adas.onnx", "output": "/tmp/out.onnx",
    "passed": True, "argv": ["trtlab", "surgeon", "road.onnx", "--fold-constants", "--cleanup", "-o", "out.onnx"],
    "passes": [
        {"name": "fold-constants", "options": {"size_threshold": "1G"}, "seconds": 0.84, "nodes_before": 375,
         "nodes_after": 362, "ops_before": {"Shape": 8, "Slice": 12, "Concat": 10, "Conv": 60},
         "ops_after": {"Shape": 2, "Slice": 8, "Concat": 7, "Conv": 60}, "initializers_before": 100,
         "initializers_after": 113, "bytes_before": 810_000, "bytes_after": 812_500, "verified": True,
         "max_abs_error": 0.0, "status": "changed",
         "skipped": ["not folded: output 'big' would be 3.1 GB (threshold 1 GB)"],
         "notes": ["2 Constant nodes became initializers"]},
        {"name": "cleanup", "options": {}, "seconds": 0.02, "nodes_before": 362, "nodes_after": 360,
         "ops_before": {"Identity": 2}, "ops_after": {}, "bytes_before": 812_500, "bytes_after": 812_000,
         "verified": True, "max_abs_error": 1.2e-7, "status": "changed", "skipped": [], "notes": []},
        {"name": "toposort", "seconds": 0.01, "nodes_before": 360, "nodes_after": 360, "verified": None,
         "status": "unchanged"},
    ],
    "warnings": ["onnx.checker: missing shape on value_info 'x'"],
}

CHECK = {
    "schema": "trtlab.check/1", "model": "poly_capability.onnx", "module": {"name": "tensorrt_rtx", "version": "1.7.1"},
    "parseable": False,
    "nodes": [
        {"index": 0, "name": "add0", "op": "Add", "domain": "", "supported": True, "error": None, "hint": None},
        {"index": 1, "name": "fake0", "op": "FAKE!", "domain": "", "supported": False,
         "error": "No importer registered for op: FAKE!",
         "hint": "substitute a plugin (trtlab surgeon --substitute-plugins)"},
        {"index": 2, "name": "fake1", "op": "FAKER!", "domain": "", "supported": False,
         "error": "No importer registered for op: FAKER!",
         "hint": "isolate the op (trtlab surgeon --isolate-unsupported)"},
        {"index": 3, "name": "add1", "op": "Add", "domain": "", "supported": True},
    ],
    "partitions": [{"nodes": [0, 0], "supported": True}, {"nodes": [1, 2], "supported": False},
                   {"nodes": [3, 3], "supported": True}],
    "isolation": {"trt_segments": 0, "trt_nodes": 0, "fallback_segments": 1, "fallback_nodes": 4,
                  "fallback_why": {"parser": 2, "min-segment-size": 2}, "min_segment_size": 3,
                  "segments": [{"index": 0, "backend": "onnxrt", "node_ids": [0, 1, 2, 3]}]},
}

BUILD = {
    "schema": "trtlab.build/1", "model": "fastestdet.onnx", "module": {"name": "tensorrt_rtx", "version": "1.7.1"},
    "engine": "fastestdet.engine", "provenance": {"onnx_sha256": "7c5b2a5e", "trt_version": "1.7.1", "gpu": None},
    "options": {"precision": "fp16", "keep_fp32": ["Softmax"], "workspace": "2G", "opt_level": 3},
    "profiles": [{"input": {"min": [1, 3, 352, 352], "opt": [4, 3, 352, 352], "max": [8, 3, 352, 352]}}],
    "layers": [{"name": "conv1 + relu1", "type": "CaskConvolution", "precision": "FP16", "tactic": "0x1234"},
               {"name": "pool", "type": "CaskPooling", "precision": "FP16", "tactic": "0x99"}],
    "timing": {"build_s": 12.5, "parse_s": 0.3},
}

REDUCE = {
    "schema": "trtlab.debug.reduce/1", "model": "light_densenet121.onnx", "output": "min.onnx", "passed": True,
    "checks": 7, "nodes_before": 1746, "nodes_after": 1,
    "history": [{"phase": "bisect", "nodes": 1746, "failed": True}, {"phase": "bisect", "nodes": 873, "failed": False},
                {"phase": "bisect", "nodes": 436, "failed": True}, {"phase": "linear", "nodes": 1, "failed": True}],
}

PARTITION = {
    "schema": "trtlab.partition/1", "model": "m.onnx",
    "segments": [{"index": 0, "backend": "trt", "nodes": [0, 40], "inputs": ["x"], "outputs": ["a"]},
                 {"index": 1, "backend": "onnxrt", "nodes": [41, 41], "reasons": ["ConvInteger: no importer"]},
                 {"index": 2, "backend": "trt", "nodes": [42, 90]}],
}

FUTURE_COMMAND = {"schema": "trtlab.later/1", "model": {"name": "m"}, "passed": True,
                  "latency": {"p50_ms": 1.2, "p99_ms": 2.5}, "iterations": [{"i": 0, "ms": 1.1}, {"i": 1, "ms": 1.3}]}

ALL = {"surgeon": SURGEON, "check": CHECK, "build": BUILD, "reduce": REDUCE, "partition": PARTITION,
       "generic": FUTURE_COMMAND}


def make_run(root: Path, results: dict, name: str = "run") -> Path:
    run = root / name
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(json.dumps(results))
    return run
