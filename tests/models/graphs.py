"""Small models built from real ONNX ops for the partition and plugin tests (torch is not installed)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def _init(name, arr):
    return nh.from_array(np.asarray(arr), name)


def quantized_convnet(seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> [DynamicQuantizeLinear -> ConvInteger] -> Cast -> Mul(scales) -> Relu ->
    [com.microsoft::BiasGelu] -> Conv ->
    Flatten -> [DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul] -> Add -> Softmax, with a side branch
    (Conv -> GlobalAveragePool) that reads a TensorRT tensor after the integer ops, so naive splitting would
    interleave."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("w1", rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3),
        _init("wq", rng.integers(0, 255, (8, 8, 3, 3)).astype(np.uint8)),
        _init("wq_zp", np.array(128, np.uint8)),
        _init("wq_scale", np.array(0.01, np.float32)),
        _init("w3", rng.standard_normal((4, 8, 3, 3)).astype(np.float32) * 0.3),
        _init("mq", rng.integers(0, 255, (4 * 8 * 8, 10)).astype(np.uint8)),
        _init("mq_zp", np.array(128, np.uint8)),
        _init("mq_scale", np.array(0.02, np.float32)),
        _init("bias", rng.standard_normal(10).astype(np.float32)),
        _init("ws", rng.standard_normal((2, 8, 1, 1)).astype(np.float32)),
        _init("gelu_bias", 0.1 * rng.standard_normal(8).astype(np.float32)),
    ]
    n = h.make_node
    nodes = [
        n("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="relu1"),
        n("DynamicQuantizeLinear", ["r1"], ["q1", "q1_scale", "q1_zp"], name="dql1"),
        n("ConvInteger", ["q1", "wq", "q1_zp", "wq_zp"], ["ci"], name="conv_int", pads=[1, 1, 1, 1]),
        n("Cast", ["ci"], ["ci_f"], name="cast1", to=T.FLOAT),
        n("Mul", ["q1_scale", "wq_scale"], ["s1"], name="scale1"),
        n("Mul", ["ci_f", "s1"], ["deq1"], name="deq1"),
        n("Relu", ["deq1"], ["r2"], name="relu2"),
        n("Conv", ["r1", "ws"], ["side"], name="side_conv"),  # reads a tensor from before the integer ops
        n("GlobalAveragePool", ["side"], ["side_pool"], name="side_pool"),
        n("BiasGelu", ["r2", "gelu_bias"], ["bg"], name="bias_gelu", domain="com.microsoft"),  # ORT contrib op
        n("Conv", ["bg", "w3"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
        n("Flatten", ["c3"], ["flat"], name="flatten", axis=1),
        n("DynamicQuantizeLinear", ["flat"], ["q2", "q2_scale", "q2_zp"], name="dql2"),
        n("MatMulInteger", ["q2", "mq", "q2_zp", "mq_zp"], ["mi"], name="matmul_int"),
        n("Cast", ["mi"], ["mi_f"], name="cast2", to=T.FLOAT),
        n("Mul", ["q2_scale", "mq_scale"], ["s2"], name="scale2"),
        n("Mul", ["mi_f", "s2"], ["deq2"], name="deq2"),
        n("Add", ["deq2", "bias"], ["logits"], name="add_bias"),
        n("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    g = h.make_graph(nodes, "quantized_convnet", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
                     [h.make_tensor_value_info("probs", T.FLOAT, [1, 10]),
                      h.make_tensor_value_info("side_pool", T.FLOAT, [1, 2, 1, 1])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def transformer_block(seq: int = 8, hidden: int = 16, opset: int = 17, gelu: str = "erf", seed: int = 0,
                      const_nodes: bool = False) -> onnx.ModelProto:
    """A PyTorch-style exported encoder block: LayerNorm decomposed op by op (as torch.onnx exports
    nn.LayerNorm below opset 17 and hand-written norms at any opset), single-head attention, and an MLP with GELU
    decomposed (erf form as torch exports F.gelu, tanh form as torch exports gelu(approximate='tanh'))."""
    rng = np.random.default_rng(seed)
    inits: list = []
    nodes: list = []
    n = h.make_node
    counter = [0]

    def const(name, value):
        value = np.asarray(value, np.float32)
        if const_nodes:
            nodes.append(n("Constant", [], [name], name=f"{name}_const", value=nh.from_array(value, name)))
        else:
            inits.append(nh.from_array(value, name))
        return name

    def ln(x, prefix):
        axes = {"axes": [-1]}
        nodes.extend([
            n("ReduceMean", [x], [f"{prefix}_mean"], name=f"{prefix}/ReduceMean", **axes),
            n("Sub", [x, f"{prefix}_mean"], [f"{prefix}_sub"], name=f"{prefix}/Sub"),
            n("Pow", [f"{prefix}_sub", const(f"{prefix}_two", 2.0)], [f"{prefix}_pow"], name=f"{prefix}/Pow"),
            n("ReduceMean", [f"{prefix}_pow"], [f"{prefix}_var"], name=f"{prefix}/ReduceMean_1", **axes),
            n("Add", [f"{prefix}_var", const(f"{prefix}_eps", 1e-5)], [f"{prefix}_veps"], name=f"{prefix}/Add"),
            n("Sqrt", [f"{prefix}_veps"], [f"{prefix}_std"], name=f"{prefix}/Sqrt"),
            n("Div", [f"{prefix}_sub", f"{prefix}_std"], [f"{prefix}_norm"], name=f"{prefix}/Div"),
            n("Mul", [f"{prefix}_norm", const(f"{prefix}.weight", 1 + 0.1 * rng.standard_normal(hidden))],
              [f"{prefix}_scaled"], name=f"{prefix}/Mul"),
            n("Add", [f"{prefix}_scaled", const(f"{prefix}.bias", 0.1 * rng.standard_normal(hidden))],
              [f"{prefix}_out"], name=f"{prefix}/Add_1"),
        ])
        return f"{prefix}_out"

    def linear(x, prefix, fin, fout):
        w = const(f"{prefix}.weight", rng.standard_normal((fin, fout)) / np.sqrt(fin))
        b = const(f"{prefix}.bias", 0.1 * rng.standard_normal(fout))
        nodes.extend([n("MatMul", [x, w], [f"{prefix}_mm"], name=f"{prefix}/MatMul"),
                      n("Add", [f"{prefix}_mm", b], [f"{prefix}_out"], name=f"{prefix}/Add")])
        return f"{prefix}_out"

    def gelu_erf(x, prefix):
        nodes.extend([
            n("Div", [x, const(f"{prefix}_sqrt2", 1.4142135381698608)], [f"{prefix}_div"], name=f"{prefix}/Div"),
            n("Erf", [f"{prefix}_div"], [f"{prefix}_erf"], name=f"{prefix}/Erf"),
            n("Add", [f"{prefix}_erf", const(f"{prefix}_one", 1.0)], [f"{prefix}_add"], name=f"{prefix}/Add"),
            n("Mul", [x, f"{prefix}_add"], [f"{prefix}_mul"], name=f"{prefix}/Mul"),
            n("Mul", [f"{prefix}_mul", const(f"{prefix}_half", 0.5)], [f"{prefix}_out"], name=f"{prefix}/Mul_1"),
        ])
        return f"{prefix}_out"

    def gelu_tanh(x, prefix):
        nodes.extend([
            n("Mul", [x, const(f"{prefix}_half", 0.5)], [f"{prefix}_halfx"], name=f"{prefix}/Mul"),
            n("Pow", [x, const(f"{prefix}_three", 3.0)], [f"{prefix}_cube"], name=f"{prefix}/Pow"),
            n("Mul", [f"{prefix}_cube", const(f"{prefix}_c", 0.044715)], [f"{prefix}_cm"], name=f"{prefix}/Mul_1"),
            n("Add", [x, f"{prefix}_cm"], [f"{prefix}_inner"], name=f"{prefix}/Add"),
            n("Mul", [f"{prefix}_inner", const(f"{prefix}_s", 0.7978845608028654)], [f"{prefix}_sc"],
              name=f"{prefix}/Mul_2"),
            n("Tanh", [f"{prefix}_sc"], [f"{prefix}_tanh"], name=f"{prefix}/Tanh"),
            n("Add", [f"{prefix}_tanh", const(f"{prefix}_one", 1.0)], [f"{prefix}_add1"], name=f"{prefix}/Add_1"),
            n("Mul", [f"{prefix}_halfx", f"{prefix}_add1"], [f"{prefix}_out"], name=f"{prefix}/Mul_3"),
        ])
        return f"{prefix}_out"

    x = "hidden_states"
    a = ln(x, "ln1")
    q = linear(a, "attn.q", hidden, hidden)
    k = linear(a, "attn.k", hidden, hidden)
    v = linear(a, "attn.v", hidden, hidden)
    nodes.extend([
        n("Transpose", [k], ["attn_kt"], name="attn/Transpose", perm=[0, 2, 1]),
        n("MatMul", [q, "attn_kt"], ["attn_scores"], name="attn/MatMul"),
        n("Mul", ["attn_scores", const("attn_scale", 1 / np.sqrt(hidden))], ["attn_scaled"], name="attn/Mul"),
        n("Softmax", ["attn_scaled"], ["attn_probs"], name="attn/Softmax", axis=-1),
        n("MatMul", ["attn_probs", v], ["attn_ctx"], name="attn/MatMul_1"),
    ])
    o = linear("attn_ctx", "attn.o", hidden, hidden)
    nodes.append(n("Add", [x, o], ["res1"], name="res1/Add"))
    b = ln("res1", "ln2")
    f1 = linear(b, "mlp.fc1", hidden, 4 * hidden)
    g = (gelu_erf if gelu == "erf" else gelu_tanh)(f1, "mlp.act")
    f2 = linear(g, "mlp.fc2", 4 * hidden, hidden)
    nodes.append(n("Add", ["res1", f2], ["block_out"], name="res2/Add"))
    counter[0] += 1
    graph = h.make_graph(nodes, "encoder_block", [h.make_tensor_value_info(x, T.FLOAT, [1, seq, hidden])],
                         [h.make_tensor_value_info("block_out", T.FLOAT, [1, seq, hidden])], inits)
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def nms_tail(n_boxes: int = 64, classes: int = 3, max_out: int = 10) -> onnx.ModelProto:
    """A detector head ending in NonMaxSuppression: raw boxes and logits -> Sigmoid -> Transpose -> NMS, whose
    selected indices are the graph output."""
    n = h.make_node
    inits = [nh.from_array(np.array([max_out], np.int64), "max_out"), nh.from_array(np.array([0.5], np.float32), "iou"),
             nh.from_array(np.array([0.3], np.float32), "score_thr")]
    nodes = [n("Sigmoid", ["logits"], ["scores_bnc"], name="head/Sigmoid"),
             n("Transpose", ["scores_bnc"], ["scores"], name="head/Transpose", perm=[0, 2, 1]),
             n("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_thr"], ["selected"], name="nms")]
    g = h.make_graph(nodes, "nms_tail", [h.make_tensor_value_info("boxes", T.FLOAT, [1, n_boxes, 4]),
                                         h.make_tensor_value_info("logits", T.FLOAT, [1, n_boxes, classes])],
                     [h.make_tensor_value_info("selected", T.INT64, [None, 3])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _model(nodes, name, inputs, outputs, inits, opset=13):
    m = h.make_model(h.make_graph(nodes, name, inputs, outputs, inits), opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def tie_detector(n: int = 12, classes: int = 3) -> onnx.ModelProto:
    """A detector tail whose output order hangs on scores 1e-6 apart: TopK over 0.5 + i * 1e-6 returns the
    detections in reverse order in FP32, in index order in FP16 (all scores round to 0.5 and tie). Boxes and
    labels are gathered by the TopK indices; boxes are disjoint, so as a set both orders are the same detections."""
    rng = np.random.default_rng(0)
    xy = np.stack([np.arange(n) * 40.0, rng.uniform(0, 100, n)], 1)
    boxes = np.concatenate([xy, xy + rng.uniform(20, 30, (n, 2))], 1).astype(np.float32)
    scores = (0.5 + np.arange(n) * 1e-6).astype(np.float32)
    inits = [_init("all_boxes", boxes), _init("base_scores", scores),
             _init("all_labels", (np.arange(n) % classes).astype(np.int64)), _init("k", np.array([n], np.int64)),
             _init("zero", np.zeros(1, np.float32))]
    nd = h.make_node
    nodes = [nd("Mul", ["x", "zero"], ["x0"]), nd("ReduceSum", ["x0"], ["xs"], keepdims=0),
             nd("Add", ["base_scores", "xs"], ["raw"]),
             nd("TopK", ["raw", "k"], ["scores", "idx"], axis=0, largest=1, sorted=1),
             nd("Gather", ["all_boxes", "idx"], ["boxes"], axis=0),
             nd("Gather", ["all_labels", "idx"], ["labels"], axis=0)]
    return _model(nodes, "tie_detector", [h.make_tensor_value_info("x", T.FLOAT, [1, 8])],
                  [h.make_tensor_value_info("boxes", T.FLOAT, [n, 4]), h.make_tensor_value_info("scores", T.FLOAT, [n]),
                   h.make_tensor_value_info("labels", T.INT64, [n])], inits)


def passthrough(shape: list[int], name: str = "logits") -> onnx.ModelProto:
    """``out = x + 0``: the output is the input, so a test chooses every value (FP16 rounds them)."""
    return _model([h.make_node("Add", ["x", "zero"], [name])], "passthrough",
                  [h.make_tensor_value_info("x", T.FLOAT, shape)], [h.make_tensor_value_info(name, T.FLOAT, shape)],
                  [_init("zero", np.zeros(1, np.float32))])


def tie_classifier_inputs(samples: int = 3, classes: int = 10, flip: int = 1) -> list[np.ndarray]:
    """Class scores [1, C] per sample with a clear winner, except sample ``flip``: class 7 leads class 3 by 5e-7,
    which FP16 rounds away (both 0.5), so FP16's argmax picks class 3."""
    out = []
    for s in range(samples):
        x = np.linspace(-1, 0.2, classes).astype(np.float32)[None]
        x[0, s % classes] = 2.0
        if s == flip:
            x[0, s % classes] = 0.1
            x[0, 3], x[0, 7] = 0.5, np.float32(0.5) + np.float32(5e-7)
        out.append(x)
    return out


def region_map(classes: int = 3, size: int = 32, tie: bool = True) -> np.ndarray:
    """Class scores [1, C, H, W]: class 0 wins everywhere except a 10x10 region where class 2 leads class 1 by 5e-7
    (tie=True: FP16 makes it class 1) or by 0.25 (tie=False: every backend agrees)."""
    x = np.zeros((1, classes, size, size), np.float32)
    x[0, 0] = 1.0
    x[0, :, 8:18, 8:18] = 0.0
    x[0, 1, 8:18, 8:18] = 0.5
    x[0, 2, 8:18, 8:18] = np.float32(0.5) + np.float32(5e-7 if tie else 0.25)
    return x


def nms_detector(n: int = 12, borderline: int = 2) -> onnx.ModelProto:
    """NonMaxSuppression with data-dependent output shapes [K, 4], [K], [K]: ``borderline`` scores sit 1e-6 above
    the 0.3 threshold, which FP16 rounds to equal the (rounded) threshold, so FP16 keeps ``borderline`` fewer."""
    boxes = np.stack([np.arange(n) * 40.0, np.zeros(n), np.arange(n) * 40.0 + 30, np.full(n, 30.0)], 1)
    scores = np.linspace(0.9, 0.6, n)
    scores[:borderline] = 0.3 + 1e-6
    inits = [_init("all_boxes", boxes[None].astype(np.float32)), _init("boxes2d", boxes.astype(np.float32)),
             _init("base", scores[None, None].astype(np.float32)), _init("max_out", np.array([n], np.int64)),
             _init("iou_thr", np.array([0.5], np.float32)), _init("score_thr", np.array([0.3], np.float32)),
             _init("zero", np.zeros(1, np.float32)), _init("two", np.array(2, np.int64)),
             _init("one", np.array(1, np.int64)), _init("flat", np.array([-1], np.int64))]
    nd = h.make_node
    nodes = [nd("Mul", ["x", "zero"], ["x0"]), nd("ReduceSum", ["x0"], ["xs"], keepdims=0),
             nd("Add", ["base", "xs"], ["scores3"]),
             nd("NonMaxSuppression", ["all_boxes", "scores3", "max_out", "iou_thr", "score_thr"], ["sel"]),
             nd("Gather", ["sel", "two"], ["idx"], axis=1), nd("Gather", ["sel", "one"], ["labels"], axis=1),
             nd("Gather", ["boxes2d", "idx"], ["boxes"], axis=0), nd("Reshape", ["scores3", "flat"], ["scores1"]),
             nd("Gather", ["scores1", "idx"], ["scores"], axis=0)]
    return _model(nodes, "nms_detector", [h.make_tensor_value_info("x", T.FLOAT, [1, 8])],
                  [h.make_tensor_value_info("boxes", T.FLOAT, ["K", 4]),
                   h.make_tensor_value_info("scores", T.FLOAT, ["K"]),
                   h.make_tensor_value_info("labels", T.INT64, ["K"])], inits)
