"""Which nodes of a model TensorRT can import: the real parser when a TensorRT module is installed, else a
static support table (a prediction, labelled as one).

With a parser: the full parse names every node it refuses and why (the parser's own message); the capability
query (``supports_model_v2``) gives the node sets the parser accepts, and a node outside all of them is refused
too. Segments are re-parsed on their own later (``trtlab.partition.plan``), and any node that fails there moves to
the fallback as well, so a TensorRT segment in a written partition is one the parser has accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

STANDARD = ("", "ai.onnx")

# Standard ONNX ops that TensorRT 10's ONNX parser imports (from its published operator support matrix; some
# have restrictions on types or attributes that only the real parser knows).
TRT_OPS = frozenset([
    "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
    "AveragePool", "BatchNormalization", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor", "BlackmanWindow",
    "Cast", "CastLike", "Ceil", "Celu", "Clip", "Compress", "Concat", "Constant", "ConstantOfShape", "Conv",
    "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv", "DepthToSpace", "DequantizeLinear", "Div", "Dropout",
    "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather",
    "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater",
    "GreaterOrEqual", "GridSample", "GroupNormalization", "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish",
    "Hardmax", "Identity", "If", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LayerNormalization",
    "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul", "Max",
    "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mish", "Mod", "Mul", "Neg", "NonMaxSuppression",
    "NonZero", "Not", "OneHot", "Or", "PRelu", "Pad", "Pow", "QuantizeLinear", "RNN", "RandomNormal",
    "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
    "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign", "Round", "Scan", "Scatter",
    "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice",
    "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh",
    "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unsqueeze", "Upsample", "Where", "Xor"
])

# Ops with a known reason; anything else outside TRT_OPS gets a generic one.
KNOWN_UNSUPPORTED = {
    "ConvInteger": "integer-arithmetic convolution has no TensorRT importer (TensorRT quantizes with Q/DQ)",
    "MatMulInteger": "integer-arithmetic matmul has no TensorRT importer (TensorRT quantizes with Q/DQ)",
    "QLinearConv": "QLinear ops have no TensorRT importer (TensorRT quantizes with Q/DQ)",
    "QLinearMatMul": "QLinear ops have no TensorRT importer (TensorRT quantizes with Q/DQ)",
    "DynamicQuantizeLinear": "dynamic (data-dependent) quantization scales are not supported",
    "Unique": "data-dependent output shape with no TensorRT importer",
}


@dataclass
class NodeSupport:
    index: int
    name: str
    op: str
    domain: str
    supported: bool
    reason: str | None = None
    source: str = "parser"  # parser | capability | segment-parse | min-segment-size | prediction | plugin
    hint: str | None = None  # what to do about it (trtlab check's hints)


def _node_name(node: onnx.NodeProto, i: int) -> str:
    return node.name or f"{node.op_type}_{i}"


def predicted_support(model: onnx.ModelProto) -> list[NodeSupport]:
    """The static table, checked against the model's opset (a prediction: no parser was asked)."""
    from onnx import defs

    opsets = {o.domain or "": o.version for o in model.opset_import}
    opset = max(opsets.get("", 0), opsets.get("ai.onnx", 0))
    out = []
    for i, node in enumerate(model.graph.node):
        ns = NodeSupport(i, _node_name(node, i), node.op_type, node.domain, True, None, "prediction")
        if node.domain not in STANDARD:
            if node.op_type.endswith("_TRT"):
                ns.reason = None  # a TensorRT plugin by name: supported if its library is loaded
            else:
                ns.supported = False
                ns.reason = (f"custom-domain op {node.domain}::{node.op_type}: TensorRT would look for a plugin named "
                             f"'{node.op_type}' and no standard plugin has that name")
        elif not defs.has(node.op_type, max_inclusive_version=max(opset, 1), domain=""):
            ns.supported = False
            ns.reason = f"'{node.op_type}' is not an op of ai.onnx opset {opset} (installed onnx {onnx.__version__})"
        elif node.op_type in KNOWN_UNSUPPORTED:
            ns.supported, ns.reason = False, KNOWN_UNSUPPORTED[node.op_type]
        elif node.op_type not in TRT_OPS:
            ns.supported = False
            ns.reason = f"'{node.op_type}' is not in trtlab's table of ops TensorRT's ONNX parser imports"
        out.append(ns)
    return out


def parser_support(trt, model: onnx.ModelProto) -> tuple[list[NodeSupport], list[str]]:
    """Per-node support from the real parser: the full parse's errors plus the capability query, asked in a
    forked child (``contain.run``: a native crash raises ``TrtCrash``)."""
    from trtlab.trt.contain import run

    return run(model.graph.name or "model", "parsing", lambda _bar: _parser_support(trt, model))


def _parser_support(trt, model: onnx.ModelProto) -> tuple[list[NodeSupport], list[str]]:
    from trtlab.model import LoadedModel
    from trtlab.trt.check import check_here

    loaded = LoadedModel(proto=model, path=None, label=model.graph.name or "model")
    return support_from_check(model, check_here(trt, loaded))


def support_from_check(model: onnx.ModelProto, result) -> tuple[list[NodeSupport], list[str]]:
    """Per-node support from a ``trtlab check`` result (``trtlab.trt.check.CheckResult``) of ``model``: a node the
    full parse refuses, or one outside every node set of the capability query (``supports_model_v2``), is
    refused. The one labelling behind both ``check``'s isolation summary and ``--isolate-unsupported``."""
    nodes = [NodeSupport(i, _node_name(n, i), n.op_type, n.domain, True) for i, n in enumerate(model.graph.node)]
    notes = [f"parser error not tied to a node: {e['message']}" for e in result.errors]
    if result.parseable:
        return nodes, notes
    for report in result.failing:
        ns = nodes[report.index]
        ns.supported, ns.hint = False, report.hint
        ns.reason = explain_plugin_error(model.graph.node[ns.index], report.error or "refused by the parser")
    asked = [p for p in result.partitions if p.get("source") == "parser"]  # none: the query had no answer
    if asked:
        covered = {i for p in asked for i in range(p["nodes"][0], p["nodes"][1] + 1)}
        for ns in nodes:
            if ns.supported and ns.index not in covered:
                ns.supported, ns.source = False, "capability"
                ns.reason = "outside every node set the parser's capability query (supports_model_v2) accepts"
    notes += [w for w in result.warnings if "capability query" in w]
    if all(ns.supported for ns in nodes) and not notes:
        notes.append("the parser failed without naming a node")
    return nodes, notes


def segment_parse_errors(trt, model: onnx.ModelProto) -> tuple[bool, list[tuple[int, str]], list[str]]:
    """Parse one segment on its own, in a forked child: (ok, [(node index in the segment, message)], other
    messages)."""
    from trtlab.trt.contain import run

    return run(model.graph.name or "segment", "parsing", lambda _bar: _segment_parse_errors(trt, model))


def _segment_parse_errors(trt, model: onnx.ModelProto) -> tuple[bool, list[tuple[int, str]], list[str]]:
    from trtlab.model import LoadedModel
    from trtlab.trt.check import parse_network, parser_errors

    loaded = LoadedModel(proto=model, path=None, label=model.graph.name or "segment")
    _b, _n, parser, logger, ok, _s = parse_network(trt, loaded)
    errors = parser_errors(parser)
    per_node = [(e["node"], explain_plugin_error(model.graph.node[e["node"]], e["message"]))
                for e in errors if 0 <= e["node"] < len(model.graph.node)]
    other = [e["message"] for e in errors if not 0 <= e["node"] < len(model.graph.node)]
    if not ok and not per_node and not other:
        other = logger.errors()[-3:] or ["the parser failed without a message"]
    return ok, per_node, other


def explain_plugin_error(node: onnx.NodeProto, message: str) -> str:
    """The parser's 'Plugin not found' in words: which creator (name, version, namespace) it looked up."""
    if "plugin not found" not in message.lower() and "plugin creator" not in message.lower():
        return message
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    version = attrs.get("plugin_version", b"1")
    namespace = attrs.get("plugin_namespace", b"")
    version = version.decode() if isinstance(version, bytes) else str(version)
    namespace = namespace.decode() if isinstance(namespace, bytes) else str(namespace)
    if node.op_type == "NonZero" or "NonZero" in message:
        return message
    return (f"{message} -- TensorRT found no op importer for '{node.op_type}' and then looked up a plugin creator "
            f"named '{node.op_type}', version '{version}', namespace '{namespace}' (from the node's op type and its "
            f"plugin_version / plugin_namespace attributes) and none is registered: load the library that implements "
            f"it (trtexec --dynamicPlugins / IPluginRegistry.load_library), or fix the name, version or namespace")
