"""``trtlab doctor``: what this machine has for each kind of work, and the exact install hint for what it lacks."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

NEEDS = {  # work -> checks that must pass
    "check": ("python", "onnx", "tensorrt", "builder"),
    "build": ("python", "onnx", "tensorrt", "builder"),
    "run": ("python", "onnx", "tensorrt", "builder", "cuda-python", "gpu", "execute"),
    "compare": ("python", "onnx", "onnx-graphsurgeon", "onnxruntime", "tensorrt", "builder", "cuda-python", "gpu",
                "execute"),
}


@dataclass
class Check:
    name: str
    ok: bool
    value: str
    hint: str | None = None


@dataclass
class DoctorResult:
    schema: str
    work: str
    ready: bool
    checks: list[Check]
    missing: list[str]
    module: dict | None
    cuda: dict = field(default_factory=dict)


def _package(name: str, module: str, hint: str) -> Check:
    try:
        mod = __import__(module, fromlist=["_"])
        return Check(name, True, str(getattr(mod, "__version__", "installed")))
    except Exception as exc:
        return Check(name, False, f"not importable ({type(exc).__name__}: {str(exc)[:80]})", hint)


# Distributions that install the same ``onnxruntime`` module folder: two of them overwrite each other's files.
ORT_FLAVOURS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
                "onnxruntime-qnn", "onnxruntime-training", "onnxruntime-silicon", "ort-nightly", "ort-nightly-gpu")
ORT_HINT = "pip install 'trtlab[cpu]' (CPU) or 'trtlab[gpu]' (CUDA provider); one of the two, never both"


def onnxruntime_flavours() -> dict[str, dict[str, str]]:
    """Installed onnxruntime distributions by the folder that holds them: folder -> {normalised name: version}.
    Two in one folder overwrite each other's ``onnxruntime/`` files; in different folders (a ``PYTHONPATH``
    install) the first on ``sys.path`` is imported whole."""
    from importlib import metadata

    found: dict[str, dict[str, str]] = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-").replace(".", "-")
        if name in ORT_FLAVOURS:
            found.setdefault(str(dist.locate_file("")), {})[name] = dist.version
    return found


def mixed_flavour_fix(flavours: dict[str, str], python: str = "python") -> str:
    """The commands that leave exactly one flavour: uninstall all (they share files), reinstall the one to keep
    (the GPU one when present, at its installed version)."""
    keep = "onnxruntime-gpu" if "onnxruntime-gpu" in flavours else next(n for n in flavours if n != "onnxruntime")
    return (f"{python} -m pip uninstall -y {' '.join(sorted(flavours))} && "
            f"{python} -m pip install {keep}=={flavours[keep]}")


def _onnxruntime() -> list[Check]:
    by_folder = onnxruntime_flavours()
    for folder, flavours in by_folder.items():
        if len(flavours) > 1:
            listed = ", ".join(f"{n} {v}" for n, v in flavours.items())
            return [Check("onnxruntime", False, f"{len(flavours)} flavours installed over one module folder "
                          f"({listed}, in {folder}); the files of the last one installed win",
                          f"keep one: {mixed_flavour_fix(flavours, sys.executable)} (for the CPU flavour instead: "
                          "install onnxruntime the same way)")]
    check = _package("onnxruntime", "onnxruntime", ORT_HINT)
    if not check.ok:
        return [check]
    import onnxruntime as ort

    names = [n for flavours in by_folder.values() for n in flavours]
    if names:
        check.value = f"{check.value} ({', '.join(names)}{'; the first is imported' if len(names) > 1 else ''})"
    providers = ort.get_available_providers()
    cuda_ok = "CUDAExecutionProvider" in providers
    return [check, Check("onnxruntime providers", True, ", ".join(providers),
                         None if cuda_ok else "optional, for onnxrt:cuda: pip uninstall -y onnxruntime && "
                         "pip install 'trtlab[gpu]'")]


def _tensorrt(module_name: str | None):
    from trtlab.errors import TrtlabError
    from trtlab.trt.module import CapturingLogger, load

    try:
        trt = load(module_name)
    except TrtlabError as exc:
        return None, [Check("tensorrt", False, exc.problem, exc.hint),
                      Check("builder", False, "no TensorRT module", exc.hint)]
    checks = [Check("tensorrt", True, f"{trt.name} {trt.version}")]
    try:
        logger = CapturingLogger.create(trt)
        builder = trt.mod.Builder(logger)
        network = builder.create_network(0)
        trt.mod.OnnxParser(network, logger)
        checks.append(Check("builder", True, "Builder, network and ONNX parser created"))
    except Exception as exc:
        checks.append(Check("builder", False, f"{type(exc).__name__}: {str(exc)[:120]}",
                            f"reinstall: pip install --force-reinstall {trt.name.replace('_', '-')}"))
    missing = [k for k, v in trt.features.items() if not v]
    checks.append(Check("tensorrt features", True, f"lacks: {', '.join(missing) or 'nothing trtlab uses'}"))
    return trt, checks


def _cuda() -> tuple[list[Check], dict]:
    from trtlab.trt import cuda

    checks = []
    try:
        cuda.runtime()
        checks.append(Check("cuda-python", True, "cuda.bindings importable"))
    except Exception as exc:
        checks.append(Check("cuda-python", False, str(getattr(exc, "problem", exc)), cuda.CUDA_HINT))
    info = cuda.device_info(fast=False)
    checks.append(Check("cuda driver", bool(info.driver_version), info.driver_version or "none",
                        None if info.driver_version
                        else "install the NVIDIA driver (a GPU machine is needed to run engines)"))
    checks.append(Check("cuda runtime", bool(info.runtime_version), info.runtime_version or "unknown",
                        None if info.runtime_version else cuda.CUDA_HINT))
    if info.gpus:
        gpus = "; ".join(f"{g['name']} (compute {g['compute_capability']})" for g in info.gpus)
        checks.append(Check("gpu", True, f"{gpus} [via {info.source}]"))
    else:
        checks.append(Check("gpu", False, info.error or "no GPU",
                            "check and build work without a GPU; run and compare --target trt need an NVIDIA GPU"))
    return checks, {"source": info.source, "driver": info.driver_version, "runtime": info.runtime_version,
                    "gpus": info.gpus, "error": info.error}


def _execute(trt, module_name: str | None) -> Check:
    if trt is None:
        return Check("execute", False, "no TensorRT module", "install TensorRT first (see the tensorrt line)")
    from trtlab.backends.trt import can_execute

    ok, why = can_execute(module_name)
    hint = None
    if not ok:
        hint = ("full TensorRT executes on data-center GPUs: pip install 'trtlab[trt]' and --trt-module tensorrt"
                if trt.name == "tensorrt_rtx" and "compute" in why else
                "run on a machine with an NVIDIA GPU, driver and cuda-python (pip install 'trtlab[gpu]')")
    return Check("execute", ok, why, hint)


def run_doctor(work: str = "build", module_name: str | None = None) -> DoctorResult:
    py_ok = sys.version_info >= (3, 10)
    checks = [Check("python", py_ok, sys.version.split()[0], None if py_ok else "use Python 3.10 or newer"),
              _package("onnx", "onnx", "pip install onnx"),
              _package("onnx-graphsurgeon", "onnx_graphsurgeon", "pip install onnx-graphsurgeon")]
    checks += _onnxruntime()
    trt, trt_checks = _tensorrt(module_name)
    checks += trt_checks
    cuda_checks, cuda_info = _cuda()
    checks += cuda_checks
    checks.append(_execute(trt, module_name))
    by_name = {c.name: c for c in checks}
    missing = [n for n in NEEDS[work] if n in by_name and not by_name[n].ok]
    return DoctorResult(schema="trtlab.doctor/1", work=work, ready=not missing, checks=checks, missing=missing,
                        module=trt.summary() if trt else None, cuda=cuda_info)
