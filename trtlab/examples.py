"""Bundled example models, built in code with seeded weights (no downloads): ``trtlab example --list``."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtlab.errors import TrtlabError

OPSET = 17


def _w(rng, name, shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
    scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def tinycnn(seed: int = 0) -> onnx.ModelProto:
    """A small image classifier: Conv-BN-ReLU-MaxPool, Conv-ReLU, global pool, Gemm, Softmax. Input [N,3,32,32]."""
    rng = np.random.default_rng(seed)
    inits = [
        _w(rng, "conv1.w", [8, 3, 3, 3]), _w(rng, "conv1.b", [8], 0.1),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "bn1.scale"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "bn1.bias"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "bn1.mean"),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "bn1.var"),
        _w(rng, "conv2.w", [16, 8, 3, 3]), _w(rng, "conv2.b", [16], 0.1),
        _w(rng, "fc.w", [10, 16]), _w(rng, "fc.b", [10], 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.w", "conv1.b"], ["conv1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["conv1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"], ["bn1"],
                         name="bn1"),
        helper.make_node("Relu", ["bn1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1", "conv2.w", "conv2.b"], ["conv2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["relu2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tinycnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="trtlab.examples")
    model.ir_version = 8
    return model


def tinydetector(seed: int = 0, n: int = 20, classes: int = 4) -> onnx.ModelProto:
    """A detector's tail whose output order hangs on scores 1e-6 apart: a conv feature map feeds (times zero) a
    TopK over n scores 0.5 + i * 1e-6; boxes [n, 4] and labels [n] are gathered by the TopK indices. In FP32 the
    detections come out in reverse index order; FP16 rounds every score to 0.5 and TopK keeps index order, so the
    same detections come out permuted (``compare --task detection``). Input [1, 3, 32, 32]."""
    rng = np.random.default_rng(seed)
    xy = np.stack([np.arange(n) * 40.0, rng.uniform(0, 100, n)], 1)
    boxes = np.concatenate([xy, xy + rng.uniform(20, 30, (n, 2))], 1).astype(np.float32)
    inits = [_w(rng, "conv.w", [4, 3, 3, 3]), numpy_helper.from_array(boxes, "anchors"),
             numpy_helper.from_array((0.5 + np.arange(n) * 1e-6).astype(np.float32), "prior"),
             numpy_helper.from_array((np.arange(n) % classes).astype(np.int64), "classes"),
             numpy_helper.from_array(np.array([n], np.int64), "k"), numpy_helper.from_array(np.zeros(1, np.float32),
                                                                                           "zero")]
    mk = helper.make_node
    nodes = [mk("Conv", ["input", "conv.w"], ["feat"], name="conv", pads=[1, 1, 1, 1]),
             mk("ReduceMean", ["feat"], ["mean"], name="pool", keepdims=0), mk("Mul", ["mean", "zero"], ["m0"]),
             mk("Add", ["prior", "m0"], ["logit"], name="score"),
             mk("TopK", ["logit", "k"], ["scores", "order"], name="topk", axis=0),
             mk("Gather", ["anchors", "order"], ["boxes"], name="gather_boxes", axis=0),
             mk("Gather", ["classes", "order"], ["labels"], name="gather_labels", axis=0)]
    graph = helper.make_graph(
        nodes, "tinydetector", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [n, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [n]),
         helper.make_tensor_value_info("labels", TensorProto.INT64, [n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="trtlab.examples")
    model.ir_version = 8
    return model


EXAMPLES = {
    "tinycnn": tinycnn,
    "tinydetector": tinydetector,
}


def build_example(name: str) -> onnx.ModelProto:
    if name not in EXAMPLES:
        raise TrtlabError(f"example:{name}", "no such bundled example", f"choose one of: {', '.join(EXAMPLES)}")
    return EXAMPLES[name]()
