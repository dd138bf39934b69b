"""A summary of an ONNX model: I/O, opsets, op counts (subgraphs included), weights, dynamic dims, custom ops."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import onnx

from trtlab.inputs import dims_of, input_specs
from trtlab.model import ONNX_DOMAINS, LoadedModel, walk_graphs, walk_nodes
from trtlab.results import Result


def _tensor_bytes(t: onnx.TensorProto) -> int:
    if t.data_location == onnx.TensorProto.EXTERNAL:
        for e in t.external_data:
            if e.key == "length":
                return int(e.value)
    if t.raw_data:
        return len(t.raw_data)
    n = 1
    for d in t.dims:
        n *= d
    try:
        item = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:
        item = 1
    return n * item


def _io(vi: onnx.ValueInfoProto) -> dict:
    t = vi.type
    if t.HasField("tensor_type"):
        dtype = onnx.TensorProto.DataType.Name(t.tensor_type.elem_type).lower()
        shape = dims_of(t)
    else:
        dtype, shape = t.WhichOneof("value") or "unknown", None
    return {"name": vi.name, "dtype": dtype, "shape": shape}


def summarize(model: LoadedModel) -> dict:
    proto = model.proto
    graph = proto.graph
    ops: Counter = Counter()
    nested_ops: Counter = Counter()
    custom: Counter = Counter()
    for node, depth in walk_nodes(graph):
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        ops[key] += 1
        if depth:
            nested_ops[key] += 1
        if node.domain not in ONNX_DOMAINS:
            custom[key] += 1
    init_count = init_bytes = ext_bytes = 0
    for g in walk_graphs(graph):
        for t in g.initializer:
            init_count += 1
            size = _tensor_bytes(t)
            init_bytes += size
            if t.data_location == onnx.TensorProto.EXTERNAL:
                ext_bytes += size
    const_count = const_bytes = 0
    for node, _ in walk_nodes(graph):
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    const_count += 1
                    const_bytes += _tensor_bytes(attr.t)
    inputs = [_io(vi) for vi in graph.input if vi.name in {s.name for s in input_specs(graph)}]
    outputs = [_io(vi) for vi in graph.output]
    dynamic = [{"tensor": io["name"], "axis": i, "dim": d}
               for io in inputs + outputs if io["shape"] for i, d in enumerate(io["shape"])
               if not isinstance(d, int)]
    imported = {o.domain or "ai.onnx" for o in proto.opset_import}
    used_domains = {(n.domain or "ai.onnx") for n, _ in walk_nodes(graph)}
    return {
        "schema": "trtlab.inspect/1",
        "model": str(model.path) if model.path else model.name,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "ir_version": proto.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in proto.opset_import},
        "domains_without_opset_import": sorted(used_domains - imported),
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_dims": dynamic,
        "nodes": sum(ops.values()),
        "nodes_in_subgraphs": sum(nested_ops.values()),
        "op_counts": dict(ops.most_common()),
        "op_counts_in_subgraphs": dict(nested_ops.most_common()),
        "custom_ops": dict(custom.most_common()),
        "functions": [f"{f.domain}::{f.name}" for f in proto.functions],
        "initializers": {"count": init_count, "bytes": init_bytes, "external_bytes": ext_bytes},
        "constant_nodes": {"count": const_count, "bytes": const_bytes},
        "warnings": list(model.warnings) + shape_inference_warnings(proto),
    }


def shape_inference_warnings(proto: onnx.ModelProto) -> list[str]:
    """What strict ONNX shape inference says is wrong (declared shapes that disagree, ops whose inputs do not
    fit), as warnings: onnxruntime and TensorRT may still accept the model, but shapes there are suspect."""
    from trtlab.passes.graphutil import inference_skeleton

    skel = inference_skeleton(proto, declared_shapes=True)
    try:
        onnx.shape_inference.infer_shapes(skel, strict_mode=True, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - any inference error is the finding
        text = " ".join(str(exc).split())
        return [f"shape inference fails (strict): {text[:300]}"]
    return []


@dataclass
class InspectResult(Result):
    """``trtlab inspect``'s summary (schema "trtlab.inspect/1"); the fields are the keys of ``summarize``."""

    schema: str
    model: str
    producer: str
    ir_version: int
    opsets: dict
    domains_without_opset_import: list[str]
    inputs: list[dict]
    outputs: list[dict]
    dynamic_dims: list[dict]
    nodes: int
    nodes_in_subgraphs: int
    op_counts: dict
    op_counts_in_subgraphs: dict
    custom_ops: dict
    functions: list[str]
    initializers: dict
    constant_nodes: dict
    warnings: list[str]

    @property
    def passed(self) -> bool:
        """Inspect has no verdict: True once the model loaded and was summarised."""
        return True


def inspect_model(model: LoadedModel) -> InspectResult:
    """The summary of ``model`` as an InspectResult."""
    return InspectResult(**summarize(model))
