"""A BERT-base-shaped ONNX graph built in code: 12 encoder layers decomposed the way exporters write them
(LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div, erf GELU, Shape->Gather->Concat chains feeding every Reshape), with a
small hidden size so that a layer-wise comparison takes seconds. Same node count class as a BERT-base export."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


class _G:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def w(self, shape, scale=0.2):
        name = f"w{len(self.inits)}"
        self.inits.append(numpy_helper.from_array((self.rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def c(self, values, dtype=np.int64):
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"/{op_type}_{self.n}", **attrs))
        return out

    def layernorm(self, x, hidden):
        mean = self.op("ReduceMean", [x], axes=[-1])
        d = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.c(2.0, np.float32)])], axes=[-1])
        std = self.op("Sqrt", [self.op("Add", [var, self.c(1e-12, np.float32)])])
        return self.op("Add", [self.op("Mul", [self.op("Div", [d, std]), self.w([hidden], 0.1)]),
                               self.w([hidden], 0.1)])

    def reshape_heads(self, x, heads, head_dim):
        shape = self.op("Shape", [x])
        b = self.op("Unsqueeze", [self.op("Gather", [shape, self.c(0)], axis=0), self.c([0])])
        s = self.op("Unsqueeze", [self.op("Gather", [shape, self.c(1)], axis=0), self.c([0])])
        target = self.op("Concat", [b, s, self.c([heads]), self.c([head_dim])], axis=0)
        return self.op("Reshape", [x, target])

    def linear(self, x, n_in, n_out):
        return self.op("Add", [self.op("MatMul", [x, self.w([n_in, n_out])]), self.w([n_out], 0.05)])


def bertlike(layers: int = 12, hidden: int = 32, heads: int = 4, seq: int = 16, seed: int = 0):
    g, hd = _G(seed), hidden // heads
    x = g.layernorm(g.op("Add", [g.op("Gather", [g.w([100, hidden], 1.0), "input_ids"], axis=0),
                                 g.w([seq, hidden], 0.1)]), hidden)
    for _ in range(layers):
        q, k, v = (g.op("Transpose", [g.reshape_heads(g.linear(x, hidden, hidden), heads, hd)], perm=p)
                   for p in ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]))
        scores = g.op("Div", [g.op("MatMul", [q, k]), g.c(float(np.sqrt(hd)), np.float32)])
        probs = g.op("Softmax", [g.op("Add", [scores, g.c(np.zeros([1, 1, 1, seq]), np.float32)])], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        shape = g.op("Shape", [ctx])
        flat = g.op("Reshape", [ctx, g.op("Concat", [g.op("Slice", [shape, g.c([0]), g.c([2])]), g.c([hidden])],
                                               axis=0)])
        x = g.layernorm(g.op("Add", [g.linear(flat, hidden, hidden), x]), hidden)
        h = g.linear(x, hidden, 4 * hidden)
        erf = g.op("Erf", [g.op("Div", [h, g.c(1.4142135, np.float32)])])
        gelu = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.c(1.0, np.float32)])]), g.c(0.5, np.float32)])
        x = g.layernorm(g.op("Add", [g.linear(gelu, 4 * hidden, hidden), x]), hidden)
    out = g.linear(x, hidden, 2)
    g.nodes.append(helper.make_node("Identity", [out], ["logits"], name="/logits"))
    graph = helper.make_graph(g.nodes, "bertlike", [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                                                                  [1, seq])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, seq, 2])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="trtlab.tests")
    model.ir_version = 8
    return model
