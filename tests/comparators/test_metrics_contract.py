"""What the comparators promise beyond the element rule: defaults, the relative-error guard, blockwise sums, merging,
and that every field's type reads back from results.json (annotations are evaluated by trtlab.results)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from trtlab.comparators import TensorMetrics, Tolerances, compare_arrays, merge_samples
from trtlab.comparators import metrics as cm

from trtlab.results import from_dict
from trtlab.rundir import jsonable


def test_defaults_of_a_fresh_metrics_record():
    m = TensorMetrics(name="t")
    assert (m.node, m.op, m.shape, m.dtype, m.target_shape, m.target_dtype) == (None,) * 6
    assert (m.max_abs, m.mean_abs, m.max_rel, m.mean_rel, m.cosine, m.snr_db) == (None,) * 6
    assert (m.ref_max_abs, m.target_max_abs, m.reason, m.introduced_max_abs, m.introduced_cosine) == (None,) * 5
    assert m.nan == {"ref": 0, "target": 0} and m.inf == {"ref": 0, "target": 0} and m.nan is not m.inf
    assert (m.mismatch_fraction, m.mismatches, m.size, m.atol, m.rtol) == (0.0, 0, 0, 0.0, 0.0)
    assert m.exact is False and m.passed is True and m.samples == 1
    assert TensorMetrics(name="u").nan is not m.nan, "the default dicts must not be shared"
    t = Tolerances()
    assert (t.atol, t.rtol, t.per_atol, t.per_rtol) == (1e-5, 1e-5, {}, {})


def test_metrics_round_trip_through_json_with_nonfinite_values():
    ref = np.array([1.0, 0.0, np.nan, 3.0], np.float32)
    out = np.array([1.5, np.inf, np.nan, 3.0], np.float32)
    m = compare_arrays("t", ref, out, 1e-3, 1e-3)
    m.node, m.op = "n", "Relu"
    back = from_dict(TensorMetrics, jsonable(m))
    assert jsonable(back) == jsonable(m)
    snr = from_dict(TensorMetrics, {"name": "t", "snr_db": "-inf", "max_abs": "inf", "cosine": "nan"})
    assert snr.snr_db == -math.inf and snr.max_abs == math.inf and math.isnan(snr.cosine)
    assert from_dict(Tolerances, jsonable(Tolerances(per_atol={"y": 0.5}))).per_atol == {"y": 0.5}


def test_relative_error_guard_at_zero_reference():
    m = compare_arrays("t", np.array([0.0, 2.0], np.float32), np.array([1e-6, 2.0], np.float32), 0.0, 0.0)
    assert m.max_rel == pytest.approx(1e-6 / cm.REL_GUARD, rel=1e-6)
    assert cm.REL_GUARD == 1e-9
    assert m.mean_rel == pytest.approx(1e-6 / cm.REL_GUARD / 2, rel=1e-6)


def test_statistics_of_a_small_pair():
    ref = np.array([1.0, -2.0, 4.0, 0.5], np.float32)
    out = np.array([1.0, -2.5, 4.0, 1.0], np.float32)
    m = compare_arrays("t", ref, out, 0.1, 0.1)
    d = np.abs(out.astype(np.float64) - ref)
    assert m.max_abs == pytest.approx(0.5) and m.mean_abs == pytest.approx(d.mean())
    assert m.max_rel == pytest.approx(1.0) and m.mean_rel == pytest.approx((0.25 + 1.0) / 4)
    assert m.ref_max_abs == 4.0 and m.target_max_abs == 4.0
    r64, o64 = ref.astype(np.float64), out.astype(np.float64)
    cos = float(r64 @ o64 / (np.linalg.norm(r64) * np.linalg.norm(o64)))
    assert m.cosine == pytest.approx(cos, rel=1e-9)
    assert m.snr_db == pytest.approx(10 * math.log10(float(ref @ ref) / float(d @ d)), rel=1e-9)
    assert m.mismatches == 2 and m.mismatch_fraction == 0.5 and not m.passed and m.size == 4
    assert m.reason.startswith("2 of 4 elements out of tolerance (max abs 0.5, max rel 1)")
    assert m.shape == [4] and m.dtype == "float32" and m.target_dtype is None and m.exact is False


def test_identical_blocks_and_negative_peaks():
    ref = np.array([-3.0, 1.0], np.float32)
    m = compare_arrays("t", ref, ref.copy(), 0, 0)
    assert m.passed and m.max_abs == 0.0 and m.ref_max_abs == 3.0 and m.target_max_abs == 3.0
    assert m.cosine == pytest.approx(1.0) and m.snr_db is None and m.mismatches == 0 and m.reason is None
    o = compare_arrays("t", ref, np.array([-5.0, 1.0], np.float32), 0, 0)
    assert o.target_max_abs == 5.0 and o.ref_max_abs == 3.0


def test_blockwise_equals_whole(monkeypatch):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(1000).astype(np.float32)
    out = ref + rng.standard_normal(1000).astype(np.float32) * 1e-2
    out[10] = ref[10]
    whole = compare_arrays("t", ref, out, 1e-2, 1e-2)
    monkeypatch.setattr(cm, "CHUNK", 7)
    blocks = compare_arrays("t", ref, out, 1e-2, 1e-2)
    for k in ("max_abs", "mean_abs", "max_rel", "mean_rel", "cosine", "snr_db", "ref_max_abs", "target_max_abs"):
        assert getattr(blocks, k) == pytest.approx(getattr(whole, k), rel=1e-9), k
    assert blocks.mismatches == whole.mismatches


def test_nonfinite_only_and_empty_tensors():
    m = compare_arrays("t", np.array([np.nan, np.inf], np.float32), np.array([np.nan, np.inf], np.float32), 0, 0)
    assert m.passed and m.max_abs == 0.0 and m.mean_rel == 0.0 and m.cosine is None
    e = compare_arrays("t", np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), 0, 0)
    assert e.passed and e.max_abs is None and e.size == 0 and e.mismatch_fraction == 0.0
    neg = compare_arrays("t", np.array([-np.inf], np.float32), np.array([np.inf], np.float32), 0, 0)
    assert not neg.passed and neg.inf == {"ref": 1, "target": 1} and "NaN/Inf differ at 1" in neg.reason
    assert "reference NaN 0, Inf 1" in neg.reason and "target NaN 0, Inf 1" in neg.reason


def test_a_difference_that_overflows_float64_is_handled():
    big = np.finfo(np.float64).max
    m = compare_arrays("t", np.array([big, 1.0]), np.array([-big, 1.0]), 0, 0)
    assert not m.passed and m.mismatches == 1


def test_cosine_and_snr_edges():
    assert cm._cosine_from(0.0, 0.0, 0.0) == 1.0
    assert cm._cosine_from(1.0, 0.0, 0.0) == 0.0 and cm._cosine_from(0.0, 1.0, 0.0) == 0.0
    assert cm._cosine_from(4.0, 1.0, 2.0) == 1.0 and cm._cosine_from(4.0, 1.0, 3.0) == 1.0
    assert cm._cosine_from(4.0, 1.0, -3.0) == -1.0 and cm._cosine_from(4.0, 9.0, 3.0) == 0.5
    assert cm._snr_from(1.0, 0.0) is None and cm._snr_from(0.0, 1.0) == -math.inf
    assert cm._snr_from(100.0, 1.0) == pytest.approx(20.0)
    zero_ref = compare_arrays("t", np.zeros(3, np.float32), np.ones(3, np.float32), 0, 0)
    assert zero_ref.cosine == 0.0 and zero_ref.snr_db == -math.inf


def test_integers_bools_and_other_kinds():
    m = compare_arrays("i", np.array([5, -2], np.int32), np.array([5, -9], np.int64), 0, 0)
    assert m.exact and m.max_abs == 7.0 and m.mean_abs == 3.5 and m.ref_max_abs == 5.0 and m.target_max_abs == 9.0
    assert m.mismatch_fraction == 0.5 and m.target_dtype == "int64"
    assert m.reason == "1 of 2 elements differ (compared exactly)"
    one = compare_arrays("i", np.array([1]), np.array([2]), 0, 0)
    assert one.mismatch_fraction == 1.0 and one.mean_abs == 1.0
    same = compare_arrays("b", np.array([True, False]), np.array([True, False]), 0, 0)
    assert same.exact and same.passed and same.max_abs == 0.0 and same.reason is None
    e = compare_arrays("i", np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0)
    assert e.passed and e.max_abs == 0.0 and e.ref_max_abs == 0.0 and e.mean_abs == 0.0 and e.target_max_abs == 0.0
    s = compare_arrays("s", np.array(["a", "b"]), np.array(["a", "c"]), 0, 0)
    assert not s.passed and s.mismatches == 2 and s.mismatch_fraction == 1.0
    assert s.reason == "values differ (dtype <U1 vs <U1)"
    ok = compare_arrays("s", np.array(["a"]), np.array(["a"]), 0, 0)
    assert ok.passed and ok.mismatches == 0
    fb = compare_arrays("fb", np.array([1.0, 0.0]), np.array([True, False]), 0, 0)
    assert fb.passed, "bool vs float with the same values is equal"
    ib = compare_arrays("ib", np.array([1, 0]), np.array([True, True]), 0, 0)
    assert not ib.passed and ib.mismatch_fraction == 1.0
    fi = compare_arrays("fi", np.array([1.0, 2.0], np.float32), np.array([1, 3], np.int64), 0.5, 0)
    assert not fi.exact and fi.mismatches == 1 and fi.max_abs == 1.0
    i_f = compare_arrays("if", np.array([1, 3], np.int64), np.array([1.0, 2.5], np.float32), 0.1, 0)
    assert not i_f.exact and i_f.max_abs == 0.5 and i_f.mismatches == 1, "int reference, float target: float path"


def test_shape_mismatch_record():
    m = compare_arrays("s", np.zeros((2, 3)), np.zeros((3, 2)), 1, 1)
    assert m.target_shape == [3, 2] and m.mismatch_fraction == 1.0 and m.mismatches == 6
    assert m.reason == "shape mismatch: reference [2, 3], target [3, 2]"
    assert compare_arrays("t", np.zeros(2), np.zeros(2), 0, 0).target_shape is None


def test_merge_samples():
    a = compare_arrays("t", np.array([1.0, 2.0]), np.array([1.0, 2.5]), 0.1, 0.1)
    b = compare_arrays("t", np.array([1.0, 4.0]), np.array([1.1, 4.0]), 0.01, 0.01)
    c = compare_arrays("t", np.array([1.0, 1.0]), np.array([1.0, 1.0]), 0.1, 0.1)
    assert merge_samples([a]) is a
    m = merge_samples([c, a, b])
    assert m.samples == 3 and m.max_abs == pytest.approx(0.5) and m.max_rel == pytest.approx(0.25)
    assert m.mean_abs == pytest.approx(np.mean([c.mean_abs, a.mean_abs, b.mean_abs]))
    assert m.mean_rel == pytest.approx(np.mean([c.mean_rel, a.mean_rel, b.mean_rel]))
    assert m.cosine == min(a.cosine, b.cosine, c.cosine) and m.snr_db == min(a.snr_db, b.snr_db)
    assert m.ref_max_abs == 4.0 and m.target_max_abs == 4.0 and m.mismatch_fraction == 0.5
    assert m.mismatches == 2 and m.size == 6 and not m.passed
    assert m.reason == f"fails on 2 of 3 samples; worst: {a.reason}"
    assert c.samples == 1 and c.passed, "merging must not change the per-sample records"
    nf = merge_samples([compare_arrays("t", np.array([np.nan]), np.array([np.nan]), 0, 0)] * 2)
    assert nf.nan == {"ref": 2, "target": 2} and nf.inf == {"ref": 0, "target": 0} and nf.passed
    assert nf.cosine is None and nf.mean_abs == 0.0 and nf.reason is None
    assert merge_samples([c, c]).passed and merge_samples([c, c]).max_abs == 0.0


def test_tolerance_parsing_edges():
    from trtlab.comparators.tolerances import _split, for_target, precision_of

    from trtlab.backends import parse_spec
    from trtlab.errors import TrtlabError

    assert _split("--atol", " logits:1e-2 ") == ("logits", 0.01) and _split("--atol", "0") == (None, 0.0)
    assert _split("--atol", "a:b:3") == ("a:b", 3.0)
    for bad in ("x", "1e-3x", "--", "1..2"):
        with pytest.raises(TrtlabError):
            _split("--atol", bad)
    t = Tolerances.parse(["2", "y:3"], ["4", "z:5"])
    assert (t.atol, t.rtol, t.per_atol, t.per_rtol) == (2.0, 4.0, {"y": 3.0}, {"z": 5.0})
    assert t.for_tensor("z") == (2.0, 5.0) and t.for_tensor("y") == (3.0, 4.0)
    assert precision_of(parse_spec("onnxrt:bf16")) == "bf16" and precision_of(object()) == "fp32"
    per_only = for_target(parse_spec("onnxrt:fp16"), ["y:0.5"], None)
    assert (per_only.atol, per_only.rtol, per_only.per_atol) == (1e-3, 1e-2, {"y": 0.5})
    assert for_target(parse_spec("onnxrt:fp16"), 0.25, (0.5,)).rtol == 0.5
    assert for_target(parse_spec("onnxrt:fp16"), 0.25, None).atol == 0.25


@pytest.mark.parametrize("item, problem, hint", [
    ("x", "not a number or name:number", "e.g. --atol 1e-3 or --atol logits:1e-2"),
    ("1..2", "not a number", "e.g. --atol 1e-3"),
    ("-1", "a tolerance cannot be negative", "e.g. --atol 1e-3"),
    ("y:-0.5", "a tolerance cannot be negative", "e.g. --atol 1e-3"),
])
def test_tolerance_errors_name_the_flag_and_say_what_to_write(item, problem, hint):
    from trtlab.comparators.tolerances import _split

    from trtlab.errors import TrtlabError

    with pytest.raises(TrtlabError) as e:
        _split("--atol", item)
    assert (str(e.value.subject), e.value.problem, e.value.hint) == (f"--atol {item}", problem, hint)
    assert e.value.code == 2


def test_nan_on_one_side_against_a_finite_value_fails():
    for ref, out in (([np.nan, 1.0], [1.0, 1.0]), ([1.0, 1.0], [np.nan, 1.0])):
        m = compare_arrays("t", np.array(ref, np.float32), np.array(out, np.float32), 1e-3, 1e-3)
        assert not m.passed and m.mismatches == 1 and m.max_abs == 0.0, (ref, out)
        assert m.reason.startswith("NaN/Inf differ at 1 elements")


def test_nonfinite_counts_add_up_across_blocks(monkeypatch):
    ref = np.array([np.nan, 1.0, np.inf, 2.0, np.nan, 3.0, -np.inf, 4.0], np.float32)
    out = np.array([np.nan, 1.0, 5.0, 2.0, 7.0, np.inf, -np.inf, np.nan], np.float32)
    whole = compare_arrays("t", ref, out, 1e-3, 1e-3)
    monkeypatch.setattr(cm, "CHUNK", 2)
    blocks = compare_arrays("t", ref, out, 1e-3, 1e-3)
    assert whole.nan == blocks.nan == {"ref": 2, "target": 2} and whole.inf == blocks.inf == {"ref": 2, "target": 2}
    assert whole.mismatches == blocks.mismatches == 4


def test_peaks_below_one_and_both_reasons_joined():
    m = compare_arrays("t", np.array([0.5, -0.25], np.float32), np.array([0.25, np.nan], np.float32), 1e-3, 1e-3)
    assert m.ref_max_abs == 0.5 and m.target_max_abs == 0.25
    assert m.reason == ("1 of 2 elements out of tolerance (max abs 0.25, max rel 0.5); NaN/Inf differ at 1 elements "
                        "(target NaN 1, Inf 0; reference NaN 0, Inf 0)")
    one = compare_arrays("t", np.array([1.0], np.float32), np.array([2.0], np.float32), 0, 0)
    assert one.mismatch_fraction == 1.0


def test_an_error_equal_to_a_tolerance_passes():
    """The rule is 'exceeds': |t - r| > atol and |t - r| > rtol*|r|. Equal to a tolerance is within it."""
    ref, out = np.array([1.0], np.float32), np.array([1.5], np.float32)
    assert compare_arrays("t", ref, out, 0.5, 0.0).passed
    assert compare_arrays("t", ref, out, 0.0, 0.5).passed
    assert not compare_arrays("t", ref, out, 0.25, 0.25).passed


def test_identical_block_after_a_differing_one(monkeypatch):
    ref = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    out = np.array([1.5, 2.0, 3.0, 4.0], np.float32)
    whole = compare_arrays("t", ref, out, 0, 0)
    monkeypatch.setattr(cm, "CHUNK", 2)
    blocks = compare_arrays("t", ref, out, 0, 0)
    assert blocks.cosine == pytest.approx(whole.cosine, rel=1e-12) and blocks.snr_db == pytest.approx(whole.snr_db)


def test_merged_record_describes_the_first_sample():
    """Samples of a dynamic-shape model may differ in shape; the merged record keeps the first sample's."""
    a = compare_arrays("t", np.ones(2, np.float32), np.ones(2, np.float32), 0, 0)
    b = compare_arrays("t", np.ones(3, np.float64), np.ones(3, np.float64), 0, 0)
    merged = merge_samples([a, b])
    assert (merged.shape, merged.dtype, merged.size) == ([2], "float32", 5)
