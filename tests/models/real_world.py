"""Architectures that broke trtlab's verdicts on third-party models (issue 10), built with onnx.helper and seeded
random weights: a detector with a sigmoid head and BatchNorm statistics beyond FP16, a ViT/BERT-style encoder
(LayerNormalization op, or a tf2onnx-style hand-written LayerNorm whose sum of squares overflows FP16), Resize in
sizes form with an empty ``scales`` Constant, unnamed nodes, a model whose output is constant on random inputs,
and an opset-11 Conv + BatchNormalization."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def _f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _model(nodes, inputs, outputs, inits, opset, name="g"):
    graph = h.make_graph(nodes, name, inputs, outputs, inits)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def detector(head_bias: float = -10.0, big_var: bool = True, seed: int = 0, opset: int = 13) -> onnx.ModelProto:
    """Paddle-style text detector: Conv -> BatchNormalization (running variance 1e6 when ``big_var``, above FP16's
    65504, balanced by large conv weights) -> Relu -> Conv -> Sigmoid probability map, near zero (~5e-5) on random
    inputs. Rounding the variance to FP16 (Inf) zeroes the features: the map becomes constant, within atol."""
    rng = np.random.default_rng(seed)
    c = 8
    var = np.full(c, 1.0, np.float32)
    scale_w = np.ones((c, 1, 1, 1), np.float32)
    if big_var:
        var[:] = 1e6
        scale_w[:] = 1000.0  # conv output ~1e3 on those channels, normalised back by sqrt(1e6)
    inits = [nh.from_array(_f32(rng, c, 3, 3, 3, scale=0.3) * scale_w, "backbone.w"),
             nh.from_array(np.ones(c, np.float32), "bn.gamma"), nh.from_array(np.zeros(c, np.float32), "bn.beta"),
             nh.from_array(np.zeros(c, np.float32), "bn.mean"), nh.from_array(var, "bn.var"),
             nh.from_array(_f32(rng, 1, c, 1, 1, scale=0.2), "head.w"),
             nh.from_array(np.array([head_bias], np.float32), "head.b")]
    nodes = [h.make_node("Conv", ["image", "backbone.w"], ["feat"], name="backbone.conv", pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["feat", "bn.gamma", "bn.beta", "bn.mean", "bn.var"], ["feat_bn"],
                         name="backbone.bn", epsilon=1e-5),
             h.make_node("Relu", ["feat_bn"], ["feat_act"], name="backbone.relu"),
             h.make_node("Conv", ["feat_act", "head.w", "head.b"], ["logits"], name="head.conv"),
             h.make_node("Sigmoid", ["logits"], ["prob_map"], name="head.sigmoid")]
    return _model(nodes, [h.make_tensor_value_info("image", T.FLOAT, [1, 3, 16, 16])],
                  [h.make_tensor_value_info("prob_map", T.FLOAT, [1, 1, 16, 16])], inits, opset)


def encoder(hidden: int = 32, seq: int = 8, hand_written_ln: bool = False, amplitude: float = 1.0,
            seed: int = 0, unnamed: bool = False) -> onnx.ModelProto:
    """ViT/BERT-style encoder block: MatMul+Add embedding, LayerNorm, self-attention (Softmax), residual, GELU FFN,
    LayerNorm, classifier. ``hand_written_ln``: LayerNorm as tf2onnx writes Keras' (ReduceMean, Sub, Mul(d, d),
    ReduceMean, Add eps, Sqrt, Reciprocal, Mul): with ``amplitude`` ~300 the Mul(d, d) overflows FP16.
    ``unnamed``: no node has a name (as many exporters write them)."""
    rng = np.random.default_rng(seed)
    d = hidden
    inits = [nh.from_array(_f32(rng, d, d, scale=1 / np.sqrt(d)) * amplitude, "embed.w"),
             nh.from_array(_f32(rng, d, scale=0.1), "embed.b"),
             nh.from_array(np.ones(d, np.float32), "ln.g"), nh.from_array(np.zeros(d, np.float32), "ln.b"),
             nh.from_array(_f32(rng, d, d, scale=1 / np.sqrt(d)), "wq"),
             nh.from_array(_f32(rng, d, d, scale=1 / np.sqrt(d)), "wk"),
             nh.from_array(_f32(rng, d, d, scale=1 / np.sqrt(d)), "wv"),
             nh.from_array(np.array(1 / np.sqrt(d), np.float32), "attn.scale"),
             nh.from_array(_f32(rng, d, 4 * d, scale=1 / np.sqrt(d)), "ffn.w1"),
             nh.from_array(_f32(rng, 4 * d, d, scale=1 / np.sqrt(4 * d)), "ffn.w2"),
             nh.from_array(np.array(np.sqrt(0.5), np.float32), "gelu.k"),
             nh.from_array(np.array(1.0, np.float32), "one"), nh.from_array(np.array(0.5, np.float32), "half"),
             nh.from_array(np.array(1e-6, np.float32), "eps"),
             nh.from_array(np.array(float(d), np.float32), "width"),
             nh.from_array(_f32(rng, d, 10, scale=0.3), "cls.w")]
    n = h.make_node
    nodes = [n("MatMul", ["tokens", "embed.w"], ["e0"], name="embed.matmul"),
             n("Add", ["e0", "embed.b"], ["x0"], name="embed.add")]
    nodes += _layernorm("x0", "ln1", "ln1", hand_written_ln)
    nodes += [n("MatMul", ["ln1", "wq"], ["q"], name="attn.q"), n("MatMul", ["ln1", "wk"], ["k"], name="attn.k"),
              n("MatMul", ["ln1", "wv"], ["v"], name="attn.v"),
              n("Transpose", ["k"], ["kt"], name="attn.kt", perm=[0, 2, 1]),
              n("MatMul", ["q", "kt"], ["s0"], name="attn.scores"),
              n("Mul", ["s0", "attn.scale"], ["s"], name="attn.mul"),
              n("Softmax", ["s"], ["p"], name="attn.softmax", axis=-1),
              n("MatMul", ["p", "v"], ["a"], name="attn.out"),
              n("Add", ["a", "ln1"], ["r1"], name="attn.residual")]
    nodes += _layernorm("r1", "ln2", "ln2", False)
    nodes += [n("MatMul", ["ln2", "ffn.w1"], ["f1"], name="ffn.fc1"),
              n("Mul", ["f1", "gelu.k"], ["g0"], name="gelu.mul"),
              n("Erf", ["g0"], ["g1"], name="gelu.erf"), n("Add", ["g1", "one"], ["g2"], name="gelu.add"),
              n("Mul", ["f1", "g2"], ["g3"], name="gelu.mul2"), n("Mul", ["g3", "half"], ["g4"], name="gelu.half"),
              n("MatMul", ["g4", "ffn.w2"], ["f2"], name="ffn.fc2"),
              n("Add", ["f2", "ln2"], ["r2"], name="ffn.residual"),
              n("ReduceMean", ["r2"], ["pooled"], name="pool", axes=[1], keepdims=0),
              n("MatMul", ["pooled", "cls.w"], ["logits"], name="classifier")]
    if unnamed:
        for node in nodes:
            node.name = ""
    model = _model(nodes, [h.make_tensor_value_info("tokens", T.FLOAT, [1, seq, d])],
                   [h.make_tensor_value_info("logits", T.FLOAT, [1, 10])], inits, 17)
    return model


def _layernorm(x: str, out: str, prefix: str, hand_written: bool) -> list[onnx.NodeProto]:
    n = h.make_node
    if not hand_written:
        return [n("LayerNormalization", [x, "ln.g", "ln.b"], [out], name=f"{prefix}.ln", axis=-1, epsilon=1e-6)]
    return [n("ReduceMean", [x], [f"{prefix}.mean"], name=f"{prefix}.mean", axes=[-1]),
            n("Sub", [x, f"{prefix}.mean"], [f"{prefix}.d"], name=f"{prefix}.sub"),
            n("Mul", [f"{prefix}.d", f"{prefix}.d"], [f"{prefix}.sq"], name=f"{prefix}.square"),
            n("ReduceMean", [f"{prefix}.sq"], [f"{prefix}.var"], name=f"{prefix}.var", axes=[-1]),
            n("Add", [f"{prefix}.var", "eps"], [f"{prefix}.ve"], name=f"{prefix}.add_eps"),
            n("Sqrt", [f"{prefix}.ve"], [f"{prefix}.std"], name=f"{prefix}.sqrt"),
            n("Reciprocal", [f"{prefix}.std"], [f"{prefix}.inv"], name=f"{prefix}.reciprocal"),
            n("Mul", [f"{prefix}.d", f"{prefix}.inv"], [f"{prefix}.norm"], name=f"{prefix}.normalise"),
            n("Mul", [f"{prefix}.norm", "ln.g"], [f"{prefix}.scaled"], name=f"{prefix}.gamma"),
            n("Add", [f"{prefix}.scaled", "ln.b"], [out], name=f"{prefix}.beta")]


def resize_sizes(opset: int = 13) -> onnx.ModelProto:
    """Resize in sizes form, as PyTorch exports ``interpolate(size=...)``: ``roi`` and ``scales`` are Constant
    nodes holding empty float tensors, ``sizes`` is computed from the input's shape."""
    n = h.make_node
    nodes = [n("Relu", ["x"], ["r"], name="relu"),
             n("Constant", [], ["roi"], name="roi", value=nh.from_array(np.array([], np.float32), "roi")),
             n("Constant", [], ["scales"], name="scales", value=nh.from_array(np.array([], np.float32), "scales")),
             n("Shape", ["r"], ["shape"], name="shape"),
             n("Constant", [], ["factor"], name="factor", value=nh.from_array(np.array([1, 1, 2, 2], np.int64))),
             n("Mul", ["shape", "factor"], ["sizes"], name="sizes"),
             n("Resize", ["r", "roi", "scales", "sizes"], ["y"], name="resize", mode="linear"),
             n("Conv", ["y", "w"], ["out"], name="conv", pads=[1, 1, 1, 1])]
    w = nh.from_array(_f32(np.random.default_rng(0), 4, 3, 3, 3, scale=0.3), "w")
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                  [h.make_tensor_value_info("out", T.FLOAT, [1, 4, 16, 16])], [w], opset)


def constant_output(kind: str = "zeros") -> onnx.ModelProto:
    """An output that is constant on random inputs: ``zeros`` (Relu of a negative value) or ``ones`` (a saturated
    Sigmoid), or ``oneclass`` (logits dominated by a bias: argmax is class 3 for every row)."""
    n = h.make_node
    if kind == "oneclass":
        rng = np.random.default_rng(0)
        inits = [nh.from_array(_f32(rng, 6, 5, scale=0.01), "w"),
                 nh.from_array(np.array([0, 0, 0, 5, 0], np.float32), "b")]
        nodes = [n("MatMul", ["x", "w"], ["m"], name="fc"), n("Add", ["m", "b"], ["y"], name="bias")]
        return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [8, 6])],
                      [h.make_tensor_value_info("y", T.FLOAT, [8, 5])], inits, 17)
    inits = [nh.from_array(np.array(-5.0 if kind == "zeros" else 16.0, np.float32), "c")]
    nodes = [n("Abs", ["x"], ["a"], name="abs"), n("Neg" if kind == "zeros" else "Identity", ["a"], ["na"], name="neg"),
             n("Add", ["na", "c"], ["s"], name="shift"),
             n("Relu" if kind == "zeros" else "Sigmoid", ["s"], ["y"], name="act")]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [2, 6])],
                  [h.make_tensor_value_info("y", T.FLOAT, [2, 6])], inits, 17)


def conv_bn(opset: int = 11, batch: int = 2) -> onnx.ModelProto:
    """Conv -> BatchNormalization (inference statistics) -> Relu at an old opset, batch 2."""
    rng = np.random.default_rng(1)
    c = 4
    inits = [nh.from_array(_f32(rng, c, 3, 3, 3, scale=0.3), "w"),
             nh.from_array(rng.uniform(0.5, 1.5, c).astype(np.float32), "gamma"),
             nh.from_array(_f32(rng, c, scale=0.1), "beta"), nh.from_array(_f32(rng, c, scale=0.5), "mean"),
             nh.from_array(rng.uniform(0.5, 2.0, c).astype(np.float32), "var")]
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"], name="bn"),
             h.make_node("Relu", ["bn"], ["y"], name="relu")]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [batch, 3, 8, 8])],
                  [h.make_tensor_value_info("y", T.FLOAT, [batch, c, 8, 8])], inits, opset)


def save(model: onnx.ModelProto, path) -> str:
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)
