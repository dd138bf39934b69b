"""The terminal's number formats: one helper for the tables and the findings."""

from __future__ import annotations

from trtlab.ui import fmt_num, fmt_span


def test_fmt_num():
    assert [fmt_num(v) for v in (None, "", 0, 0.0, 3, True, 0.12345, 12345.0, 1e-5, float("inf"),
                                 float("-inf"), float("nan"))] == [
        "-", "-", "0", "0", "3", "yes", "0.123", "1.23e+04", "1.00e-05", "inf", "-inf", "nan"]


def test_a_narrow_span_never_prints_as_a_constant():
    assert fmt_span(0.5, 0.5001) == "[0.5, 0.5001]"
    assert fmt_span(1.0, 2.0) == "[1, 2]"
    assert fmt_span(3.0, 3.0) == "[3, 3]"
    lo, hi = 1.0, 1.0 + 2**-40
    text = fmt_span(lo, hi)
    assert text.split(", ")[0] != text.split(", ")[1].rstrip("]").replace("[", "")


def test_a_constant_target_against_a_narrow_reference_says_so():
    import numpy as np
    from trtlab.comparators.metrics import compare_arrays
    from trtlab.comparators.verdict import failed_rules

    ref = np.linspace(0.5, 0.5001, 1000, dtype=np.float32)
    out = np.full_like(ref, 0.5)
    m = compare_arrays("y", ref, out, 1e-3, 1e-3)
    stats = {"target_constant": True, "target_value": 0.5, "ref_min": float(ref.min()), "ref_max": float(ref.max())}
    rules = dict(failed_rules(m, stats, 0.0))
    assert "[0.5, 0.5001]" in rules["constant"]
