"""fuse-conv and fuse-pad on graphs built in code: each rewrite, each refused condition, random chains, bodies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from trtlab.passes.fold_constants import FOLD_CONSTANTS
from trtlab.passes.fuse_conv import FUSE_CONV
from trtlab.passes.fuse_pad import FUSE_PAD

from tests.passes.helpers import const, copy, make_model, ops, run, tensor

RNG = np.random.default_rng(0)
X = RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)


def conv_bn(extra_nodes=(), extra_inits=(), bn_attrs=None, outputs=None, w_dtype=np.float32, opset=17):
    """x -> Conv(w, b) -> BatchNormalization -> [extra] ; 4 output channels."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "sh", "m", "v"], ["y"], **(bn_attrs or {})),
             *extra_nodes]
    inits = [const("w", RNG.standard_normal((4, 3, 3, 3)), w_dtype), const("b", RNG.standard_normal(4), w_dtype),
             const("s", RNG.uniform(0.5, 2, 4)), const("sh", RNG.standard_normal(4)),
             const("m", RNG.standard_normal(4)), const("v", RNG.uniform(0.1, 2, 4)), *extra_inits]
    x_type = TensorProto.FLOAT16 if w_dtype == np.float16 else TensorProto.FLOAT
    return make_model(nodes, [tensor("x", [1, 3, 6, 6], x_type)], outputs or [tensor("y", None, x_type)], inits,
                      opset=opset)


def check_same(before, after, feeds=None, atol=1e-5, rtol=1e-5):
    feeds = feeds or {"x": X}
    for a, b in zip(run(before, feeds), run(after, feeds)):
        np.testing.assert_allclose(b, a, atol=atol, rtol=rtol)


def test_conv_bn_folds_into_one_conv_keeping_the_output_name():
    model = conv_bn()
    result = FUSE_CONV(copy(model))
    assert ops(result.model) == ["Conv"] and result.modified
    assert result.model.graph.node[0].output[0] == "y"
    check_same(model, result.model)


def test_conv_bn_mul_add_chain_becomes_one_conv_and_shared_weights_stay_intact():
    extra = [helper.make_node("Mul", ["y", "k"], ["y2"]), helper.make_node("Add", ["kb", "y2"], ["y3"]),
             helper.make_node("Conv", ["x", "w"], ["other"])]  # reads the same weight, must not change
    model = conv_bn(extra, [const("k", RNG.uniform(0.5, 2, (4, 1, 1))), const("kb", RNG.standard_normal((1, 4, 1, 1)))],
                    outputs=[tensor("y3", None), tensor("other", None)])
    model.graph.node[0].input.pop()  # Conv without bias: the fusion adds one
    result = FUSE_CONV(copy(model))
    assert ops(result.model) == ["Conv", "Conv"]
    check_same(model, result.model)


def test_scalar_mul_and_add_fold():
    extra = [helper.make_node("Mul", ["y", "k"], ["y2"]), helper.make_node("Add", ["y2", "kb"], ["y3"])]
    model = conv_bn(extra, [const("k", 0.5), const("kb", [2.0])], outputs=[tensor("y3", None)])
    result = FUSE_CONV(copy(model))
    assert ops(result.model) == ["Conv"]
    check_same(model, result.model)


@pytest.mark.parametrize("case", ["second_reader", "graph_output", "bn_param_input", "training", "overridable",
                                  "fp16", "not_per_channel", "rank_grows", "inf", "conv_transpose"])
def test_conv_fusion_refused(case):
    kwargs, inits, extra = {}, [], []
    if case == "second_reader":
        extra = [helper.make_node("Relu", ["c"], ["r"])]
        kwargs["outputs"] = [tensor("y", None), tensor("r", None)]
    elif case == "graph_output":
        kwargs["outputs"] = [tensor("y", None), tensor("c", None)]
    elif case == "training":
        kwargs["bn_attrs"] = {"training_mode": 1}
    elif case == "fp16":
        kwargs["w_dtype"] = np.float16
    elif case in ("not_per_channel", "rank_grows", "inf"):
        shape = {"not_per_channel": (1, 1, 1, 6), "rank_grows": (1, 1, 4, 1, 1), "inf": (4, 1, 1)}[case]
        value = np.full(shape, np.inf if case == "inf" else 2.0)
        extra, inits = [helper.make_node("Mul", ["y", "k"], ["y2"])], [const("k", value)]
        kwargs["outputs"] = [tensor("y2", None)]
    model = conv_bn(extra, inits, **kwargs)
    if case == "bn_param_input":  # a runtime input, not a constant
        del model.graph.initializer[[t.name for t in model.graph.initializer].index("m")]
        model.graph.input.append(tensor("m", [4]))
    elif case == "overridable":  # IR >= 4: an initializer listed as an input can be fed at run time
        model.graph.input.append(tensor("v", [4]))
    elif case == "conv_transpose":
        model.graph.node[0].op_type = "ConvTranspose"
    before = ops(model)
    result = FUSE_CONV(copy(model))
    if case in ("not_per_channel", "rank_grows", "inf"):  # the BN still folds; the Mul must not
        assert ops(result.model) == ["Conv", "Mul"]
    else:
        assert ops(result.model) == before and not result.modified


def test_fuses_inside_if_bodies():
    inner = conv_bn()
    body = helper.make_graph(list(inner.graph.node), "then", [], [tensor("y", None)], list(inner.graph.initializer))
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "else", [], [tensor("z", None)])
    node = helper.make_node("If", ["cond"], ["out"], then_branch=body, else_branch=other)
    model = make_model([node], [tensor("x", [1, 3, 6, 6]), tensor("cond", [], TensorProto.BOOL)],
                       [tensor("out", None)])
    result = FUSE_CONV(copy(model))
    then = next(a.g for a in result.model.graph.node[0].attribute if a.name == "then_branch")
    assert [n.op_type for n in then.node] == ["Conv"]
    feeds = {"x": X, "cond": np.array(True)}
    check_same(model, result.model, feeds)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(channels=st.integers(1, 5), kernel=st.sampled_from([1, 3]), bias=st.booleans(),
       chain=st.lists(st.sampled_from(["bn", "mul", "add"]), min_size=1, max_size=4), seed=st.integers(0, 999))
def test_random_conv_chains_fold_without_changing_outputs(channels, kernel, bias, chain, seed):
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["t0"])]
    inits = [const("w", rng.standard_normal((channels, 3, kernel, kernel))), const("b", rng.standard_normal(channels))]
    for i, op in enumerate(chain):
        a, o = f"t{i}", f"t{i + 1}"
        if op == "bn":
            names = [f"{p}{i}" for p in "smbv"]
            inits += [const(names[0], rng.uniform(0.5, 2, channels)), const(names[1], rng.standard_normal(channels)),
                      const(names[2], rng.standard_normal(channels)), const(names[3], rng.uniform(0.1, 2, channels))]
            nodes.append(helper.make_node("BatchNormalization", [a, *names], [o], epsilon=1e-3))
        else:
            shape = [(channels, 1, 1), (1, channels, 1, 1), (1,), ()][rng.integers(4)]
            inits.append(const(f"k{i}", rng.uniform(0.5, 2, shape)))
            nodes.append(helper.make_node("Mul" if op == "mul" else "Add", [a, f"k{i}"], [o]))
    model = make_model(nodes, [tensor("x", [1, 3, 6, 6])], [tensor(f"t{len(chain)}", None)], inits)
    result = FUSE_CONV(copy(model))
    assert ops(result.model) == ["Conv"]
    check_same(model, result.model, atol=1e-4, rtol=1e-4)


# --- fuse-pad ----------------------------------------------------------------------------------------------------

def pad_conv(pads=(0, 0, 1, 2, 0, 0, 2, 1), value=None, mode="constant", opset=17, conv_attrs=None, outputs=None,
             extra=()):
    inputs = ["x", "p"] + (["pv"] if value is not None else [])
    inits = [const("p", list(pads), np.int64), const("w", RNG.standard_normal((4, 3, 3, 3)))]
    if value is not None:
        inits.append(const("pv", value))
    attrs = conv_attrs if conv_attrs is not None else {"pads": [1, 0, 0, 1]}
    nodes = [helper.make_node("Pad", inputs, ["xp"], mode=mode), helper.make_node("Conv", ["xp", "w"], ["y"], **attrs),
             *extra]
    return make_model(nodes, [tensor("x", [1, 3, 6, 6])], outputs or [tensor("y", None)], inits, opset=opset)


def test_zero_pad_merges_into_conv_pads_exactly():
    for model in (pad_conv(), pad_conv(value=0.0)):
        result = FUSE_PAD(copy(model))
        assert ops(result.model) == ["Conv"]
        conv = result.model.graph.node[0]
        assert conv.input[0] == "x" and list(conv.attribute[0].ints) == [2, 2, 2, 2]
        np.testing.assert_array_equal(run(result.model, {"x": X})[0], run(model, {"x": X})[0])


def test_pad_attribute_form_before_opset_11():
    nodes = [helper.make_node("Pad", ["x"], ["xp"], pads=[0, 0, 1, 1, 0, 0, 1, 1]),
             helper.make_node("Conv", ["xp", "w"], ["y"])]
    model = make_model(nodes, [tensor("x", [1, 3, 6, 6])], [tensor("y", None)],
                       [const("w", RNG.standard_normal((4, 3, 3, 3)))], opset=10)
    result = FUSE_PAD(copy(model))
    assert ops(result.model) == ["Conv"]
    np.testing.assert_array_equal(run(result.model, {"x": X})[0], run(model, {"x": X})[0])


@pytest.mark.parametrize("case", ["nonzero_value", "negative_zero", "reflect", "channel_pad", "negative_pad",
                                  "second_reader", "graph_output", "auto_pad"])
def test_pad_merge_refused(case):
    kwargs = {"nonzero_value": {"value": 1.0}, "negative_zero": {"value": -0.0}, "reflect": {"mode": "reflect"},
              "channel_pad": {"pads": (0, 1, 1, 1, 0, 0, 1, 1)}, "negative_pad": {"pads": (0, 0, -1, 1, 0, 0, 1, 1)},
              "second_reader": {"extra": [helper.make_node("Relu", ["xp"], ["r"])],
                                "outputs": [tensor("y", None), tensor("r", None)]},
              "graph_output": {"outputs": [tensor("y", None), tensor("xp", None)]},
              "auto_pad": {"conv_attrs": {"auto_pad": "SAME_UPPER"}}}[case]
    model = pad_conv(**kwargs)
    result = FUSE_PAD(copy(model))
    assert "Pad" in ops(result.model) and not result.modified


def test_fold_constants_runs_fusions_by_default_and_fuse_0_turns_them_off():
    model = pad_conv()
    model.graph.node[1].output[0] = "c"
    bn = conv_bn().graph
    model.graph.node.append(bn.node[1])
    model.graph.initializer.extend(t for t in bn.initializer if t.name in ("s", "sh", "m", "v"))
    assert ops(FOLD_CONSTANTS(copy(model)).model) == ["Conv"]
    assert ops(FOLD_CONSTANTS(copy(model), fuse=False).model) == ["Pad", "Conv", "BatchNormalization"]
    from trtlab.surgery.pipeline import parse_step

    assert parse_step("fold-constants:fuse=0").options == {"fuse": 0}


# --- the shared models: node counts at or below onnxslim's, outputs verified against onnxruntime -----------------

# onnxslim 0.1.98 (`onnxslim M OUT`, the best peer in bench/bench_fold.py), measured on these models; trtlab
# ended at 668, 15, 360 and 3 nodes before the fusions.
ONNXSLIM_NODES = {"light_densenet121": 491, "poly_residual_block": 10, "road_segmentation_adas": 320,
                  "poly_reduce_example": 2}


@pytest.mark.parametrize("name", sorted(ONNXSLIM_NODES))
def test_shared_models_fold_to_at_most_onnxslim_nodes_and_verify(cli, name):
    import json

    from tests.conftest import shared_model

    r = cli("surgeon", str(shared_model(f"{name}.onnx")), "--fold-constants", "-o", "out.onnx", "--verify", "--json")
    assert r.code == 0, r
    rec = json.loads(r.out)["passes"][0]
    assert rec["verified"] is True and rec["nodes_after"] <= ONNXSLIM_NODES[name], rec


def test_onnxslim_count_still_as_measured():
    """The hard-coded peer count is checked live on the smallest model (onnxslim is a dev dependency)."""
    onnxslim = pytest.importorskip("onnxslim")
    import onnx

    from tests.conftest import shared_model

    slim = onnxslim.slim(onnx.load(shared_model("poly_residual_block.onnx")))
    assert len(slim.graph.node) == ONNXSLIM_NODES["poly_residual_block"]
