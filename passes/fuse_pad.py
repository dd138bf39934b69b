"""fuse-pad: merge a zero Pad into the Conv that reads it.

Rewrite (each graph and body): ``Conv(Pad(x, pads), W, b)`` -> ``Conv(x, W, b)`` with the Pad's spatial pads
added to the Conv's ``pads`` attribute.

Conditions, all required: the Pad is a standard-domain ``Pad`` in ``constant`` mode; its pads (attribute before
opset 11, else a constant input) are non-negative, zero on the batch and channel axes and cover every axis of the
Conv's input (rank = the rank of the Conv's constant weight); its padding value is absent or a constant +0 (``-0``
and anything else are refused); it has no ``axes`` input (opset 18). The Pad's output has exactly one reader, that
Conv, as its data input (never as weight or bias), and is not a graph output. The Conv is a standard-domain
``Conv`` with ``auto_pad`` NOTSET. Zero padding done by the Pad or by the Conv is the same computation.

Pooling is not merged: MaxPool pads with -inf (not 0), and AveragePool only matches with ``count_include_pad=1``
and pads below the kernel size; none of the shared models has either after a Pad.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto
from trtlab.passes import graphutil as gu
from trtlab.passes import rewrite as rw
from trtlab.passes.base import Pass, PassResult


def pad_amounts(pad: NodeProto, consts: dict, opset: int) -> list[int] | None:
    """The pads of a zero, constant-mode Pad, or None when the Pad is anything else."""
    if pad.op_type != "Pad" or pad.domain not in ("", "ai.onnx"):
        return None
    mode = rw.attr(pad, "mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
        return None
    if opset < 11:
        pads, value = rw.attr(pad, "pads", rw.attr(pad, "paddings")), float(rw.attr(pad, "value", 0.0))
    else:
        if len(pad.input) < 2 or pad.input[1] not in consts or (len(pad.input) > 3 and pad.input[3]):
            return None
        pads = rw.array(consts[pad.input[1]])
        value = 0.0
        if len(pad.input) > 2 and pad.input[2]:
            v = rw.array(consts[pad.input[2]]) if pad.input[2] in consts else None
            if v is None or v.size != 1:
                return None
            value = v.reshape(-1)[0].item()
    if pads is None or value != 0 or np.signbit(value):
        return None
    return [int(p) for p in np.asarray(pads).reshape(-1)]


def _merged_pads(conv: NodeProto, pads: list[int], rank: int) -> list[int] | None:
    k = rank - 2
    auto = rw.attr(conv, "auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) != "NOTSET" or len(pads) != 2 * rank:
        return None
    if any(p < 0 for p in pads) or pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
        return None
    old = list(rw.attr(conv, "pads", [0] * (2 * k)))
    if len(old) != 2 * k:
        return None
    begin, end = pads[2:rank], pads[rank + 2:]
    return [old[i] + begin[i] for i in range(k)] + [old[k + i] + end[i] for i in range(k)]


def fuse_graph(graph: GraphProto, ir_version: int, opset: int) -> int:
    fused = 0
    consts = rw.constants(graph, ir_version)
    outputs = {o.name for o in graph.output}
    users = gu.consumers(graph)
    nodes = list(graph.node)
    dropped: set[int] = set()
    for pad in nodes:
        pads = pad_amounts(pad, consts, opset)
        conv = rw.sole_reader(graph, users, pad.output[0], outputs) if pads is not None else None
        if conv is None or conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or id(conv) in dropped:
            continue
        if len(conv.input) < 2 or conv.input[0] != pad.output[0] or pad.output[0] in conv.input[1:]:
            continue
        w = consts.get(conv.input[1])
        merged = _merged_pads(conv, pads, len(w.dims)) if w is not None else None
        if merged is None:
            continue
        rw.set_ints(conv, "pads", merged)
        conv.input[0] = pad.input[0]
        dropped.add(id(pad))
        fused += 1
    rw.drop(graph, dropped, nodes)
    for node in graph.node:
        for sub in gu.subgraphs(node):
            fused += fuse_graph(sub, ir_version, opset)
    return fused


def fuse_model(model: onnx.ModelProto) -> int:
    return fuse_graph(model.graph, model.ir_version, rw.opset(model))


def run(model: onnx.ModelProto) -> PassResult:
    n = fuse_model(model)
    return PassResult(model, [f"{n} Pad node(s) merged into Conv pads"], modified=bool(n))


FUSE_PAD = Pass(name="fuse-pad", description="merge zero constant-mode Pads into the pads of the Conv that reads them",
                run=run)
