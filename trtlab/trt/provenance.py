"""``model.engine.json``: what an engine was built from, with what, for what.

Engines are not portable across TensorRT versions (nor, unless built hardware-compatible, across GPU
architectures). Loading an engine checks its provenance against the installed module and the GPU, and refuses a
mismatch with the reason.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path

from trtlab.errors import TrtlabError, UnavailableError

SCHEMA = "trtlab.engine/1"


def path_for(engine_path: str | Path) -> Path:
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make(trt, model, built, opts, engine_path: Path, gpu: dict | None, layers: dict) -> dict:
    from trtlab.model import model_sha256

    return {
        "schema": SCHEMA,
        "module": trt.summary(),
        "engine": {"file": Path(engine_path).name, "bytes": len(built.engine), "sha256": sha256_bytes(built.engine)},
        "onnx": {"path": str(model.path) if model.path else None, "sha256": model_sha256(model),
                 "name": model.name},
        "onnx_weights_bytes": sum(len(t.raw_data) for t in model.proto.graph.initializer),
        "built_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_s": round(built.build_s, 4),
        "gpu": gpu,  # None: built without a GPU (TensorRT for RTX builds on any machine)
        "options": opts.to_json(),
        "profiles": [p.to_json() for p in opts.profiles],
        "bindings": {"inputs": built.inputs, "outputs": built.outputs},
        "marked": built.marked,
        "debug_tensors": getattr(built, "debug", None) or None,
        "layers": layers,
        "notes": built.notes,
        "half_fraction": getattr(built, "half_fraction", None),
    }


def read(engine_path: str | Path) -> dict | None:
    p = path_for(engine_path)
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtlabError(p, f"provenance file is not valid JSON ({exc})",
                          "rebuild the engine with `trtlab build`") from None
    if data.get("schema") != SCHEMA:
        raise TrtlabError(p, f"not a trtlab engine provenance (schema {data.get('schema')!r})",
                          "rebuild the engine with `trtlab build`")
    return data


def verify(prov: dict | None, engine_bytes: bytes, trt, gpu: dict | None) -> list[str]:
    """Refuse an engine that cannot run with this module on this GPU; return warnings for what cannot be checked."""
    if prov is None:
        return ["no provenance file beside the engine: cannot check which TensorRT built it"]
    warnings = []
    if prov["engine"].get("sha256") and prov["engine"]["sha256"] != sha256_bytes(engine_bytes):
        raise TrtlabError(prov["engine"]["file"], "the engine does not match its provenance file (sha256 differs)",
                          "rebuild with `trtlab build`, or remove the stale .engine.json")
    built_with = prov["module"]
    if built_with["name"] != trt.name or built_with["version"] != trt.version:
        compat = prov.get("options", {}).get("version_compatible")
        if not compat or built_with["name"] != trt.name:
            raise UnavailableError(prov["engine"]["file"], f"built with {built_with['name']} {built_with['version']}, "
                                   f"but {trt.name} {trt.version} is installed; engines are not portable across "
                                   "TensorRT versions",
                                   f"rebuild here with `trtlab build {prov['onnx'].get('path') or 'MODEL'}`, or "
                                   f"install {built_with['name']}=={built_with['version']} (--trt-module)")
        warnings.append(f"engine built with {built_with['version']} as version-compatible; running on {trt.version}")
    built_gpu = prov.get("gpu")
    hw = prov.get("options", {}).get("hardware_compatibility")
    if built_gpu and gpu and built_gpu.get("compute_capability") != gpu.get("compute_capability") and not hw:
        raise UnavailableError(prov["engine"]["file"], f"built for compute capability "
                               f"{built_gpu.get('compute_capability')} ({built_gpu.get('name')}), this GPU is "
                               f"{gpu.get('compute_capability')} ({gpu.get('name')})",
                               "rebuild on this GPU, or build with --hardware-compatibility ampere_plus")
    return warnings
