"""Every mitigation a compare finding prints works when typed: rerun with it and the error moves the right way."""

import json
import re
import shlex

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def _save(tmp_path, name, nodes, inputs, outputs, inits, opset=13):
    model = h.make_model(h.make_graph(nodes, "g", inputs, outputs, inits), opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 7
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _compare(cli, model, *args):
    r = cli("compare", str(model), "--no-report", "--json", *args)
    assert r.code in (0, 1), r
    return json.loads(r.out)


def _typed_target(finding_text):
    """The `--target SPEC` a mitigation prints, as the shell would split it."""
    hit = re.search(r"`(--target [^`]+)`", finding_text)
    return shlex.split(hit.group(1))[1] if hit else None


def _mitigations(res):
    return [f["mitigation"] for f in res["findings"] if f.get("mitigation")]


def test_out_of_range_weight_is_named_and_its_keep_fixes_it(cli, tmp_path):
    """m = x * 1e5; y = m / 1e5, unnamed nodes: the weight 1e5 is clamped to 65504; the finding names it and the
    keep it prints leaves the weight unrounded, so the typed command passes."""
    x, y = h.make_tensor_value_info("x", T.FLOAT, [2, 8]), h.make_tensor_value_info("y", T.FLOAT, [2, 8])
    s = nh.from_array(np.array(1e5, np.float32), "s")
    model = _save(tmp_path, "ov.onnx", [h.make_node("Mul", ["x", "s"], ["m"]), h.make_node("Div", ["m", "s"], ["y"])],
                  [x], [y], [s])
    res = _compare(cli, model, "--target", "onnxrt:fp16", "--layerwise")
    weight = [f for f in res["findings"] if f["where"] == "weight s"]
    assert weight and "65504" in weight[0]["hazard"], res["findings"]
    assert not any("saturated" in f["hazard"] for f in res["findings"]), res["findings"]
    seen = set()
    for text in _mitigations(res):
        spec = _typed_target(text)
        if not spec or spec in seen:
            continue
        seen.add(spec)
        again = _compare(cli, model, "--target", spec, "--layerwise")
        assert again["passed"] and not again["layers"][0]["max_abs"] > 100, (spec, again["findings"])
        assert spec not in {_typed_target(t) for t in _mitigations(again)}, again["findings"]  # never repeated
    assert seen


def test_kept_node_keeps_its_weight_unrounded():
    from trtlab.precision import round_to_half

    x, y = h.make_tensor_value_info("x", T.FLOAT, [2]), h.make_tensor_value_info("y", T.FLOAT, [2])
    w = nh.from_array(np.array([1e5, 1.0001], np.float32), "w")
    model = h.make_model(h.make_graph([h.make_node("Mul", ["x", "w"], ["y"], name="mul")], "g", [x], [y], [w]))
    kept, notes = round_to_half(model, "fp16", {"mul"}, saturate_weights=True)
    assert np.array_equal(nh.to_array(kept.graph.initializer[0]), nh.to_array(w)), notes
    rounded, notes = round_to_half(model, "fp16", set(), saturate_weights=True)
    assert nh.to_array(rounded.graph.initializer[0])[0] == 65504.0
    assert any("weight out of range: w" in n and "read by y" in n for n in notes), notes


def test_inf_weight_stays_inf_when_weights_saturate():
    from trtlab.precision import round_to_half

    x, y = h.make_tensor_value_info("x", T.FLOAT, [2]), h.make_tensor_value_info("y", T.FLOAT, [2])
    w = nh.from_array(np.array([np.inf, -np.inf], np.float32), "w")
    model = h.make_model(h.make_graph([h.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w]))
    out, notes = round_to_half(model, "fp16", set(), saturate_weights=True)
    assert list(nh.to_array(out.graph.initializer[0])) == [np.inf, -np.inf]
    assert not any("out of range" in n for n in notes), notes


def _nan_classifier(tmp_path):
    rs = np.random.RandomState(0)
    w = (rs.rand(8, 10) * 1e4).astype(np.float32)
    w[:, 0] += 2e4  # logits up to ~1e5: Inf in FP16, NaN after Softmax
    x, y = h.make_tensor_value_info("x", T.FLOAT, [4, 8]), h.make_tensor_value_info("probs", T.FLOAT, [4, 10])
    nodes = [h.make_node("MatMul", ["x", "W"], ["logits"], name="fc"),
             h.make_node("Softmax", ["logits"], ["probs"], axis=1, name="sm")]
    return _save(tmp_path, "nan_cls.onnx", nodes, [x], [y], [nh.from_array(w, "W")])


def test_nan_without_layerwise_names_no_node(cli, tmp_path):
    """Without layer-wise data the Softmax output is only where the NaN shows, not where it starts (the MatMul)."""
    res = _compare(cli, _nan_classifier(tmp_path), "--target", "onnxrt:fp16")
    texts = _mitigations(res)
    assert any("--layerwise" in t for t in texts), res["findings"]
    assert not any("keep=" in t for t in texts), res["findings"]
    layered = _compare(cli, _nan_classifier(tmp_path), "--target", "onnxrt:fp16", "--layerwise")
    spec = next(s for s in map(_typed_target, _mitigations(layered)) if s)
    assert _compare(cli, _nan_classifier(tmp_path), "--target", spec)["passed"], spec


def test_no_keep_for_integer_outputs(cli, tmp_path):
    """ArgMax of near-tied logits: the int64 output differs; the keep printed names the float tensor upstream."""
    w = np.zeros((8, 12), np.float32)
    w[:, 0], w[:, 1] = 1.0, 1.0001
    x, cls = h.make_tensor_value_info("x", T.FLOAT, [4, 8]), h.make_tensor_value_info("cls", T.INT64, [4])
    nodes = [h.make_node("MatMul", ["x", "W"], ["logits"]), h.make_node("ArgMax", ["logits"], ["cls"], axis=1,
                                                                      keepdims=0)]
    model = _save(tmp_path, "argmax.onnx", nodes, [x], [cls], [nh.from_array(w, "W")])
    res = _compare(cli, model, "--target", "onnxrt:fp16", "--layerwise")
    specs = [s for s in map(_typed_target, _mitigations(res)) if s]
    assert not any("keep=cls" in s or "keep=ArgMax" in s for s in specs), res["findings"]
    for spec in specs:
        assert _compare(cli, model, "--target", spec, "--layerwise")["passed"], spec


def test_tolerance_hint_only_when_it_would_pass(cli, tmp_path):
    """sigmoid(x + 10) is ~1 everywhere: FP16 makes it constant; a tolerance below the default fixes nothing."""
    x, y = h.make_tensor_value_info("x", T.FLOAT, [1, 64]), h.make_tensor_value_info("mask", T.FLOAT, [1, 64])
    nodes = [h.make_node("Add", ["x", "b"], ["t"]), h.make_node("Sigmoid", ["t"], ["mask"])]
    model = _save(tmp_path, "sig.onnx", nodes, [x], [y], [nh.from_array(np.array(10, np.float32), "b")])
    res = _compare(cli, model, "--target", "onnxrt:fp16")
    assert not res["passed"]
    specs = [s for s in map(_typed_target, _mitigations(res)) if s]
    assert specs, res["findings"]  # what fixes a flattened output: keeping its node in FP32
    for spec in specs:
        assert _compare(cli, model, "--target", spec)["passed"], spec
    for text in _mitigations(res):
        for name, tol in re.findall(r"--atol ([^:\s`]+):([^\s`]+)", text):
            assert float(tol) > 1e-3, text
            assert _compare(cli, model, "--target", "onnxrt:fp16", "--atol", f"{name}:{tol}")["passed"], text


def test_keep_on_a_conv_fixes_it_and_a_kept_node_is_not_suggested_again(cli, tmp_path):
    """tf2onnx-like names: the Conv keep the finding prints now passes (the kept Conv keeps its weight); a node
    whose error comes from its rounded input is not told to be kept again once it is."""
    x = h.make_tensor_value_info("input_1:0", T.FLOAT, [1, 8, 8, 3])
    out = h.make_tensor_value_info("Identity:0", T.FLOAT, None)
    w = nh.from_array(np.random.RandomState(0).randn(4, 3, 3, 3).astype(np.float32), "model/conv2d/W:0")
    nodes = [h.make_node("Transpose", ["input_1:0"], ["model/conv2d/T:0"], perm=[0, 3, 1, 2], name="model/conv2d/T"),
             h.make_node("Conv", ["model/conv2d/T:0", "model/conv2d/W:0"], ["model/conv2d/BiasAdd:0"],
                         pads=[1, 1, 1, 1],
                         name="model/conv2d/BiasAdd"),
             h.make_node("Transpose", ["model/conv2d/BiasAdd:0"], ["Identity:0"], perm=[0, 2, 3, 1], name="Identity")]
    model = _save(tmp_path, "tf.onnx", nodes, [x], [out], [w], opset=9)
    res = _compare(cli, model, "--target", "onnxrt:fp16", "--layerwise", "--atol", "1e-4", "--rtol", "1e-3")
    spec = next(s for s in map(_typed_target, _mitigations(res)) if s)
    again = _compare(cli, model, "--target", spec, "--layerwise", "--atol", "1e-4", "--rtol", "1e-3")
    assert spec not in {_typed_target(t) for t in _mitigations(again)}, again["findings"]
    conv = next(m for m in again["layers"] if m["op"] == "Conv")
    before = next(m for m in res["layers"] if m["op"] == "Conv")
    assert conv["max_abs"] < before["max_abs"], (conv, before)

    # y = (x - 1) * 1000 with x near 1: the Sub's error is the rounding of its input x, which no keep removes
    xi, y = h.make_tensor_value_info("x", T.FLOAT, [1, 64]), h.make_tensor_value_info("y", T.FLOAT, [1, 64])
    nodes = [h.make_node("Sub", ["x", "one"], ["t"], name="sub"), h.make_node("Mul", ["t", "k"], ["y"], name="mul")]
    inits = [nh.from_array(np.array(1, np.float32), "one"), nh.from_array(np.array(1000, np.float32), "k")]
    model = _save(tmp_path, "sub.onnx", nodes, [xi], [y], inits)
    args = ["--layerwise", "--val-range", "x:[1,1.01]"]
    res = _compare(cli, model, "--target", "onnxrt:fp16", *args)
    spec = next(s for s in map(_typed_target, _mitigations(res)) if s)
    again = _compare(cli, model, "--target", spec, *args)
    assert not again["passed"]
    assert spec not in {_typed_target(t) for t in _mitigations(again)}, again["findings"]
    assert any("--attribute" in t for t in _mitigations(again)), again["findings"]


def test_inf_weight_stays_inf_in_the_simulation(cli):
    """poly_add_infinity: an Inf initializer (also a graph input): TensorRT clamps finite out-of-range weights, Inf
    is Inf; the target's Inf must be counted as the reference's."""
    from tests.conftest import shared_model

    res = _compare(cli, shared_model("poly_add_infinity.onnx"), "--target", "onnxrt:fp16")
    out = res["outputs"][0]
    assert out["inf"]["target"] == out["inf"]["ref"] > 0, out
