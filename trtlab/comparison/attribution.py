"""Error attribution: how much of a layer's error the node introduces itself, and how much it inherits.

For each selected layer (the first divergence and the worst failing layers) a one-node model is built: the node,
its constant inputs as initializers, its activation inputs as graph inputs typed like the reference's values.
It runs on a fresh target backend fed with the reference's values of its inputs (sample 0), and its output is
compared with the reference's output: that error is what the node *introduces*; the rest of its total error
(measured in the full comparison) it *inherits* from the layers before it.

Memory stays bounded: after the streaming comparison the reference runs once more on sample 0 and keeps only the
inputs and outputs of the selected nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from trtlab import backends, weights
from trtlab.backends import BackendSpec
from trtlab.comparators import Tolerances, compare_arrays
from trtlab.comparators.metrics import error_of
from trtlab.errors import TrtlabError
from trtlab.model import subgraphs

DEFAULT_TOP = 10
INTRODUCES_SHARE = 0.5  # a node whose own error is at least this share of its total error introduces it


@dataclass
class Selected:
    tensor: str
    node: onnx.NodeProto
    name: str
    op: str


def select(model: onnx.ModelProto, result, top: int) -> tuple[list[Selected], list[dict]]:
    """The first divergence plus the ``top`` worst failing layers whose node can run alone; and the skipped ones."""
    from trtlab.comparison.run import _badness

    layers = result.layers or []
    failing = sorted((m for m in layers if not m.passed), key=_badness, reverse=True)[:top]
    names = list(dict.fromkeys(([result.first_divergence["tensor"]] if result.first_divergence else [])
                               + [m.name for m in failing]))
    producer = {o: (i, n) for i, n in enumerate(model.graph.node) for o in n.output if o}
    available = ({m.name for m in layers} | {vi.name for vi in model.graph.input}
                 | {t.name for t in model.graph.initializer})
    chosen, skipped = [], []
    for tensor in names:
        i, node = producer[tensor]
        label = node.name or f"{node.op_type}_{i}"
        why = _cannot_isolate(node, available)
        if why:
            skipped.append({"tensor": tensor, "node": label, "op": node.op_type, "reason": why})
        else:
            chosen.append(Selected(tensor, node, label, node.op_type))
    return chosen, skipped


def _cannot_isolate(node: onnx.NodeProto, available: set[str]) -> str | None:
    if any(True for _ in subgraphs(node)):
        return f"{node.op_type} has subgraph bodies: it cannot run as a one-node model"
    missing = [n for n in node.input if n and n not in available]
    if missing:
        return f"input(s) {', '.join(missing)} were not compared (not exposed by both sides)"
    return None


def collect_reference(model: onnx.ModelProto, ref_spec: BackendSpec, feeds: dict, chosen: list[Selected]) -> dict:
    """Re-run the reference on one sample and keep only the selected nodes' activation inputs and outputs."""
    inits = {t.name for t in model.graph.initializer}
    needed = list(dict.fromkeys(n for s in chosen for n in [*s.node.input, *s.node.output]
                                if n and n not in inits and n not in feeds))
    with backends.create(ref_spec) as ref:
        ref.load(model, needed)
        values = ref.run(feeds)
    keep = set(needed) | {n for s in chosen for n in s.node.output}
    values = {k: v for k, v in values.items() if k in keep}
    values.update({k: v for k, v in feeds.items() if any(k in s.node.input for s in chosen)})
    return values


def one_node_model(model: onnx.ModelProto, node: onnx.NodeProto, values: dict[str, np.ndarray]) -> onnx.ModelProto:
    """``node`` alone: constant inputs as initializers (shared weights put back), the rest as typed graph inputs."""
    inits = {t.name: t for t in model.graph.initializer}
    shared = weights.shared_arrays(model)
    graph = onnx.GraphProto(name=f"attribute_{node.name or node.op_type}")
    graph.node.append(node)
    for name in dict.fromkeys(n for n in node.input if n):
        if name in inits and name not in values:
            graph.initializer.append(numpy_helper.from_array(shared[name], name) if name in shared
                                     else inits[name])
        else:
            arr = values[name]
            elem = onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
            graph.input.append(onnx.helper.make_tensor_value_info(name, elem, list(arr.shape)))
    graph.output.extend(onnx.ValueInfoProto(name=o) for o in node.output if o)
    single = onnx.helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    single.functions.extend(model.functions)
    return single


def attribute(model: onnx.ModelProto, ref_spec: BackendSpec, target_spec: BackendSpec, feeds: dict, result,
              tolerances: Tolerances, top: int = DEFAULT_TOP) -> tuple[list[dict], list[dict]]:
    """Run the selected nodes alone on the target; set ``introduced_*`` on the layer metrics. Returns the
    attribution entries (in topological order) and the skipped layers with their reasons."""
    chosen, skipped = select(model, result, top)
    if not chosen:
        return [], skipped
    values = collect_reference(model, ref_spec, feeds, chosen)
    metrics = {m.name: m for m in result.layers or []}
    entries = []
    for sel in chosen:
        missing = [n for n in [*sel.node.input, sel.tensor] if n and n not in values
                   and n not in {t.name for t in model.graph.initializer}]
        if missing:
            skipped.append(_skip(sel, f"the reference did not return {', '.join(missing)}"))
            continue
        try:
            out = _run_alone(model, sel, target_spec, values)
        except TrtlabError as exc:
            skipped.append(_skip(sel, f"the target cannot run it alone: {exc.problem}"))
            continue
        for tensor in (o for o in sel.node.output if o in out and o in values and o in metrics):
            atol, rtol = tolerances.for_tensor(tensor)
            own = compare_arrays(tensor, values[tensor], out[tensor], atol, rtol)
            total = metrics[tensor]
            own_err, total_err = error_of(own), error_of(total)  # inf where NaN/Inf differ: never "0"
            total.introduced_max_abs, total.introduced_cosine = own_err, own.cosine
            entries.append({"tensor": tensor, "node": sel.name, "op": sel.op, "introduced": own_err,
                            "introduced_cosine": own.cosine, "introduced_passed": own.passed,
                            "total": total_err, "inherited": _inherited(total_err, own_err),
                            "verdict": verdict(own_err, total_err, own.passed)})
    del values
    order = {o: i for i, n in enumerate(model.graph.node) for o in n.output}
    entries.sort(key=lambda e: order.get(e["tensor"], 0))
    return entries, skipped


def _run_alone(model, sel: Selected, target_spec: BackendSpec, values: dict) -> dict[str, np.ndarray]:
    single = one_node_model(model, sel.node, values)
    feeds = {vi.name: values[vi.name] for vi in single.graph.input}
    with backends.create(target_spec) as target:
        target.load(single, None)
        return target.run(feeds)


def _skip(sel: Selected, reason: str) -> dict:
    return {"tensor": sel.tensor, "node": sel.name, "op": sel.op, "reason": reason}


def verdict(introduced, total, own_passed: bool) -> str:
    """``introduces`` when the node alone is out of tolerance, or carries most of the total error itself."""
    own = _num(introduced)
    tot = _num(total)
    if not own_passed or (tot and own >= INTRODUCES_SHARE * tot) or (np.isinf(own) and own > 0):
        return "introduces"
    return "inherits"


def _inherited(total, own) -> float | None:
    if total is None or own is None:
        return None
    return max(_num(total) - _num(own), 0.0) if np.isfinite(_num(own)) else 0.0


def _num(x) -> float:
    if x is None:
        return 0.0
    return float(x) if not np.isnan(float(x)) else float("inf")
