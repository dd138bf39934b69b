"""Settle a disagreement between the onnx.reference evaluator and onnxruntime on one node: which side is wrong?

When a comparison involves ``reference`` and a layer diverges (FP32 on both sides), the first diverging node runs
alone on both engines, fed with onnxruntime's values of its inputs (sample 0), and both results are checked
against a float64 NumPy oracle for the common ops (``ORACLES``). Kernels of onnx.reference known to be wrong for
inference (``KNOWN_REFERENCE_ISSUES``, by op and opset range) are named even for ops without an oracle.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from trtlab import backends
from trtlab.backends import BackendSpec
from trtlab.errors import TrtlabError

# (op, first opset, last opset) -> what onnx.reference does wrong there
KNOWN_REFERENCE_ISSUES = {
    ("BatchNormalization", 6, 13): "onnx.reference's BatchNormalization before opset 14 normalises with the batch's "
                                   "own mean and variance (training mode: momentum is always set) instead of the "
                                   "running mean and variance an inference model stores",
}
ORACLE_RTOL, ORACLE_ATOL = 1e-4, 1e-5


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _bn(ctx, x, scale, bias, mean, var):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    eps = ctx["attrs"].get("epsilon", 1e-5)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * scale.reshape(shape) + bias.reshape(shape)


def _softmax(ctx, x):
    axis = ctx["attrs"].get("axis", -1 if ctx["opset"] >= 13 else 1)
    if ctx["opset"] < 13:  # coerced to 2-D at axis
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layernorm(ctx, x, scale, bias=None):
    a = ctx["attrs"]
    axis = a.get("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale
    return y + bias if bias is not None else y


def _gemm(ctx, a, b, c=None):
    at = ctx["attrs"]
    a = a.T if at.get("transA") else a
    b = b.T if at.get("transB") else b
    y = at.get("alpha", 1.0) * (a @ b)
    return y + at.get("beta", 1.0) * c if c is not None else y


ORACLES = {
    "BatchNormalization": _bn, "Softmax": _softmax, "LayerNormalization": _layernorm, "Gemm": _gemm,
    "MatMul": lambda ctx, a, b: a @ b, "Add": lambda ctx, a, b: a + b, "Sub": lambda ctx, a, b: a - b,
    "Mul": lambda ctx, a, b: a * b, "Div": lambda ctx, a, b: a / b, "Relu": lambda ctx, x: np.maximum(x, 0),
    "Sigmoid": lambda ctx, x: 1 / (1 + np.exp(-x)), "Tanh": lambda ctx, x: np.tanh(x),
    "Exp": lambda ctx, x: np.exp(x), "Sqrt": lambda ctx, x: np.sqrt(x), "Neg": lambda ctx, x: -x,
}


def known_issue(op: str, opset: int) -> str | None:
    return next((why for (name, lo, hi), why in KNOWN_REFERENCE_ISSUES.items() if name == op and lo <= opset <= hi),
                None)


def oracle(node: onnx.NodeProto, opset: int, inputs: list[np.ndarray | None]) -> np.ndarray | None:
    """The node's first output in float64 NumPy, or None when no oracle covers it."""
    fn = ORACLES.get(node.op_type)
    if fn is None or node.domain not in ("", "ai.onnx") or len(node.output) != 1:
        return None
    if node.op_type == "BatchNormalization" and _attrs(node).get("training_mode"):
        return None
    args = [None if v is None else np.asarray(v, np.float64) for v in inputs]
    while args and args[-1] is None:
        args.pop()
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn({"attrs": _attrs(node), "opset": opset}, *args))
    except (TypeError, ValueError):
        return None


def _err(x: np.ndarray, truth: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(x.astype(np.float64) - truth))) if x.size else 0.0


def settle(model: onnx.ModelProto, feeds: dict, tensor: str) -> dict | None:
    """Run the node that writes ``tensor`` alone on onnxrt and on reference (FP32), with onnxrt's values of its
    inputs, and judge both against the oracle. Returns what was found, or None when it cannot be settled."""
    from trtlab.comparison.attribution import Selected, collect_reference, one_node_model

    index = next((i for i, n in enumerate(model.graph.node) if tensor in n.output), None)
    if index is None:
        return None
    node = model.graph.node[index]
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    sel = Selected(tensor, node, node.name or f"{node.op_type}_{index}", node.op_type)
    try:
        values = collect_reference(model, backends.parse_spec("onnxrt"), feeds, [sel])
        single = one_node_model(model, node, values)
        outs = {}
        for spec in ("onnxrt", "reference"):
            with backends.create(backends.parse_spec(spec)) as b:
                b.load(single, None)
                outs[spec] = b.run({vi.name: values[vi.name] for vi in single.graph.input})[tensor]
    except (TrtlabError, KeyError):
        return None
    inits = {t.name: t for t in single.graph.initializer}
    inputs = [values.get(n) if n in values else (numpy_helper.to_array(inits[n]) if n in inits else None)
              for n in node.input]
    truth = oracle(node, opset, inputs)
    issue = known_issue(node.op_type, opset)
    found = {"tensor": tensor, "node": sel.name, "op": node.op_type, "opset": opset, "known_issue": issue,
             "onnxrt_vs_reference": _err(outs["onnxrt"], outs["reference"].astype(np.float64))}
    if truth is not None and truth.shape == outs["onnxrt"].shape:
        tol = ORACLE_ATOL + ORACLE_RTOL * float(np.max(np.abs(truth))) if truth.size else ORACLE_ATOL
        errs = {side: _err(outs[side], truth) for side in outs}
        wrong = [side for side, e in errs.items() if e > tol]
        found.update({"oracle": "numpy float64", "onnxrt_error": errs["onnxrt"],
                      "reference_error": errs["reference"], "wrong": "+".join(wrong) or "neither"})
    elif issue:
        found.update({"oracle": "known onnx.reference issue", "wrong": "reference"})
    else:
        return None
    return found


def involves_reference(*specs: BackendSpec) -> bool:
    return any(s.name == "reference" for s in specs) and all(s.name in ("onnxrt", "reference") for s in specs)
