"""Latency and throughput as trtexec reports them, for any runner (TensorRT engines, ONNX Runtime sessions).

A runner has ``infer(feeds, copy_outputs)`` and, after each call, ``last``: that iteration's times in ms. Per
iteration: H2D, GPU compute and D2H from CUDA events; host latency = H2D + compute + D2H; end-to-end wall time
from the host clock. Warm-up runs first (not counted); then at least ``iterations`` runs and at least ``duration_s``
seconds. Throughput is iterations per second of wall time. A runner without device timing (ONNX Runtime on the
CPU) reports ``host_ms`` and ``wall_ms`` only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 90, 95, 99)
METRICS = ("h2d_ms", "compute_ms", "d2h_ms", "host_ms", "wall_ms")


@dataclass
class TimingReport:
    iterations: int
    warmup_iterations: int
    total_s: float
    throughput_qps: float
    stats: dict = field(default_factory=dict)  # metric -> {mean, min, max, median, p50, p90, p95, p99}
    settings: dict = field(default_factory=dict)


def summarize(samples: list[dict[str, float]]) -> dict:
    """Stats per metric over the per-iteration records (host_ms derived when absent)."""
    out = {}
    for metric in METRICS:
        values = [s.get(metric, s.get("h2d_ms", 0) + s.get("compute_ms", 0) + s.get("d2h_ms", 0))
                  if metric == "host_ms" else s.get(metric) for s in samples]
        values = np.array([v for v in values if v is not None], dtype=np.float64)
        if not values.size:
            continue
        stat = {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max()),
                "median": float(np.median(values))}
        stat.update({f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES})
        out[metric] = stat
    return out


def benchmark(runner, feeds: dict, *, warmup_s: float = 0.2, iterations: int = 10, duration_s: float = 3.0,
              copy_outputs: bool = True) -> TimingReport:
    """Run ``runner.infer`` until both ``iterations`` and ``duration_s`` are reached (after ``warmup_s``).

    A runner whose per-phase timing can be switched off (``phases``: ONNX Runtime on CUDA) is timed twice: the
    latency loop with the phases off (wall time only, nothing added to an iteration), then a loop of a quarter of
    the duration with CUDA events for H2D / compute / D2H. Latency and throughput come from the first."""
    start, warm = time.perf_counter(), 0
    while time.perf_counter() - start < warmup_s or warm == 0:
        runner.infer(feeds, copy_outputs)
        warm += 1
    split = bool(getattr(runner, "phases", False))
    if split:
        runner.phases = False
    try:
        samples, total = _loop(runner, feeds, copy_outputs, iterations, duration_s)
    finally:
        if split:
            runner.phases = True
    stats = summarize(samples)
    settings = {"warmup_s": warmup_s, "min_iterations": iterations, "duration_s": duration_s,
                "copy_outputs": copy_outputs}
    if split:
        phases, _t = _loop(runner, feeds, copy_outputs, iterations, duration_s / 4)
        stats.update({k: v for k, v in summarize(phases).items() if k != "wall_ms"})
        settings["phase_iterations"] = len(phases)
    return TimingReport(iterations=len(samples), warmup_iterations=warm, total_s=total,
                        throughput_qps=len(samples) / total if total > 0 else 0.0, stats=stats, settings=settings)


def _loop(runner, feeds: dict, copy_outputs: bool, iterations: int, duration_s: float) -> tuple[list[dict], float]:
    samples, start = [], time.perf_counter()
    while len(samples) < iterations or time.perf_counter() - start < duration_s:
        runner.infer(feeds, copy_outputs)
        samples.append(dict(runner.last))
    return samples, time.perf_counter() - start
