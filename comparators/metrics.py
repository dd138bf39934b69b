"""Per-tensor error metrics between a reference and a target array.

Rule for the verdict (the same as Polygraphy's default): an element fails only if it exceeds both tolerances,
``|t - r| > atol`` and ``|t - r| > rtol * |r|``. NaN matches NaN and an infinity matches the same infinity; a
NaN or infinity on one side only is a failing element. Integer and bool tensors are compared exactly.

Relative error is reported with a guarded denominator ``max(|r|, 1e-9)`` so zeros in the reference do not turn
every difference into 1e16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

REL_GUARD = 1e-9


@dataclass
class TensorMetrics:
    name: str
    node: str | None = None
    op: str | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    target_shape: list[int] | None = None
    target_dtype: str | None = None
    max_abs: float | None = None
    mean_abs: float | None = None
    max_rel: float | None = None
    mean_rel: float | None = None
    cosine: float | None = None
    snr_db: float | None = None  # None: exact match (infinite SNR) or undefined
    ref_max_abs: float | None = None
    target_max_abs: float | None = None
    nan: dict[str, int] = field(default_factory=lambda: {"ref": 0, "target": 0})
    inf: dict[str, int] = field(default_factory=lambda: {"ref": 0, "target": 0})
    mismatch_fraction: float = 0.0
    mismatches: int = 0
    size: int = 0
    atol: float = 0.0
    rtol: float = 0.0
    exact: bool = False  # integer/bool tensors: compared for equality
    passed: bool = True
    reason: str | None = None  # why it failed, in words
    samples: int = 1


def _dtype_kind(arr: np.ndarray) -> str:
    if arr.dtype == bool:
        return "b"
    return "f" if arr.dtype.kind in "fc" else ("i" if arr.dtype.kind in "iu" else arr.dtype.kind)


def compare_arrays(name: str, ref: np.ndarray, out: np.ndarray, atol: float, rtol: float) -> TensorMetrics:
    m = TensorMetrics(name=name, shape=list(ref.shape), dtype=str(ref.dtype), atol=atol, rtol=rtol, size=int(ref.size))
    if out.dtype != ref.dtype:
        m.target_dtype = str(out.dtype)
    if out.shape != ref.shape:
        m.target_shape = list(out.shape)
        m.passed, m.reason = False, f"shape mismatch: reference {list(ref.shape)}, target {list(out.shape)}"
        m.mismatch_fraction, m.mismatches = 1.0, m.size
        return m
    kr, ko = _dtype_kind(ref), _dtype_kind(out)
    if {kr, ko} - {"f", "i", "b"} or (kr != ko and "b" in (kr, ko)):
        if not np.array_equal(ref, out):
            m.passed, m.reason = False, f"values differ (dtype {ref.dtype} vs {out.dtype})"
            m.mismatch_fraction, m.mismatches = 1.0, m.size
        return m
    if kr == "f" or ko == "f":
        _float_metrics(m, ref, out)
    else:
        _exact_metrics(m, ref, out)
    return m


def _exact_metrics(m: TensorMetrics, ref: np.ndarray, out: np.ndarray) -> None:
    m.exact = True
    r, o = ref.astype(np.int64), out.astype(np.int64)
    diff = np.abs(r - o)
    bad = diff != 0
    m.mismatches = int(bad.sum())
    m.mismatch_fraction = m.mismatches / max(m.size, 1)
    m.max_abs = float(diff.max()) if diff.size else 0.0
    m.mean_abs = float(diff.mean()) if diff.size else 0.0
    m.ref_max_abs = float(np.abs(r).max()) if r.size else 0.0
    m.target_max_abs = float(np.abs(o).max()) if o.size else 0.0
    if m.mismatches:
        m.passed, m.reason = False, f"{m.mismatches} of {m.size} elements differ (compared exactly)"


def _float_metrics(m: TensorMetrics, ref: np.ndarray, out: np.ndarray) -> None:
    r = ref.astype(np.float64, copy=False).ravel()
    o = out.astype(np.float64, copy=False).ravel()
    r_nan, o_nan = np.isnan(r), np.isnan(o)
    r_inf, o_inf = np.isinf(r), np.isinf(o)
    m.nan = {"ref": int(r_nan.sum()), "target": int(o_nan.sum())}
    m.inf = {"ref": int(r_inf.sum()), "target": int(o_inf.sum())}
    finite = ~(r_nan | o_nan | r_inf | o_inf)
    special_equal = (r_nan & o_nan) | (r_inf & o_inf & (r == o))
    special_bad = ~finite & ~special_equal
    rf, of = r[finite], o[finite]
    diff = np.abs(of - rf)
    abs_r = np.abs(rf)
    bad = (diff > m.atol) & (diff > m.rtol * abs_r)
    m.mismatches = int(bad.sum()) + int(special_bad.sum())
    m.mismatch_fraction = m.mismatches / max(m.size, 1)
    if diff.size:
        rel = diff / np.maximum(abs_r, REL_GUARD)
        m.max_abs, m.mean_abs = float(diff.max()), float(diff.mean())
        m.max_rel, m.mean_rel = float(rel.max()), float(rel.mean())
        m.ref_max_abs, m.target_max_abs = float(abs_r.max()), float(np.abs(of).max())
        m.cosine = _cosine(rf, of)
        m.snr_db = _snr_db(rf, diff)
    elif m.size:
        m.max_abs = m.mean_abs = m.max_rel = m.mean_rel = 0.0
    if m.mismatches:
        m.passed = False
        parts = []
        if int(bad.sum()):
            parts.append(f"{int(bad.sum())} of {m.size} elements out of tolerance (max abs {m.max_abs:.3g}, "
                         f"max rel {m.max_rel:.3g})")
        if int(special_bad.sum()):
            parts.append(f"NaN/Inf differ at {int(special_bad.sum())} elements (target NaN {m.nan['target']}, "
                         f"Inf {m.inf['target']}; reference NaN {m.nan['ref']}, Inf {m.inf['ref']})")
        m.reason = "; ".join(parts)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def _snr_db(ref: np.ndarray, diff: np.ndarray) -> float | None:
    noise = float(np.dot(diff, diff))
    if noise == 0.0:
        return None
    signal = float(np.dot(ref, ref))
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def merge_samples(per_sample: list[TensorMetrics]) -> TensorMetrics:
    """Worst case over samples for max-type metrics and the verdict; mean over samples for mean-type ones."""
    if len(per_sample) == 1:
        return per_sample[0]
    first = per_sample[0]
    merged = TensorMetrics(**{k: v for k, v in first.__dict__.items()})
    merged.samples = len(per_sample)

    def vals(attr):
        return [getattr(s, attr) for s in per_sample if getattr(s, attr) is not None]

    for attr in ("max_abs", "max_rel", "ref_max_abs", "target_max_abs", "mismatch_fraction"):
        v = vals(attr)
        setattr(merged, attr, max(v) if v else None)
    for attr in ("mean_abs", "mean_rel"):
        v = vals(attr)
        setattr(merged, attr, float(np.mean(v)) if v else None)
    for attr in ("cosine", "snr_db"):
        v = vals(attr)
        setattr(merged, attr, min(v) if v else None)
    merged.mismatches = sum(s.mismatches for s in per_sample)
    merged.size = sum(s.size for s in per_sample)
    merged.nan = {k: sum(s.nan[k] for s in per_sample) for k in ("ref", "target")}
    merged.inf = {k: sum(s.inf[k] for s in per_sample) for k in ("ref", "target")}
    failing = [s for s in per_sample if not s.passed]
    merged.passed = not failing
    if failing:
        merged.reason = f"fails on {len(failing)} of {len(per_sample)} samples; worst: {failing[0].reason}"
    return merged
