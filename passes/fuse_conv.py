"""fuse-conv: fold per-channel affine ops that follow a Conv into the Conv's weights and bias.

Rewrites (each graph and body, repeated until nothing changes, so Conv -> BN -> Mul -> Add becomes one Conv):

- ``BatchNormalization(Conv(x, W, b), scale, B, mean, var)`` -> ``Conv(x, W * s, (b - mean) * s + B)`` with
  ``s = scale / sqrt(var + epsilon)`` per output channel;
- ``Mul(Conv(x, W, b), c)`` (either operand order) -> ``Conv(x, W * c, b * c)``;
- ``Add(Conv(x, W, b), c)`` (either operand order) -> ``Conv(x, W, b + c)``.

Conditions, all required: the Conv is a standard-domain ``Conv`` (not ConvTranspose) whose weight ``W`` and bias
``b`` (if any) are constants (see ``passes/rewrite.py``) of type float or double (float16/bfloat16 are left alone:
fold in FP32 first, then convert); the Conv's output has exactly one reader, that op, reading it as its data
operand, and is not a graph output. BatchNormalization: inference mode (one output; ``training_mode`` 0;
``spatial`` 1 before opset 9; ``is_test`` 1 before opset 7) and scale, B, mean, var constants of shape
``[M]`` (M = output channels). Mul/Add: ``c`` is a constant of the Conv's type whose broadcast leaves the Conv
output's shape unchanged and is per channel: rank at most the Conv output's, every dimension 1 except the channel
axis, which is 1 or M. Every folded value must be finite. The arithmetic is done in float64 and rounded once.

The fused op's output name is kept (the Conv writes it), so graph output names never change. New weights are new
initializers: the old ones may be shared with other nodes and are removed by cleanup when unused.

Numerics: ``Conv(x, W) * s`` and ``Conv(x, W * s)`` round differently (last bits of FP32): the runner verifies
this pass with the default 1e-5 tolerances, which it passes on the shared models (tests/passes/test_fuse.py).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto
from trtlab.passes import graphutil as gu
from trtlab.passes import rewrite as rw
from trtlab.passes.base import Pass, PassResult

FLOAT_TYPES = (np.float32, np.float64)


def _conv_params(node: NodeProto, consts: dict) -> tuple[np.ndarray, np.ndarray | None] | None:
    if node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
        return None
    w = rw.array(consts[node.input[1]]) if node.input[1] in consts else None
    if w is None or w.dtype.type not in FLOAT_TYPES or w.ndim < 3:
        return None
    b = None
    if len(node.input) > 2 and node.input[2]:
        b = rw.array(consts[node.input[2]]) if node.input[2] in consts else None
        if b is None or b.shape != (w.shape[0],):
            return None
    return w, b


def per_channel(c: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """``c`` as a vector over the channel axis (axis 1 of a rank-``rank`` tensor), when broadcasting ``c``
    against that tensor changes neither its shape nor anything but per-channel values; else None."""
    if c.ndim > rank:
        return None
    shape = (1,) * (rank - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(c.reshape(-1).astype(np.float64), (channels,))


def _bn_scale_shift(bn: NodeProto, consts: dict, channels: int, opset: int) -> tuple | None:
    outs = [o for o in bn.output if o]
    if len(outs) != 1 or bn.output[0] == "" or len(bn.input) != 5:
        return None
    if rw.attr(bn, "training_mode", 0) != 0 or (opset < 9 and rw.attr(bn, "spatial", 1) != 1) \
            or (opset < 7 and rw.attr(bn, "is_test", 0) != 1):
        return None
    params = [rw.array(consts[n]) if n in consts else None for n in bn.input[1:]]
    if any(p is None or p.shape != (channels,) for p in params):
        return None
    scale, shift, mean, var = (p.astype(np.float64) for p in params)
    s = scale / np.sqrt(var + float(rw.attr(bn, "epsilon", 1e-5)))
    return s, shift - mean * s


def _fuse_one(conv: NodeProto, nxt: NodeProto, w: np.ndarray, b, consts: dict, opset: int):
    """New (W, b) for ``conv`` absorbing ``nxt`` (W None: unchanged), or None when a condition fails."""
    out = conv.output[0]
    m = w.shape[0]
    b64 = np.zeros(m) if b is None else b.astype(np.float64)
    if nxt.domain not in ("", "ai.onnx"):
        return None
    if nxt.op_type == "BatchNormalization":
        if nxt.input[0] != out or out in nxt.input[1:]:
            return None
        got = _bn_scale_shift(nxt, consts, m, opset)
        if got is None:
            return None
        s, t = got
        return w * s.reshape((m,) + (1,) * (w.ndim - 1)), b64 * s + t
    if nxt.op_type in ("Mul", "Add") and len(nxt.input) == 2 and list(nxt.input).count(out) == 1:
        other = nxt.input[1] if nxt.input[0] == out else nxt.input[0]
        c = rw.array(consts[other]) if other in consts else None
        if c is None or c.dtype != w.dtype:
            return None
        v = per_channel(c, m, w.ndim)
        if v is None:
            return None
        if nxt.op_type == "Mul":
            return w * v.reshape((m,) + (1,) * (w.ndim - 1)), b64 * v
        return None, b64 + v
    return None


def fuse_graph(graph: GraphProto, ir_version: int, opset: int, taken: set[str]) -> int:
    fused = 0
    consts = rw.constants(graph, ir_version)
    outputs = {o.name for o in graph.output}
    users = gu.consumers(graph)
    nodes = list(graph.node)
    dropped: set[int] = set()
    for conv in nodes:
        params = _conv_params(conv, consts) if id(conv) not in dropped else None
        while params is not None:
            nxt = rw.sole_reader(graph, users, conv.output[0], outputs)
            if nxt is None or id(nxt) in dropped or nxt is conv or len(nxt.output) < 1:
                break
            got = _fuse_one(conv, nxt, params[0], params[1], consts, opset)
            if got is None:
                break
            w, b = got
            if not np.isfinite(b).all() or (w is not None and not np.isfinite(w).all()):
                break
            stem = nxt.output[0]
            if w is not None:
                w = w.astype(params[0].dtype)
                conv.input[1] = rw.add_constant(graph, w, f"{stem}_fused_weight", taken)
            b = b.astype(params[0].dtype)
            b_name = rw.add_constant(graph, b, f"{stem}_fused_bias", taken)
            if len(conv.input) > 2:
                conv.input[2] = b_name
            else:
                conv.input.append(b_name)
            conv.output[0] = stem  # the fused op's output name (maybe a graph output) stays
            dropped.add(id(nxt))
            fused += 1
            params = (params[0] if w is None else w, b)
    rw.drop(graph, dropped, nodes)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            fused += fuse_graph(sub, ir_version, opset, taken)
    return fused


def fuse_model(model: onnx.ModelProto) -> int:
    total = 0
    taken = rw.all_names(model)
    while True:
        n = fuse_graph(model.graph, model.ir_version, rw.opset(model), taken)
        total += n
        if not n:
            return total


def run(model: onnx.ModelProto) -> PassResult:
    n = fuse_model(model)
    if n:
        gu.prune(model.graph)
    return PassResult(model, [f"{n} BatchNormalization/Mul/Add node(s) folded into Conv weights"], modified=bool(n))


FUSE_CONV = Pass(name="fuse-conv", description="fold BatchNormalization and per-channel Mul/Add after a Conv into "
                 "its weights and bias", run=run)
