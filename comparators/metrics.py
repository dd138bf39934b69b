"""Per-tensor error metrics between a reference and a target array.

Rule for the verdict (the same as Polygraphy's default): an element fails only if it exceeds both tolerances,
``|t - r| > atol`` and ``|t - r| > rtol * |r|``. NaN matches NaN and an infinity matches the same infinity; a
NaN or infinity on one side only is a failing element, counted in ``nonfinite_diff`` (error statistics such as
max abs cover the finite elements only, so a tensor with ``nonfinite_diff`` is never an exact match). Cosine and
SNR are None when the target has NaN/Inf where the reference is finite: a cosine of 1 over the rest would hide it.
Integer and bool tensors are compared exactly.

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
    introduced_max_abs: float | None = None  # --attribute: error of this node alone, on the reference's inputs
    introduced_cosine: float | None = None
    nonfinite_diff: int = 0  # elements where NaN/Inf differ between the sides (max abs covers finite ones only)
    rules: list[str] = field(default_factory=list)  # graph outputs: the verdict rules that failed (verdict.py)


def error_of(m: TensorMetrics) -> float | None:
    """The tensor's error as one number: max abs over finite elements, or inf when NaN/Inf differ."""
    return math.inf if m.nonfinite_diff else m.max_abs


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


CHUNK = 1 << 17  # elements per block: float64 blocks stay in cache, so each statistic is a cheap pass


@dataclass
class _Sums:
    """Running totals over blocks of a flattened tensor pair (all statistics in float64)."""

    nan_r: int = 0
    nan_o: int = 0
    inf_r: int = 0
    inf_o: int = 0
    bad: int = 0
    special_bad: int = 0
    new_nonfinite: int = 0  # NaN/Inf in the target where the reference is finite
    finite: int = 0
    max_abs: float = 0.0
    sum_abs: float = 0.0
    max_rel: float = 0.0
    sum_rel: float = 0.0
    ref_max: float = 0.0
    tgt_max: float = 0.0
    rr: float = 0.0
    oo: float = 0.0
    ro: float = 0.0
    dd: float = 0.0


def _float_metrics(m: TensorMetrics, ref: np.ndarray, out: np.ndarray) -> None:
    # Blockwise in float64: the same statistics as one float64 pass over whole tensors, without full-size
    # float64 copies and temporaries (a BERT layer-wise run compares ~80 M elements per side).
    r_all, o_all = ref.reshape(-1), out.reshape(-1)
    t = _Sums()
    for start in range(0, r_all.size, CHUNK):
        _block(t, r_all[start:start + CHUNK].astype(np.float64, copy=False),
               o_all[start:start + CHUNK].astype(np.float64, copy=False), m.atol, m.rtol)
    m.nan = {"ref": t.nan_r, "target": t.nan_o}
    m.inf = {"ref": t.inf_r, "target": t.inf_o}
    m.mismatches = t.bad + t.special_bad
    m.nonfinite_diff = t.special_bad
    m.mismatch_fraction = m.mismatches / max(m.size, 1)
    if t.finite:
        m.max_abs, m.mean_abs = t.max_abs, t.sum_abs / t.finite
        m.max_rel, m.mean_rel = t.max_rel, t.sum_rel / t.finite
        m.ref_max_abs, m.target_max_abs = t.ref_max, t.tgt_max
        if not t.new_nonfinite:  # a target with NaN/Inf the reference lacks has no meaningful cosine or SNR
            m.cosine = _cosine_from(t.rr, t.oo, t.ro)
            m.snr_db = _snr_from(t.rr, t.dd)
    elif m.size:
        m.max_abs = m.mean_abs = m.max_rel = m.mean_rel = 0.0
        m.ref_max_abs = t.ref_max if t.nan_r + t.inf_r < m.size else None
    if m.mismatches:
        m.passed = False
        parts = []
        if t.bad:
            parts.append(f"{t.bad} of {m.size} elements out of tolerance (max abs {m.max_abs:.3g}, "
                         f"max rel {m.max_rel:.3g})")
        if t.special_bad:
            parts.append(f"NaN/Inf differ at {t.special_bad} elements (target NaN {m.nan['target']}, "
                         f"Inf {m.inf['target']}; reference NaN {m.nan['ref']}, Inf {m.inf['ref']})")
        m.reason = "; ".join(parts)


def _block(t: _Sums, r: np.ndarray, o: np.ndarray, atol: float, rtol: float) -> None:
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN: handled below, not a warning
        d = o - r
    if not np.isfinite(d).all():  # a NaN/Inf on either side (or an overflowing difference): the careful path
        r_nan, o_nan, r_inf, o_inf = np.isnan(r), np.isnan(o), np.isinf(r), np.isinf(o)
        t.nan_r += int(np.count_nonzero(r_nan))
        t.nan_o += int(np.count_nonzero(o_nan))
        t.inf_r += int(np.count_nonzero(r_inf))
        t.inf_o += int(np.count_nonzero(o_inf))
        finite = ~(r_nan | o_nan | r_inf | o_inf)
        special_equal = (r_nan & o_nan) | (r_inf & o_inf & (r == o))
        t.special_bad += int(np.count_nonzero(~finite & ~special_equal))
        t.new_nonfinite += int(np.count_nonzero((o_nan | o_inf) & ~(r_nan | r_inf)))
        r_ok = r[~(r_nan | r_inf)]  # the reference's range counts where the target is non-finite too
        if r_ok.size:
            t.ref_max = max(t.ref_max, float(np.abs(r_ok).max()))
        r, o = r[finite], o[finite]
        d = o - r
    if not d.size:
        return
    t.finite += d.size
    rr = float(np.einsum("i,i->", r, r))
    t.rr += rr
    if not d.any():  # identical block: no error, and the target's statistics are the reference's
        t.oo += rr
        t.ro += rr
        peak = float(max(r.max(), -r.min()))
        t.ref_max, t.tgt_max = max(t.ref_max, peak), max(t.tgt_max, peak)
        return
    t.oo += float(np.einsum("i,i->", o, o))
    t.ro += float(np.einsum("i,i->", r, o))
    absd = np.abs(d, out=d)
    t.dd += float(np.einsum("i,i->", absd, absd))
    absr = np.abs(r)
    t.bad += int(np.count_nonzero((absd > atol) & (absd > rtol * absr)))
    t.max_abs = max(t.max_abs, float(absd.max()))
    t.sum_abs += float(absd.sum())
    t.ref_max = max(t.ref_max, float(absr.max()))
    t.tgt_max = max(t.tgt_max, float(max(o.max(), -o.min())))
    rel = np.divide(absd, np.maximum(absr, REL_GUARD, out=absr), out=absr)
    t.max_rel = max(t.max_rel, float(rel.max()))
    t.sum_rel += float(rel.sum())


def _cosine_from(aa: float, bb: float, ab: float) -> float:
    na, nb = math.sqrt(aa), math.sqrt(bb)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.clip(ab / (na * nb), -1.0, 1.0))


def _snr_from(signal: float, noise: float) -> float | None:
    if noise == 0.0:
        return None
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
    broken = any(s.cosine is None and s.nonfinite_diff for s in per_sample)  # new NaN/Inf on some sample
    for attr in ("cosine", "snr_db"):
        v = vals(attr)
        setattr(merged, attr, min(v) if v and not broken else None)
    merged.mismatches = sum(s.mismatches for s in per_sample)
    merged.nonfinite_diff = sum(s.nonfinite_diff for s in per_sample)
    merged.size = sum(s.size for s in per_sample)
    merged.nan = {k: sum(s.nan[k] for s in per_sample) for k in ("ref", "target")}
    merged.inf = {k: sum(s.inf[k] for s in per_sample) for k in ("ref", "target")}
    failing = [s for s in per_sample if not s.passed]
    merged.passed = not failing
    if failing:
        merged.reason = f"fails on {len(failing)} of {len(per_sample)} samples; worst: {failing[0].reason}"
    return merged
