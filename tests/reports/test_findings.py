"""Findings from saved metrics alone."""

from __future__ import annotations

from trtlab.reports.findings import compare_findings


def metric(name, op="Add", passed=True, ref_max=1.0, nan_t=0, inf_t=0, cosine=1.0, max_abs=1e-4, max_rel=1e-3,
           mismatch=0.0):
    return {"name": name, "node": f"n_{name}", "op": op, "passed": passed, "ref_max_abs": ref_max,
            "nan": {"ref": 0, "target": nan_t}, "inf": {"ref": 0, "target": inf_t}, "cosine": cosine,
            "max_abs": max_abs, "max_rel": max_rel, "mismatch_fraction": mismatch, "snr_db": 40.0}


def run(layers, outputs=None, backend="onnxrt", first=None):
    return {"target": {"backend": backend, "spec": f"{backend}:fp16", "precision": "fp16"},
            "tolerances": {"atol": 1e-3, "rtol": 1e-2}, "layers": layers, "outputs": outputs or layers[-1:],
            "first_divergence": first}


def test_overflow_points_at_first_nonfinite_layer_with_keep_hint():
    layers = [metric("a"), metric("b", "Pow", False, ref_max=8.1e4, inf_t=10, cosine="nan", max_abs="inf"),
              metric("c", "ReduceSum", False, ref_max=9e4, nan_t=3)]
    found = compare_findings(run(layers))
    first = [f for f in found if "overflows FP16" in f.hazard]
    assert first and first[0].where == "b (Pow)"
    # c exceeds FP16 too: keeping b alone would move the Inf to c (tests/comparison/test_overflow_mitigation.py)
    assert "--target onnxrt:fp16,keep=n_b+n_c`" in first[0].mitigation


def test_overflow_of_one_layer_keeps_that_layer():
    layers = [metric("a"), metric("b", "Pow", False, ref_max=8.1e4, inf_t=10, cosine="nan", max_abs="inf"),
              metric("c", "ReduceSum", False, ref_max=90.0, nan_t=3)]
    first = [f for f in compare_findings(run(layers)) if "overflows FP16" in f.hazard]
    assert "--target onnxrt:fp16,keep=n_b`" in first[0].mitigation and "keep=Pow" in first[0].mitigation


def test_trt_target_gets_keep_fp32_flag():
    layers = [metric("b", "Softmax", False, ref_max=7e4, inf_t=1)]
    found = compare_findings(run(layers, backend="trt"))
    assert any("--keep-fp32 n_b" in f.mitigation for f in found)


def test_output_failing_tolerance_but_close():
    out = metric("out", passed=False, cosine=0.999999, max_abs=5.4, mismatch=0.005)
    found = compare_findings(run([out]))
    assert any("agrees closely" in f.hazard and "--atol out:6" in f.mitigation for f in found)


def test_output_passing_with_low_cosine():
    out = metric("out", passed=True, cosine=0.95)
    assert any("cosine similarity is only" in f.hazard for f in compare_findings(run([out])))


def test_clean_run_has_no_warnings():
    layers = [metric(f"l{i}") for i in range(5)]
    assert [f for f in compare_findings(run(layers)) if f.severity != "info"] == []


def test_missing_fields_do_not_crash():
    assert compare_findings({}) == []
    assert isinstance(compare_findings({"layers": [{}], "outputs": [{}], "first_divergence": {}}), list)
