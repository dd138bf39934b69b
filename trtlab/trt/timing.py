"""trtexec-style timing of engines: the statistics live in the core (``trtlab.timing``, shared with ONNX Runtime)."""

from trtlab.timing import METRICS, PERCENTILES, TimingReport, benchmark, summarize

__all__ = ["METRICS", "PERCENTILES", "TimingReport", "benchmark", "summarize"]
