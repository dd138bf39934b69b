"""Comparators: per-tensor error metrics and verdicts (installed as ``trtlab.comparators``)."""

from trtlab.comparators.metrics import TensorMetrics, compare_arrays, merge_samples
from trtlab.comparators.tolerances import Tolerances

__all__ = ["TensorMetrics", "Tolerances", "compare_arrays", "merge_samples"]
