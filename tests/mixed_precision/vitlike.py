"""A ViT-shaped ONNX graph built in code: patch embedding (Conv, stride = patch), class token, position
embedding, pre-norm encoder blocks decomposed as exporters write them (LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div,
erf GELU, attention with Softmax), a classifier head; small sizes so a search takes seconds."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tests.reports.bertlike import _G


def vitlike(layers: int = 6, hidden: int = 48, heads: int = 4, image: int = 32, patch: int = 4, seed: int = 0,
            act_scale: float = 1.0):
    """``act_scale`` > 1 scales the residual stream: above ~256 the LayerNorms' Pow(x - mean, 2) overflows FP16
    (the classic transformer FP16 hazard), while the FP32 model's output does not change (LayerNorm undoes it)."""
    g, hd = _G(seed), hidden // heads
    n = (image // patch) ** 2
    emb = g.op("Conv", ["pixels", g.w([hidden, 3, patch, patch], 0.2), g.w([hidden], 0.05)],
               strides=[patch, patch], kernel_shape=[patch, patch])
    tokens = g.op("Transpose", [g.op("Reshape", [emb, g.c([1, hidden, n])])], perm=[0, 2, 1])
    x = g.op("Add", [g.op("Concat", [g.w([1, 1, hidden], 0.1), tokens], axis=1), g.w([1, n + 1, hidden], 0.1)])
    if act_scale != 1.0:
        x = g.op("Mul", [x, g.c(act_scale, np.float32)])
    for _ in range(layers):
        y = g.layernorm(x, hidden)
        q, k, v = (g.op("Transpose", [g.op("Reshape", [g.linear(y, hidden, hidden), g.c([1, n + 1, heads, hd])])],
                        perm=p) for p in ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]))
        scores = g.op("Mul", [g.op("MatMul", [q, k]), g.c(1.0 / np.sqrt(hd), np.float32)])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                               g.c([1, n + 1, hidden])])
        x = g.op("Add", [g.linear(ctx, hidden, hidden), x])
        h = g.linear(g.layernorm(x, hidden), hidden, 4 * hidden)
        erf = g.op("Erf", [g.op("Div", [h, g.c(1.4142135, np.float32)])])
        gelu = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.c(1.0, np.float32)])]), g.c(0.5, np.float32)])
        x = g.op("Add", [g.linear(gelu, 4 * hidden, hidden), x])
    cls = g.op("Gather", [g.layernorm(x, hidden), g.c(0)], axis=1)
    out = g.linear(cls, hidden, 10)
    g.nodes.append(helper.make_node("Identity", [out], ["logits"], name="/logits"))
    graph = helper.make_graph(g.nodes, "vitlike",
                              [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, image, image])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="trtlab.tests")
    model.ir_version = 8
    return model
