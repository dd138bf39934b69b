"""Layers: the network's (before fusion) and the engine's (after fusion, from the engine inspector).

Layer-wise comparison marks tensors as extra engine outputs. Marking a tensor stops TensorRT from fusing across it,
so by default only tensors that survive fusion are marked: the engine's layer outputs that also exist in the ONNX
graph. The engine under test is then the engine that ships. ``--mark all`` marks every tensor (fusions disabled).
"""

from __future__ import annotations

import json


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
        out.append({"name": layer.name, "type": str(layer.type).rsplit(".", 1)[-1],
                    "outputs": [layer.get_output(j).name for j in range(layer.num_outputs)]})
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
