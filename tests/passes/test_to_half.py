"""to-fp16 / to-bf16: real conversion, Casts at FP32 boundaries, no type errors on mixed-type exports."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from trtlab.passes.to_half import convert_to_half

from tests.passes.helpers import const, make_model, run, tensor


def _bert_like():
    """Shapes of a PyTorch BERT export's attention mask and GELU: Sub/Where/Pow/Div with FP32 constants."""
    nodes = [
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["one", "maskf"], ["inv"]),
        helper.make_node("Mul", ["inv", "neg"], ["bias"]),
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "bias"], ["hb"]),
        helper.make_node("Pow", ["hb", "two"], ["sq"]),
        helper.make_node("Equal", ["mask", "zero_i"], ["is_pad"]),
        helper.make_node("Where", ["is_pad", "minus", "sq"], ["masked"]),
        helper.make_node("Div", ["masked", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["y"], axis=-1),
    ]
    inits = [const("one", 1.0), const("neg", -10000.0), const("two", 2.0), const("minus", -1e4), const("scale", 8.0),
             const("zero_i", 0, np.int64), const("w", np.random.default_rng(0).uniform(-1, 1, (4, 4)))]
    return make_model(nodes, [tensor("x", [2, 4]), tensor("mask", [2, 4], TensorProto.INT64)],
                      [tensor("y", [2, 4])], inits)


def _feeds():
    return {"x": np.random.default_rng(1).uniform(-1, 1, (2, 4)).astype(np.float32),
            "mask": np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.int64)}


def test_fp16_conversion_is_well_typed_and_close():
    model = _bert_like()
    half = convert_to_half(model, "fp16")
    onnx.checker.check_model(half, full_check=True)
    assert any(t.data_type == TensorProto.FLOAT16 for t in half.graph.initializer)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    np.testing.assert_allclose(run(half, _feeds())[0], run(model, _feeds())[0], atol=1e-3, rtol=1e-2)


def _input_types(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Element type of every input of every node (by node name, else op type), after shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    types.update({t.name: t.data_type for t in inferred.graph.initializer})
    return {n.name or n.op_type: [types.get(i) for i in n.input] for n in inferred.graph.node}


def test_keep_list_by_op_type_and_node_name_keeps_those_nodes_fp32():
    model = _bert_like()
    model.graph.node[9].name = "the_softmax"
    model.graph.node[3].name = "the_matmul"
    half = convert_to_half(model, "fp16", keep_fp32=["the_softmax", "MatMul"])
    types = _input_types(half)
    assert types["the_softmax"] == [TensorProto.FLOAT], "kept by name, yet Softmax reads half"
    assert types["the_matmul"] == [TensorProto.FLOAT, TensorProto.FLOAT], "kept by op type, yet MatMul reads half"
    pow_node = next(k for k in types if k.startswith("Pow") or k == "Pow")
    assert types[pow_node][0] == TensorProto.FLOAT16, "a node not kept must run in half"
    unkept = _input_types(convert_to_half(model, "fp16"))
    assert unkept["the_softmax"] == [TensorProto.FLOAT16] and unkept["the_matmul"][1] == TensorProto.FLOAT16
    casts = [n for n in half.graph.node if n.op_type == "Cast"]
    assert casts, "expected Casts at the FP32 keep-list boundary"
    onnx.checker.check_model(half, full_check=True)
    np.testing.assert_allclose(run(half, _feeds())[0], run(model, _feeds())[0], atol=1e-3, rtol=1e-2)


def test_half_io_when_asked():
    half = convert_to_half(_bert_like(), "fp16", keep_io_types=False)
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16


def test_bf16_conversion_is_well_typed():
    half = convert_to_half(_bert_like(), "bf16")
    onnx.checker.check_model(half, full_check=True)
    assert any(t.data_type == TensorProto.BFLOAT16 for t in half.graph.initializer)


def test_input_model_is_not_modified():
    model = _bert_like()
    before = model.SerializeToString()
    convert_to_half(model, "fp16")
    assert model.SerializeToString() == before


def test_fp16_clips_weights_beyond_range():
    from trtlab.passes.registry import PASSES

    m = make_model([helper.make_node("Mul", ["x", "big"], ["y"])], [tensor("x", [1])], [tensor("y", [1])],
                   [const("big", [1e6])])
    result = PASSES["to-fp16"](m)
    assert any("clipped" in n for n in result.notes)
    assert result.verify_tolerance == (1e-3, 1e-2)


def test_bf16_below_opset_13_is_an_error_not_a_silent_copy():
    from trtlab.passes.registry import PASSES

    from trtlab.errors import TrtlabError

    m = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1])], [tensor("y", [1])], opset=11)
    for convert in (lambda: PASSES["to-bf16"](m), lambda: convert_to_half(m, "bf16")):
        with pytest.raises(TrtlabError) as exc:
            convert()
        assert exc.value.code == 2 and "opset 13" in exc.value.problem and "--opset 13" in exc.value.hint


@pytest.mark.parametrize("name", ["mnist_opt.onnx", "super_resolution.onnx", "poly_loop.onnx"])
def test_real_models_convert_and_run(name):
    from tests.conftest import shared_model
    from trtlab.inputs import plan_inputs, random_feeds

    model = onnx.load(shared_model(name))
    half = convert_to_half(model, "fp16")
    feeds = random_feeds(plan_inputs(model.graph), 1)
    for ref, got in zip(run(model, feeds), run(half, feeds)):
        assert got.dtype == ref.dtype and got.shape == ref.shape


def _keras_onehot():
    """tf2onnx Keras export: an integer input feeds a one-hot embedding whose depth and reshape target come from
    Shape; the shape-derived rule used to spread through every node after them (2 of 9 nodes converted)."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Shape", ["w_emb"], ["es"]),
        helper.make_node("Gather", ["es", "zero"], ["depth"], axis=0),
        helper.make_node("OneHot", ["ids", "depth", "onoff"], ["oh"], axis=-1),
        helper.make_node("Shape", ["ids"], ["ids_shape"]),
        helper.make_node("Concat", ["ids_shape", "minus1"], ["tgt"], axis=0),
        helper.make_node("MatMul", ["oh", "w_emb"], ["emb"]),
        helper.make_node("Reshape", ["emb", "tgt"], ["r"]),
        helper.make_node("MatMul", ["r", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("MatMul", ["hr", "w2"], ["h2"]),
        helper.make_node("Add", ["h2", "b2"], ["h3"]),
        helper.make_node("Tanh", ["h3"], ["y"]),
    ]
    inits = [const("w_emb", rng.uniform(-1, 1, (10, 8))), const("zero", 0, np.int64), const("onoff", [0.0, 1.0]),
             const("minus1", [-1], np.int64), const("w1", rng.uniform(-1, 1, (8, 8))),
             const("w2", rng.uniform(-1, 1, (8, 4))), const("b2", rng.uniform(-1, 1, (4,)))]
    return make_model(nodes, [tensor("ids", ["batch", 3], TensorProto.INT64)], [tensor("y", ["batch", 3, 4])], inits)


def test_shape_rule_does_not_spread_and_fraction_is_reported():
    from trtlab.passes.to_half import convert_with_report

    model = _keras_onehot()
    half, notes, frac, warnings = convert_with_report(model, "fp16")
    assert frac is not None and frac >= 0.8, notes
    assert "float compute node(s) converted" in notes[0]
    assert not warnings
    by_out = {n.output[0]: n for n in half.graph.node}
    assert by_out["hr"].op_type == "Relu"
    assert any(t.data_type == TensorProto.FLOAT16 for t in half.graph.initializer if t.name.startswith("w1"))
    feeds = {"ids": np.array([[1, 4, 9], [0, 2, 3]], np.int64)}
    np.testing.assert_allclose(run(half, feeds)[0], run(model, feeds)[0], atol=2e-2, rtol=1e-2)


def test_low_fraction_warns():
    from trtlab.passes.to_half import convert_with_report

    _h, _n, frac, warnings = convert_with_report(_keras_onehot(), "fp16", keep_fp32=["MatMul", "Relu", "Tanh"])
    assert frac < 0.5 and warnings and "run in fp16" in warnings[0]


def _conv_bn_big_variance():
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"])]
    inits = [const("w", rng.uniform(-1, 1, (4, 3, 3, 3))), const("scale", np.ones(4)), const("bias", np.zeros(4)),
             const("mean", np.zeros(4)), const("var", [1e5, 2e5, 1.0, 4.0])]
    return make_model(nodes, [tensor("x", [1, 3, 8, 8])], [tensor("y", [1, 4, 8, 8])], inits)


def test_clipped_weights_are_named_with_fold_advice():
    from trtlab.passes.to_half import convert_with_report

    _m, notes, _f, warnings = convert_with_report(_conv_bn_big_variance(), "fp16")
    assert any("clipped" in n and "var" in n for n in notes)
    assert warnings and "var" in warnings[0] and "--fold-constants" in warnings[0]


def test_fold_then_fp16_is_close():
    from trtlab.surgery.pipeline import Step, run_pipeline
    from trtlab.surgery.verify import Verifier

    model = _conv_bn_big_variance()
    feeds = {"x": np.random.default_rng(2).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)}
    verifier = Verifier(feeds)
    verifier.baseline(model)
    out, result = run_pipeline(model, [Step("fold-constants"), Step("to-fp16")], verifier=verifier)
    assert result.passed and all(p.verified for p in result.passes), result.failure
    assert not result.passes[1].undone and not any("clipped" in w for w in result.warnings)


def test_small_drift_names_atol():
    from trtlab.surgery.verify import Verifier

    model = _bert_like()
    verifier = Verifier(_feeds())
    verifier.baseline(model)
    check = verifier.check(model, convert_to_half(model, "fp16"), (1e-7, 0.0), "to-fp16")
    assert check.verified is False and "--atol" in check.failure
def test_kept_node_reading_a_graph_output_gives_unique_node_names():
    """A kept Softmax reads `logits`, which is also a graph output: the Cast to FP32 for the Softmax and the Cast
    that restores the output's FP32 type once shared the node name `logits__trtlab_fp32` (the model was invalid;
    README's `--to-fp16 --keep-fp32 Softmax` on example:tinycnn failed)."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"], name="mm"),
             helper.make_node("Softmax", ["logits"], ["probs"], name="sm")]
    model = make_model(nodes, [tensor("x", [2, 4])], [tensor("logits", [2, 4]), tensor("probs", [2, 4])],
                       [const("w", np.random.default_rng(0).uniform(-1, 1, (4, 4)))])
    half = convert_to_half(model, "fp16", keep_fp32=["Softmax"])
    names = [n.name for n in half.graph.node]
    assert len(names) == len(set(names)), names
    onnx.checker.check_model(half, full_check=True)
    feeds = {"x": np.random.default_rng(1).uniform(-1, 1, (2, 4)).astype(np.float32)}
    for got, want in zip(run(half, feeds), run(model, feeds), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-2, rtol=1e-2)


def test_no_fold_advice_once_folded():
    """A weight of 1e5 read by a Mul stays out of range after folding: after `--fold-constants --to-fp16` the
    warning must not tell the user to run what just ran; it says to keep the readers in FP32."""
    from trtlab.surgery.pipeline import Step, run_pipeline
    from trtlab.surgery.verify import Verifier

    model = make_model([helper.make_node("Mul", ["x", "s"], ["m"], name="mul"),
                        helper.make_node("Div", ["m", "s"], ["y"], name="div")],
                       [tensor("x", [2, 8])], [tensor("y", [2, 8])], [const("s", np.array(1e5))])
    verifier = Verifier({"x": np.random.default_rng(0).uniform(0, 1, (2, 8)).astype(np.float32)})
    verifier.baseline(model)
    _out, result = run_pipeline(model, [Step("fold-constants"), Step("to-fp16")], verifier=verifier)
    clipped = [w for w in result.warnings if "clipped" in w]
    assert clipped and not any("fold" in w for w in clipped) and "`--keep-fp32 mul div`" in clipped[0], clipped
    typed = run_pipeline(model, [Step("fold-constants"), Step("to-fp16", {"keep_fp32": "mul,div"})],
                         verifier=verifier)[1]
    assert not any("clipped" in w for w in typed.warnings), typed.warnings


def test_no_fold_advice_on_poly_scan(cli, tmp_path):
    from tests.conftest import shared_model

    r = cli("surgeon", str(shared_model("poly_scan.onnx")), "--fold-constants", "--to-fp16", "-o",
            str(tmp_path / "out.onnx"))
    assert r.code == 0, r
    assert "--fold-constants -o" not in r.out + r.err and "only 0%" in r.out + r.err, r


def test_keep_typo_warning_lists_names_that_work(cli, tmp_path):
    """`build --keep-fp32 NoSuchNode` names the model's nodes in the warning; typing one of them keeps it."""
    import re

    model = make_model([helper.make_node("Mul", ["x", "s"], ["m"], name="scale_up"),
                        helper.make_node("Div", ["m", "s"], ["y"], name="scale_down")],
                       [tensor("x", [2, 8])], [tensor("y", [2, 8])], [const("s", np.array(3.0))])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    r = cli("surgeon", str(path), "--to-fp16", "--keep-fp32", "scale_upp", "-o", str(tmp_path / "a.onnx"))
    text = " ".join((r.out + r.err).split())
    assert "inspect MODEL" not in text
    hit = re.search(r"closest: ([^;,)]+)", text)
    assert r.code == 0 and hit and "node names: scale_up" in text, text
    r = cli("surgeon", str(path), "--to-fp16", "--keep-fp32", hit.group(1), "-o", str(tmp_path / "b.onnx"))
    assert r.code == 0 and "matches no node" not in r.out + r.err and "1 by the keep-list" in r.out + r.err, r
    pytest.importorskip("tensorrt_rtx")
    r = cli("build", str(path), "--precision", "fp16", "--keep-fp32", "NoSuchNode", "-o", str(tmp_path / "m.engine"))
    text = " ".join((r.out + r.err).split())
    assert "inspect MODEL" not in text and "node names: scale_up, scale_down" in text, text
