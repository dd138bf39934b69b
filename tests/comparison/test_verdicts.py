"""Issue 10: verdicts that hold on third-party architectures. One test per class of wrong verdict, each on a model
built in code (tests/models/real_world.py) that reproduces it."""

import json
import re
import shlex

import numpy as np
import pytest

from tests.models import real_world as rw


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("real_world")
    return {
        "detector": rw.save(rw.detector(), d / "detector.onnx"),
        "encoder": rw.save(rw.encoder(), d / "encoder.onnx"),
        "keras": rw.save(rw.encoder(hand_written_ln=True, amplitude=300.0), d / "keras_ln.onnx"),
        "unnamed": rw.save(rw.encoder(hand_written_ln=True, amplitude=300.0, unnamed=True), d / "unnamed.onnx"),
        "resize11": rw.save(rw.resize_sizes(11), d / "resize11.onnx"),
        "resize13": rw.save(rw.resize_sizes(13), d / "resize13.onnx"),
        "zeros": rw.save(rw.constant_output("zeros"), d / "zeros.onnx"),
        "ones": rw.save(rw.constant_output("ones"), d / "ones.onnx"),
        "oneclass": rw.save(rw.constant_output("oneclass"), d / "oneclass.onnx"),
        "convbn11": rw.save(rw.conv_bn(11), d / "convbn11.onnx"),
    }


def _compare(cli, tmp_path, model, target, *extra, name="run"):
    run_dir = tmp_path / name
    r = cli("compare", model, "--target", target, "--out", str(run_dir), "--no-report", *extra)
    assert r.code in (0, 1), r
    return r, json.loads((run_dir / "results.json").read_text())


def _fits_80(text: str) -> None:
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long


def test_class1_constant_target_output_fails_although_within_atol(cli, tmp_path, models):
    """A sigmoid map near zero that FP16 makes constant: within atol, yet FAILED by the constant rule."""
    r, res = _compare(cli, tmp_path, models["detector"], "onnxrt:fp16,fold=0")
    out = res["outputs"][0]
    assert out["max_abs"] < res["tolerances"]["atol"]  # the old verdict passed on atol alone
    assert r.code == 1 and res["passed"] is False
    assert "constant" in out["rules"] and {f["rule"] for f in res["verdict"]["failures"]} >= {"constant"}
    assert "FAILED (constant" in r.out
    assert res["verdict"]["rules"]["cosine"] and res["verdict"]["min_cosine"] == 0.999
    _fits_80(r.out)


def test_min_cosine_rule_and_its_switch(cli, tmp_path, models):
    _, res = _compare(cli, tmp_path, models["detector"], "onnxrt:fp16,fold=0", "--min-cosine", "0.9999")
    assert "cosine" in res["outputs"][0]["rules"]
    _, res = _compare(cli, tmp_path, models["detector"], "onnxrt:fp16,fold=0", "--min-cosine", "0", name="off")
    assert "cosine" not in res["outputs"][0]["rules"] and res["verdict"]["min_cosine"] == 0
    r = cli("compare", models["detector"], "--target", "onnxrt:fp16", "--min-cosine", "2", "--no-report")
    assert r.code == 2 and "--min-cosine" in r.err


def test_class2_bn_statistics_beyond_fp16_are_fused_in_fp32_not_overflowed(cli, tmp_path, models):
    """TensorRT fuses Conv+BatchNormalization in FP32: the running variance (1e6) never meets FP16."""
    r, res = _compare(cli, tmp_path, models["detector"], "onnxrt:fp16", "--layerwise")
    assert r.code == 0 and res["passed"], r.out
    assert res["first_nonfinite"] is None and not any(m["nonfinite_diff"] for m in res["layers"])
    fused = [u for u in res["unmatched"] if u.get("fused")]
    assert [u["tensor"] for u in fused] == ["feat"] and fused[0]["reason"].startswith("fused:")
    assert all(m["passed"] for m in res["layers"])
    # fold=0 keeps the plain per-node simulation: the variance rounds to Inf and the features collapse
    _, plain = _compare(cli, tmp_path, models["detector"], "onnxrt:fp16,fold=0", "--layerwise", name="plain")
    assert not next(m for m in plain["layers"] if m["name"] == "feat_bn")["passed"]


def test_class2_standalone_bn_parameters_stay_fp32_and_weights_saturate():
    import onnx
    from onnx import numpy_helper

    from trtlab.precision import round_to_half

    model = rw.detector()
    rounded, _ = round_to_half(model, "fp16", saturate_weights=True, fp32_bn_params=True)
    inits = {t.name: numpy_helper.to_array(t) for t in rounded.graph.initializer}
    assert inits["bn.var"].max() == 1e6  # BatchNormalization parameter: left in FP32
    big = onnx.helper.make_model(model.graph, opset_imports=model.opset_import)
    big.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.full((8, 3, 3, 3), 1e5, np.float32), "backbone.w"))
    sat, _ = round_to_half(big, "fp16", saturate_weights=True)
    w = next(numpy_helper.to_array(t) for t in sat.graph.initializer if t.name == "backbone.w")
    assert np.isfinite(w).all() and w.max() == 65504.0  # clamped like TensorRT's weight conversion, not Inf


def test_class3_infinities_are_named_and_never_shown_as_exact(cli, tmp_path, models):
    """tf2onnx LayerNorm: Mul(d, d) overflows FP16. The verdict names it; tables never show Inf as no error;
    attribution counts Inf as error."""
    r, res = _compare(cli, tmp_path, models["keras"], "onnxrt:fp16", "--layerwise", "--attribute")
    assert r.code == 1
    assert res["first_nonfinite"]["tensor"] == "ln1.sq" and res["first_nonfinite"]["op"] == "Mul"
    assert res["verdict"]["nonfinite_origins"] == ["ln1.sq"]
    assert "first new NaN/Inf: ln1.sq (Mul)" in r.out
    for line in r.out.splitlines():
        if line.startswith(("ln1.var ", "ln1.std ", "ln1.ve ")) and line.rstrip().endswith(("FAIL", "ok")):
            assert "NaN/Inf" in line and "exact" not in line, line
    overflow = next(f for f in res["findings"] if f["severity"] == "error")
    assert overflow["where"] == "ln1.sq (Mul)" and "overflows FP16" in overflow["hazard"]
    by_tensor = {e["tensor"]: e for e in res["attribution"]}
    assert by_tensor["ln1.sq"]["verdict"] == "introduces" and by_tensor["ln1.sq"]["introduced"] == "inf"
    assert all(e["total"] == "inf" for t, e in by_tensor.items() if t in ("ln1.ve", "ln1.std"))
    _fits_80(r.out)


@pytest.mark.parametrize("target", ["onnxrt:fp16", "onnxrt:bf16", "onnxrt:fp16,fold=0", "onnxrt:bf16,fold=0"])
def test_class4_resize_with_empty_scales_runs_in_half_precision(cli, tmp_path, models, target):
    r, res = _compare(cli, tmp_path, models["resize13"], target, "--layerwise")
    assert r.code == 0 and res["passed"], r.out
    r, res = _compare(cli, tmp_path, models["resize11"], target.replace("bf16", "fp16"), name="opset11")
    assert r.code == 0, r.out


def _typed_targets(findings: list[dict]) -> list[str]:
    specs = []
    for f in findings:
        for cmd in re.findall(r"`(--target [^`]+)`", f.get("mitigation", "")):
            specs.append(shlex.split(cmd)[1])
    return specs


@pytest.mark.parametrize("model", ["keras", "unnamed"])
def test_class5_every_printed_keep_mitigation_is_accepted_and_moves_the_error(cli, tmp_path, models, model):
    _, res = _compare(cli, tmp_path, models[model], "onnxrt:fp16", "--layerwise")
    specs = _typed_targets(res["findings"])
    assert specs, res["findings"]
    overflow_spec = _typed_targets([f for f in res["findings"] if "overflows" in f["hazard"]])[0]
    for i, spec in enumerate(dict.fromkeys(specs)):
        r, fixed = _compare(cli, tmp_path, models[model], spec, "--layerwise", name=f"fix{i}")
        assert "match no node" not in r.out, (spec, r.out)
        notes = " ".join(fixed["target"]["notes"])
        assert "kept in FP32" in notes, (spec, notes)
        if spec == overflow_spec:  # keeping the overflowing node removes the overflow
            assert fixed["first_nonfinite"] is None and fixed["passed"], (spec, r.out)


def test_class5_invented_names_of_unnamed_nodes_are_accepted(cli, tmp_path, models):
    _, res = _compare(cli, tmp_path, models["unnamed"], "onnxrt:fp16,keep=Mul_4", "--layerwise")
    assert res["first_nonfinite"] is None and "keep-list entries match no" not in " ".join(res["target"]["notes"])


@pytest.mark.parametrize("model,reason", [("zeros", "constant"), ("ones", "saturated"), ("oneclass", "one class")])
def test_class6_degenerate_reference_outputs_say_the_check_proves_little(cli, tmp_path, models, model, reason):
    r, res = _compare(cli, tmp_path, models[model], "onnxrt:fp16")
    weak = res["verdict"]["weak_inputs"]
    assert weak and weak[0]["reason"].startswith(reason), weak
    text = " ".join(r.out.split())
    assert "proves little" in text and "--load-inputs" in text


def test_class7_reference_evaluator_disagreement_is_settled(cli, tmp_path, models):
    r, res = _compare(cli, tmp_path, models["convbn11"], "reference", "--layerwise")
    assert res["first_divergence"]["op"] == "BatchNormalization"
    settled = res["settled"][0]
    assert settled["wrong"] == "reference" and settled["oracle"] == "numpy float64"
    assert settled["onnxrt_error"] < 1e-5 < 1e-2 < settled["reference_error"]
    assert "onnx.reference is wrong on this node, onnxruntime is right" in " ".join(r.out.split())


def test_oracle_and_known_issues():
    from trtlab.comparison.settle import known_issue, oracle

    model = rw.conv_bn(11)
    bn = model.graph.node[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    from onnx import numpy_helper

    params = [numpy_helper.to_array(t) for t in model.graph.initializer[1:]]
    y = oracle(bn, 11, [x, *params])
    g, b, m, v = params
    expect = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5) * g[:, None, None] + b[:, None, None]
    assert np.allclose(y, expect, atol=1e-6)
    assert known_issue("BatchNormalization", 11) and not known_issue("BatchNormalization", 15)


def test_weights_are_not_layers_unless_asked(cli, tmp_path, models):
    _, res = _compare(cli, tmp_path, models["resize13"], "onnxrt:fp16,fold=0", "--layerwise")
    assert not any(m["op"] == "Constant" for m in res["layers"])
    _, res = _compare(cli, tmp_path, models["resize13"], "onnxrt:fp16,fold=0", "--layerwise", "--layerwise-weights",
                      name="weights")
    assert any(m["op"] == "Constant" for m in res["layers"])


def test_encoder_with_layernorm_passes_in_fp16_and_bf16(cli, tmp_path, models):
    for target in ("onnxrt:fp16", "onnxrt:bf16"):
        r, res = _compare(cli, tmp_path, models["encoder"], target, "--layerwise", name=target.replace(":", "_"))
        assert r.code == 0 and res["passed"], r.out
        assert res["findings"] == [] or all(f["severity"] != "error" for f in res["findings"])
