"""Layer-wise results as node data for Google's Model Explorer (``pip install ai-edge-model-explorer``).

One JSON file per metric, in Model Explorer's ``GraphNodeData`` format: ``results`` keyed by ONNX node name (a node
with several outputs shows its worst one) and a colour ``gradient`` from good (green) to bad (red). Open with
``model-explorer MODEL.onnx --node_data_paths=me_max_abs.json,...``.

Metrics: ``max_abs``, ``max_rel``, ``cosine`` (shown as 1 - cosine, so larger is worse everywhere),
``introduced`` (the error a node introduces on its own, from ``--attribute``; only the nodes it examined) and
``first_divergence`` (1 at the first out-of-tolerance node, 0 at the nodes compared before it).
"""

from __future__ import annotations

import math
from pathlib import Path

GRADIENT = [{"stop": 0.0, "bgColor": "#1a9850"}, {"stop": 0.5, "bgColor": "#fee08b"},
            {"stop": 1.0, "bgColor": "#d73027"}]
FILES = {"max_abs": "me_max_abs.json", "max_rel": "me_max_rel.json", "cosine": "me_one_minus_cosine.json",
         "introduced": "me_introduced.json", "first_divergence": "me_first_divergence.json"}


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None  # NaN/Inf (strings in results.json) cannot be coloured; the node stays uncoloured
    return float(value)


def _worst_by_node(layers: list[dict], value_of) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in layers:
        node, value = m.get("node"), value_of(m)
        if node and value is not None:
            out[node] = max(out.get(node, value), value)
    return out


def metric_tables(res: dict) -> dict[str, dict[str, float]]:
    """{metric: {ONNX node name: value}} from a compare results dict (layer-wise)."""
    layers = (res.get("layers") or []) + (res.get("outputs") or [])
    tables = {
        "max_abs": _worst_by_node(layers, lambda m: _num(m.get("max_abs"))),
        "max_rel": _worst_by_node(layers, lambda m: _num(m.get("max_rel"))),
        "cosine": _worst_by_node(layers, lambda m: None if _num(m.get("cosine")) is None else 1.0 - m["cosine"]),
    }
    introduced = {e["node"]: v for e in res.get("attribution") or [] if (v := _num(e.get("introduced"))) is not None}
    if introduced:
        tables["introduced"] = introduced
    first = res.get("first_divergence")
    if first and res.get("layers"):
        before, flags = True, {}
        for m in res["layers"]:
            if m.get("node") == first.get("node"):
                flags[m["node"]] = 1.0
                before = False
            elif before and m.get("node"):
                flags.setdefault(m["node"], 0.0)
        tables["first_divergence"] = flags
    return tables


def graph_node_data(values: dict[str, float], name: str) -> dict:
    """One GraphNodeData JSON object; gradient stops are spread over the values' range."""
    finite = list(values.values())
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (hi - lo) or 1.0
    return {"name": name, "results": {node: {"value": v} for node, v in values.items()},
            "gradient": [{"stop": lo + g["stop"] * span, "bgColor": g["bgColor"]} for g in GRADIENT]}


def write(run_dir: Path, res: dict) -> dict[str, str]:
    """Write one node-data file per metric into ``run_dir``; return {metric: file name}."""
    from trtlab.rundir import atomic_write_json

    written = {}
    for metric, values in metric_tables(res).items():
        if not values:
            continue
        atomic_write_json(Path(run_dir) / FILES[metric], graph_node_data(values, f"trtlab {metric}"))
        written[metric] = FILES[metric]
    return written


def open_command(model_path: str, files: list[str], run_dir: Path | None) -> str:
    paths = ",".join(str(Path(run_dir) / f) if run_dir is not None else f for f in files)
    return f"model-explorer {model_path} --node_data_paths={paths}"
