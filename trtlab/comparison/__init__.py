"""Comparison: run a reference and a target backend on the same inputs and compare every output (or every layer).

Owns the comparison loop (``run``: streaming samples, per-tensor metrics, first divergence, worst layers) and
error attribution (``attribution``: a layer's introduced vs inherited error). Metrics live in
``trtlab.comparators``; backends in ``trtlab.backends``.
"""
