"""Comparator metrics and verdicts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from trtlab.comparators import Tolerances, compare_arrays, merge_samples

from trtlab.errors import TrtlabError


def test_element_fails_only_when_both_tolerances_exceeded():
    ref = np.array([100.0, 0.001], np.float32)
    out = np.array([100.05, 0.003], np.float32)  # abs 0.05 but rel 5e-4: ok; abs 2e-3 and rel 2: fails
    m = compare_arrays("t", ref, out, atol=1e-3, rtol=1e-3)
    assert m.mismatches == 1 and not m.passed
    assert m.max_abs == pytest.approx(0.05, rel=1e-3)


def test_nan_and_inf_semantics():
    ref = np.array([np.nan, np.inf, 1.0, 2.0], np.float32)
    out = np.array([np.nan, np.inf, np.inf, 2.0], np.float32)
    m = compare_arrays("t", ref, out, 1e-5, 1e-5)
    assert m.nan == {"ref": 1, "target": 1} and m.inf == {"ref": 1, "target": 2}
    assert m.mismatches == 1 and "NaN/Inf differ" in m.reason


def test_integer_and_bool_are_exact_and_shape_mismatch_fails():
    m = compare_arrays("i", np.array([1, 2, 3]), np.array([1, 2, 4]), atol=10, rtol=10)
    assert m.exact and not m.passed and m.mismatches == 1
    assert compare_arrays("b", np.array([True]), np.array([True]), 0, 0).passed
    s = compare_arrays("s", np.zeros((2, 3)), np.zeros((3, 2)), 1, 1)
    assert not s.passed and "shape mismatch" in s.reason


def test_cosine_snr_and_merge():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(1000).astype(np.float32)
    noisy = ref + 1e-3 * rng.standard_normal(1000).astype(np.float32)
    m1 = compare_arrays("t", ref, ref.copy(), 1e-5, 1e-5)
    m2 = compare_arrays("t", ref, noisy, 1e-5, 1e-5)
    assert m1.snr_db is None and m1.cosine == pytest.approx(1.0) and m1.passed
    assert 55 < m2.snr_db < 65 and m2.cosine > 0.99999 and not m2.passed
    merged = merge_samples([m1, m2])
    assert merged.samples == 2 and not merged.passed and merged.max_abs == m2.max_abs
    assert merged.snr_db == m2.snr_db and "1 of 2 samples" in merged.reason


def test_tolerance_parsing():
    t = Tolerances.parse(["1e-3", "out:0.5"], ["0"])
    assert t.for_tensor("out") == (0.5, 0.0) and t.for_tensor("x") == (1e-3, 0.0)
    with pytest.raises(TrtlabError):
        Tolerances.parse(["-1"], None)


@settings(max_examples=80, deadline=None)
@given(arrays(np.float32, st.integers(1, 50), elements=st.floats(-1e3, 1e3, width=32)),
       st.floats(0, 1), st.floats(0, 1))
def test_verdict_agrees_with_the_elementwise_rule(ref, atol, rtol):
    out = (ref * np.float32(1.001) + np.float32(1e-3)).astype(np.float32)
    m = compare_arrays("t", ref, out, atol, rtol)
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    expected = int(((diff > atol) & (diff > rtol * np.abs(ref.astype(np.float64)))).sum())
    assert m.mismatches == expected and m.passed == (expected == 0)
