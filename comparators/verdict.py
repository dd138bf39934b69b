"""Verdict rules for a compare run, applied to every graph output (documented in the README and results.json).

An output fails when any of these rules fails (the verdict line names the rule):

- ``tolerance``: some element exceeds both ``atol`` and ``rtol * |ref|`` (``comparators.metrics``);
- ``nonfinite``: the target has NaN/Inf where the reference is finite;
- ``constant``: the target is constant (all zeros, say) while the reference is not;
- ``cosine``: the cosine similarity to the reference is below ``--min-cosine`` (a default per precision;
  0 turns the rule off). A small output can pass an absolute tolerance while its shape is wrong.

The verdict also says when the reference output is degenerate on the inputs used (constant, every value within
1e-6 of their magnitude, or the same class in every row): such a check proves little whatever its result.
"""

from __future__ import annotations

import numpy as np
from trtlab.comparators.metrics import TensorMetrics

from trtlab.ui import fmt_span

MIN_COSINE = {"fp32": 0.9999, "fp16": 0.999, "bf16": 0.99}
RULES = {
    "tolerance": "an element exceeds both atol and rtol*|ref|",
    "nonfinite": "the target has NaN/Inf where the reference is finite",
    "constant": "the target is constant (e.g. all zeros) while the reference is not",
    "cosine": "cosine similarity to the reference is below min_cosine",
}
WEAK_HINT = "this check proves little: give real inputs (`--load-inputs`, `--data-loader-script`)"
SPREAD_EPS = 1e-6
MIN_ROWS_ONE_CLASS = 4


def default_min_cosine(precision: str) -> float:
    return MIN_COSINE.get(precision, MIN_COSINE["fp16"])


def output_stats(ref: np.ndarray, out: np.ndarray) -> dict:
    """What the verdict needs beyond the metrics, for one sample of one float output (small: outputs only)."""
    if ref.dtype.kind != "f" or out.dtype.kind != "f" or ref.size < 2:
        return {}
    r = ref[np.isfinite(ref)].astype(np.float64)
    o = out[np.isfinite(out)].astype(np.float64)
    stats = {"ref_min": float(r.min()) if r.size else None, "ref_max": float(r.max()) if r.size else None,
             "target_constant": bool(o.size == out.size and (o.size < 2 or o.min() == o.max())),
             "target_value": float(o[0]) if o.size else None, "argmax": None}
    if ref.ndim >= 2 and ref.shape[-1] > 1 and r.size == ref.size and not _sorted_rows(ref):
        stats["argmax"] = np.unique(ref.reshape(-1, ref.shape[-1]).argmax(axis=-1)).tolist()
        stats["rows"] = int(ref.size // ref.shape[-1])
    return stats


def _sorted_rows(ref: np.ndarray) -> bool:
    """Every row in order (TopK values, sorted scores): its argmax is its first or last place by construction,
    which says nothing about classes."""
    rows = ref.reshape(-1, ref.shape[-1])
    steps = np.diff(rows, axis=-1)
    return bool(rows.shape[-1] > 2 and ((steps <= 0).all() or (steps >= 0).all()))


def merge_stats(per_sample: list[dict]) -> dict:
    per_sample = [s for s in per_sample if s]
    if not per_sample:
        return {}
    lows = [s["ref_min"] for s in per_sample if s["ref_min"] is not None]
    highs = [s["ref_max"] for s in per_sample if s["ref_max"] is not None]
    targets = {s["target_value"] for s in per_sample}
    classes = None
    if all(s.get("argmax") is not None for s in per_sample):
        classes = sorted({c for s in per_sample for c in s["argmax"]})
    return {"ref_min": min(lows) if lows else None, "ref_max": max(highs) if highs else None,
            "target_constant": all(s["target_constant"] for s in per_sample) and len(targets) == 1,
            "target_value": next(iter(targets)) if len(targets) == 1 else None,
            "classes": classes, "rows": sum(s.get("rows", 0) for s in per_sample)}


def weak_reason(stats: dict) -> str | None:
    """Why the reference output proves little on these inputs (constant, saturated, one class), or None."""
    lo, hi = stats.get("ref_min"), stats.get("ref_max")
    if lo is None or hi is None:
        return None
    if lo == hi:
        return f"constant ({lo:.6g} everywhere)"
    if _ref_constant(stats):
        return f"saturated (every value within {hi - lo:.2g} of {lo:.6g})"
    if stats.get("classes") is not None and len(stats["classes"]) == 1 and stats.get("rows", 0) >= MIN_ROWS_ONE_CLASS:
        return f"one class (argmax {stats['classes'][0]} in all {stats['rows']} rows)"
    return None


def _ref_constant(stats: dict) -> bool:
    """The reference spans at most SPREAD_EPS of its own magnitude: a reference of 1e-8 that varies by 1e-8 is
    not constant (an absolute floor would let an all-zero target pass against a tiny but varying mask)."""
    lo, hi = stats.get("ref_min"), stats.get("ref_max")
    return lo is not None and hi is not None and hi - lo <= SPREAD_EPS * max(abs(lo), abs(hi))


def failed_rules(m: TensorMetrics, stats: dict, min_cosine: float) -> list[tuple[str, str]]:
    """(rule, detail) for each rule the output fails, worst first."""
    failed = []
    new = (m.nan["target"] + m.inf["target"]) - (m.nan["ref"] + m.inf["ref"])
    if new > 0:
        failed.append(("nonfinite", f"{new} NaN/Inf in the target where the reference is finite"))
    if stats.get("target_constant") and not _ref_constant(stats):
        value = stats.get("target_value")
        what = "all zeros" if value == 0 else f"constant {value:.6g}"
        span = fmt_span(stats["ref_min"], stats["ref_max"])
        failed.append(("constant", f"the target is {what}; the reference spans {span}"))
    if min_cosine > 0 and m.cosine is not None and m.cosine < min_cosine:
        failed.append(("cosine", f"cosine {m.cosine:.6f} < min_cosine {min_cosine:g}"))
    if not m.passed and m.reason:
        failed.append(("tolerance", m.reason))
    return failed


def judge(outputs: list[TensorMetrics], stats: dict[str, dict], min_cosine: float) -> dict:
    """Apply the rules to the outputs (updates ``passed``/``reason``/``rules`` on each); return the verdict dict
    for results.json: ``passed``, ``failures`` [{tensor, rule, detail}], ``weak_inputs`` [{tensor, reason}]."""
    failures, weak = [], []
    for m in outputs:
        s = stats.get(m.name, {})
        rules = failed_rules(m, s, min_cosine)
        m.rules = [rule for rule, _ in rules]
        if rules:
            m.passed = False
            m.reason = "; ".join(f"{rule}: {detail}" if rule != "tolerance" else detail for rule, detail in rules)
            failures.extend({"tensor": m.name, "rule": rule, "detail": detail} for rule, detail in rules)
        why = weak_reason(s)
        if why:
            weak.append({"tensor": m.name, "reason": why})
    return {"passed": not failures, "min_cosine": min_cosine, "rules": RULES, "failures": failures,
            "weak_inputs": weak}
