"""What is in a serialized engine, and how two engines differ.

``describe``: TensorRT module and version, the GPU it was built for, I/O, profiles, layers (type, precision, the ONNX
nodes each fused) and sizes. From the engine inspector where the engine deserializes here; otherwise from trtlab's
``model.engine.json`` sidecar (labelled ``source: sidecar``: the parsed network's layers, before fusion). An engine
whose sidecar names another TensorRT version is refused with both versions named (engines are not portable).

``diff``: layers added/removed, ONNX nodes fused differently, precision changes, per-layer time changes (where both
carry per-layer times), and provenance differences (module, version, options, GPU).
"""

from __future__ import annotations

from pathlib import Path

from trtlab.errors import TrtlabError

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def onnx_nodes(metadata: str | None) -> list[str]:
    """ONNX node names from a layer's metadata (``[ONNX Layer: name]``, one per fused node)."""
    from trtlab.trt.layers import ONNX_LAYER

    return ONNX_LAYER.findall(metadata or "")


def is_engine_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def describe(path: str | Path, module: str | None = None) -> dict:
    """A summary of the engine at ``path`` (see the module docstring)."""
    from trtlab.trt import provenance

    path = Path(path)
    if not path.is_file():
        raise TrtlabError(path, "no such engine file", "pass a .engine/.plan written by `trtlab build`")
    data = path.read_bytes()
    prov = provenance.read(path)
    trt, why_not = _module(module)
    if trt is not None and prov is not None:
        provenance.verify(prov, data, trt, None)  # another version (or a stale sidecar): refused, versions named
    info = _from_inspector(trt, data) if trt is not None else None
    sidecar = provenance.path_for(path).name
    if info is None and prov is None:
        damaged = _damaged(data)
        if damaged:  # a bad file, whatever is installed: bad input
            raise TrtlabError(path, f"not a whole TensorRT engine: {damaged}",
                              "rebuild it with `trtlab build`, or copy it again")
        raise TrtlabError(path, f"the engine cannot be loaded here and has no {sidecar} sidecar"
                          + (f" ({why_not})" if why_not else ""),
                          "inspect it where it was built, or rebuild it with `trtlab build` (writes the sidecar)",
                          code=3)
    out = {"engine": {"path": str(path), "bytes": len(data), "sha256": provenance.sha256_bytes(data)},
           "installed": trt.summary() if trt is not None else None}
    if info is not None:
        out.update(info)
        out["source"] = "engine_inspector"
    else:
        out.update(_from_sidecar(prov))
        out["source"] = "sidecar"
        out["source_note"] = (f"from {sidecar} (written at build time); layers are the parsed network's, "
                              "before fusion: the engine inspector needs the engine loaded on a GPU"
                              + (f" ({why_not})" if why_not else ""))
    if prov is not None:
        out["provenance"] = {k: prov.get(k) for k in ("module", "gpu", "options", "built_at", "onnx", "build_s",
                                                       "debug_tensors", "half_fraction")}
        out.setdefault("built_with", prov.get("module"))
        out.setdefault("gpu", prov.get("gpu"))
    return out


def _damaged(data: bytes) -> str | None:
    """Why ``data`` cannot be a serialized engine, or None. A plan starts with a 4-byte tag ending in ``trt``
    (``vtrt`` for TensorRT-RTX, ``ftrt`` for TensorRT) and, at offset 16, its own length (little-endian u64)."""
    if len(data) < 24:
        return f"{len(data)} bytes, too short for an engine header"
    if data[1:4] != b"trt":
        return "no TensorRT engine header (the file does not start with a ?trt tag)"
    declared = int.from_bytes(data[16:24], "little")
    if data[:4] == b"vtrt" and declared != len(data):
        return f"the header says {declared} bytes, the file has {len(data)} (truncated or damaged)"
    return None


def _module(name: str | None):
    from trtlab.trt.module import load

    try:
        return load(name), None
    except TrtlabError as exc:
        return None, exc.problem


def _from_inspector(trt, data: bytes) -> dict | None:
    """Engine-inspector facts, or None when the engine cannot be deserialized here (no GPU runtime)."""
    from trtlab.trt.layers import engine_layers
    from trtlab.trt.module import CapturingLogger

    try:
        runtime = trt.mod.Runtime(CapturingLogger.create(trt))
        engine = runtime.deserialize_cuda_engine(data)
    except Exception:  # no CUDA driver: the runtime itself may refuse to start
        return None
    if engine is None:
        return None
    info = engine_layers(engine, trt) or {}
    io = [_io_tensor(engine, engine.get_tensor_name(i)) for i in range(engine.num_io_tensors)]
    weights = getattr(engine, "streamable_weights_size", None)
    device_memory = getattr(engine, "device_memory_size_v2", None) or getattr(engine, "device_memory_size", None)
    return {"built_with": trt.summary(), "io": io, "profiles": engine.num_optimization_profiles,
            "layers": inspector_layers(info), "weights_bytes": weights, "device_memory_bytes": device_memory}


def _io_tensor(engine, name: str) -> dict:
    mode = engine.get_tensor_mode(name)
    return {"name": name, "mode": str(mode).rsplit(".", 1)[-1].lower(),
            "dtype": str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1],
            "shape": list(engine.get_tensor_shape(name))}


def inspector_layers(info: dict) -> list[dict]:
    """Engine-inspector JSON (DETAILED) to [{name, type, precision, onnx_nodes, tactic}]."""
    out = []
    for layer in info.get("Layers", []):
        if isinstance(layer, str):
            out.append({"name": layer, "type": None, "precision": None, "onnx_nodes": []})
            continue
        outputs = layer.get("Outputs") or [{}]
        out.append({"name": layer.get("Name"), "type": layer.get("LayerType"),
                    "precision": outputs[0].get("Format/Datatype"), "onnx_nodes": onnx_nodes(layer.get("Metadata")),
                    "tactic": layer.get("TacticName") or layer.get("TacticValue")})
    return out


def _from_sidecar(prov: dict) -> dict:
    layers = prov.get("layers") or {}
    items = [{"name": x.get("name"), "type": x.get("type"), "precision": x.get("precision") or x.get("dtype"),
              "onnx_nodes": x.get("onnx_nodes") or [], "tactic": x.get("tactic")} for x in layers.get("items", [])]
    bindings = prov.get("bindings") or {}
    io = [{**t, "mode": kind[:-1]} for kind in ("inputs", "outputs") for t in bindings.get(kind, [])]
    return {"built_with": prov.get("module"), "gpu": prov.get("gpu"), "io": io,
            "profiles": len(prov.get("profiles") or []) or 1, "profile_shapes": prov.get("profiles"),
            "layers": items, "layers_source": layers.get("source"), "weights_bytes": prov.get("onnx_weights_bytes")}


def diff(a: dict, b: dict) -> dict:
    """Differences between two ``describe`` results (``a`` the baseline)."""
    la, lb = {x["name"]: x for x in a["layers"]}, {x["name"]: x for x in b["layers"]}
    added = [n for n in lb if n not in la]
    removed = [n for n in la if n not in lb]
    precision = [{"layer": n, "a": la[n]["precision"], "b": lb[n]["precision"]} for n in la
                 if n in lb and la[n]["precision"] != lb[n]["precision"]]
    group_a, group_b = _groups(a["layers"]), _groups(b["layers"])
    fused = [{"onnx_node": node, "a": group_a[node], "b": group_b[node]} for node in group_a
             if node in group_b and sorted(group_a[node]) != sorted(group_b[node])]
    times = _time_changes(a, b)
    prov = _provenance_changes(a, b)
    return {"layers": {"a": len(la), "b": len(lb)}, "added": added, "removed": removed, "fused_differently": fused,
            "precision_changes": precision, "time_changes": times, "provenance_changes": prov,
            "sources": {"a": a["source"], "b": b["source"]},
            "identical": not (added or removed or fused or precision or prov)
            and a["engine"]["sha256"] == b["engine"]["sha256"]}


def _groups(layers: list[dict]) -> dict[str, list[str]]:
    """ONNX node -> the ONNX nodes fused with it into one layer (itself included)."""
    out: dict[str, list[str]] = {}
    for layer in layers:
        for node in layer.get("onnx_nodes") or []:
            out[node] = list(layer["onnx_nodes"])
    return out


def _time_changes(a: dict, b: dict) -> list[dict] | None:
    ta, tb = a.get("layer_times_ms"), b.get("layer_times_ms")
    if not ta or not tb:
        return None
    return [{"layer": n, "a_ms": ta[n], "b_ms": tb[n], "ratio": round(tb[n] / ta[n], 3) if ta[n] else None}
            for n in ta if n in tb]


def _provenance_changes(a: dict, b: dict) -> list[dict]:
    flat_a, flat_b = _flat(a), _flat(b)
    return [{"field": k, "a": flat_a.get(k), "b": flat_b.get(k)} for k in dict.fromkeys([*flat_a, *flat_b])
            if flat_a.get(k) != flat_b.get(k)]


def _flat(d: dict) -> dict:
    prov = d.get("provenance") or {}
    out = {"module": (d.get("built_with") or {}).get("name"), "version": (d.get("built_with") or {}).get("version"),
           "gpu": (d.get("gpu") or {}).get("name") if d.get("gpu") else None,
           "compute_capability": (d.get("gpu") or {}).get("compute_capability") if d.get("gpu") else None,
           "onnx_sha256": (prov.get("onnx") or {}).get("sha256")}
    for k, v in (prov.get("options") or {}).items():
        out[f"option {k}"] = v
    return out
