"""Layers: the network's (before fusion) and the engine's (after fusion, from the engine inspector).

Layer-wise comparison marks tensors as extra engine outputs. Marking a tensor stops TensorRT from fusing across it,
so by default only tensors that survive fusion are marked: the engine's layer outputs that also exist in the ONNX
graph. The engine under test is then the engine that ships. ``--mark all`` marks every tensor (fusions disabled).

Debug tensors (TensorRT 10.12+, TensorRT for RTX): ``mark_unfused_tensors_as_debug_tensors()`` asks the builder to
keep every tensor that survives fusion readable at run time through an ``IDebugListener``, without adding outputs
and without preventing any fusion (``mark_debug`` on a named tensor, by contrast, does constrain fusion). Which
tensors survived is known from the engine (``ICudaEngine.is_debug_tensor``), i.e. where it deserializes.
"""

from __future__ import annotations

import json
import re

ONNX_LAYER = re.compile(r"\[ONNX Layer: ([^\]]+)\]")  # the ONNX parser's layer metadata, one per ONNX node


def network_tensors(network) -> dict:
    """Every tensor produced by a layer of the network, by name."""
    tensors = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            t = layer.get_output(j)
            if t is not None:
                tensors.setdefault(t.name, t)
    return tensors


def network_layers(network) -> list[dict]:
    """The parsed network's layers (before fusion): name, type, output tensor names."""
    out = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        outs = [layer.get_output(j) for j in range(layer.num_outputs)]
        out.append({"name": layer.name, "type": str(layer.type).rsplit(".", 1)[-1],
                    "outputs": [t.name for t in outs],
                    "dtype": str(outs[0].dtype).rsplit(".", 1)[-1] if outs and outs[0] is not None else None,
                    "onnx_nodes": ONNX_LAYER.findall(getattr(layer, "metadata", "") or "")})
    return out


def mark_outputs(network, names: list[str], mark_all: bool = False) -> list[str]:
    """Mark ``names`` (or, with ``mark_all``, every execution tensor) as network outputs; return those marked."""
    tensors = network_tensors(network)
    existing = {network.get_output(i).name for i in range(network.num_outputs)}
    wanted = list(tensors) if mark_all else names
    marked = []
    for name in wanted:
        t = tensors.get(name)
        if t is None or name in existing or t.is_shape_tensor or not t.is_execution_tensor:
            continue
        network.mark_output(t)
        existing.add(name)
        marked.append(name)
    return marked


def mark_debug_unfused(trt, network, onnx_model) -> dict:
    """Mark the network's unfused tensors as debug tensors; return what provenance records: the mode and the
    candidate tensors (those the builder may keep), each with its ONNX tensor name (the ONNX parser names network
    tensors after the ONNX tensors they come from; None for tensors TensorRT made itself)."""
    from trtlab.errors import TrtlabError, UnavailableError

    if not hasattr(network, "mark_unfused_tensors_as_debug_tensors"):
        raise UnavailableError("debug tensors", f"{trt.name} {trt.version} has no "
                               "INetworkDefinition.mark_unfused_tensors_as_debug_tensors (TensorRT 10.12+ or "
                               "TensorRT for RTX)", "use mark=fused (surviving tensors as outputs) or upgrade")
    if network.mark_unfused_tensors_as_debug_tensors() is False:
        raise TrtlabError("debug tensors", f"{trt.name} refused to mark the unfused tensors as debug tensors",
                          "use mark=fused (surviving tensors as outputs)")
    onnx_names = {o for n in onnx_model.graph.node for o in n.output if o}
    outputs = {network.get_output(i).name for i in range(network.num_outputs)}
    candidates = [{"tensor": name, "onnx": name if name in onnx_names else None}
                  for name, t in network_tensors(network).items()
                  if name not in outputs and t.is_execution_tensor and not t.is_shape_tensor]
    return {"mode": "unfused", "candidates": candidates,
            "survivors": None,  # known from the engine where it loads (engine_debug_tensors)
            "note": "the builder keeps those of the candidates that survive fusion; the engine knows which"}


def engine_debug_tensors(engine, names: list[str]) -> list[str]:
    """Of ``names``, the engine's debug tensors (those that survived fusion and can be read by a listener)."""
    return [n for n in names if engine.is_debug_tensor(n)]


def engine_layers(engine, trt) -> dict | None:
    """The engine inspector's JSON layer information, or None when the module has no inspector."""
    if not hasattr(engine, "create_engine_inspector"):
        return None
    inspector = engine.create_engine_inspector()
    text = inspector.get_engine_information(trt.mod.LayerInformationFormat.JSON)
    return json.loads(text)


def summarize(info: dict | None) -> list[dict]:
    """Normalise inspector JSON (DETAILED or LAYER_NAMES_ONLY) to [{name, type, inputs, outputs, tactic}]."""
    out = []
    for layer in (info or {}).get("Layers", []):
        if isinstance(layer, str):
            out.append({"name": layer, "type": None, "inputs": [], "outputs": []})
            continue
        out.append({"name": layer.get("Name"), "type": layer.get("LayerType"),
                    "inputs": [t.get("Name") for t in layer.get("Inputs", [])],
                    "outputs": [t.get("Name") for t in layer.get("Outputs", [])],
                    "tactic": layer.get("TacticName") or layer.get("TacticValue")})
    return out


def surviving_tensors(layers: list[dict], onnx_tensors: list[str]) -> list[str]:
    """ONNX tensors (in ONNX order) that are an engine layer's output, i.e. that survived fusion."""
    produced = {name for layer in layers for name in layer["outputs"] if name}
    return [name for name in onnx_tensors if name in produced]
