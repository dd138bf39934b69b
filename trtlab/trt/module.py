"""Which TensorRT Python module to use, and what it can do.

``tensorrt`` (full TensorRT 10/11) is preferred; ``tensorrt_rtx`` (TensorRT for RTX) is the fallback. ``--trt-module``
or ``TRTLAB_TRT_MODULE`` forces one. Features differ between modules and versions (TensorRT 11 and RTX dropped weak
typing: no FP16/INT8 builder flags), so every feature is probed with ``hasattr`` and recorded in ``features``.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError, UnavailableError

MODULES = ("tensorrt", "tensorrt_rtx")
INSTALL_HINTS = {
    "tensorrt": "pip install 'trtlab[trt]' (full TensorRT; needs an NVIDIA GPU with a recent driver)",
    "tensorrt_rtx": "pip install 'trtlab[rtx]' (TensorRT for RTX: parses and builds on any machine, runs on RTX GPUs)",
}
ENV_VAR = "TRTLAB_TRT_MODULE"


@dataclass
class TrtModule:
    """A loaded TensorRT module: ``mod`` is the Python module itself."""

    name: str
    version: str
    mod: object = field(repr=False)
    features: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version}


def _features(trt) -> dict:
    flag = getattr(trt, "BuilderFlag", None)
    cfg = getattr(trt, "IBuilderConfig", None)
    parser = getattr(trt, "OnnxParser", None)
    return {
        "fp16_flag": hasattr(flag, "FP16"),
        "bf16_flag": hasattr(flag, "BF16"),
        "int8_flag": hasattr(flag, "INT8"),
        "int8_calibration": hasattr(trt, "IInt8EntropyCalibrator2"),
        "tf32_flag": hasattr(flag, "TF32"),
        "version_compatible": hasattr(flag, "VERSION_COMPATIBLE"),
        "hardware_compatibility": (hasattr(trt, "HardwareCompatibilityLevel")
                                   and hasattr(cfg, "hardware_compatibility_level")),
        "compute_capability_targets": hasattr(cfg, "set_compute_capability"),
        "builder_optimization_level": hasattr(cfg, "builder_optimization_level"),
        # TensorRT for RTX keeps the API but documents timing-cache operations as no-ops (deprecated since RTX 1.2)
        "timing_cache": hasattr(cfg, "create_timing_cache") and trt.__name__ != "tensorrt_rtx",
        "progress_monitor": hasattr(trt, "IProgressMonitor") and hasattr(cfg, "progress_monitor"),
        "engine_inspector": hasattr(trt, "EngineInspector"),
        "supports_model_v2": hasattr(parser, "supports_model_v2"),
        "supports_model": hasattr(parser, "supports_model"),
        "strongly_typed": hasattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED"),
        "explicit_batch_flag": hasattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "EXPLICIT_BATCH"),
        "output_allocator": hasattr(trt, "IOutputAllocator"),
    }


def requested_name(name: str | None = None) -> str | None:
    name = name or os.environ.get(ENV_VAR) or None
    if name is not None and name not in MODULES:
        raise TrtlabError(f"--trt-module {name}", "unknown TensorRT module", f"choose one of: {', '.join(MODULES)}")
    return name


def load(name: str | None = None) -> TrtModule:
    """Import the requested module, or the first of ``MODULES`` that imports."""
    name = requested_name(name)
    tried = []
    for candidate in ([name] if name else MODULES):
        try:
            mod = importlib.import_module(candidate)
        except Exception as exc:  # ImportError, or a broken install raising OSError on its libraries
            tried.append(f"{candidate}: {type(exc).__name__}: {' '.join(str(exc).split())[:120]}")
            continue
        return TrtModule(candidate, str(getattr(mod, "__version__", "unknown")), mod, _features(mod))
    hint = INSTALL_HINTS[name] if name else f"{INSTALL_HINTS['tensorrt_rtx']}; or {INSTALL_HINTS['tensorrt']}"
    raise UnavailableError("TensorRT", f"no TensorRT Python module could be imported ({'; '.join(tried)})", hint)


class CapturingLogger:
    """Factory for an ``ILogger`` subclass of the loaded module that keeps messages instead of printing them."""

    @staticmethod
    def create(trt: TrtModule, verbose: bool = False):
        mod = trt.mod
        sev = mod.ILogger.Severity
        names = {getattr(sev, n): n.lower() for n in ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")}
        threshold = sev.VERBOSE if verbose else sev.WARNING

        class _Logger(mod.ILogger):
            def __init__(self):
                mod.ILogger.__init__(self)
                self.messages: list[tuple[str, str]] = []

            def log(self, severity, msg):  # called for every message, INFO included: keep it cheap
                if severity <= threshold:
                    self.messages.append((names[severity], msg))

            def errors(self) -> list[str]:
                return [m for s, m in self.messages if s in ("error", "internal_error")]

            def warnings(self) -> list[str]:
                return [m for s, m in self.messages if s == "warning"]

            def native(self) -> list[str]:
                """Lines the library printed straight to fd 2 (not through this logger), once each."""
                return list(dict.fromkeys(m for s, m in self.messages if s == "stderr"))

        return _Logger()


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:  # noqa: BLE001, S110 (no libc to flush: std::cerr and stderr are unbuffered anyway)
        pass


@contextmanager
def native_stderr(logger=None):
    """Capture what native code writes to file descriptor 2 while the block runs (the tensorrt_rtx ONNX parser
    prints e.g. ``Unsupported ONNX data type: STRING (8)`` there, not through the logger). The lines are yielded
    as a list (filled on exit) and kept in ``logger.messages`` as ("stderr", line). Python's own writes to
    sys.stderr (progress bars, warnings) still reach the terminal meanwhile."""
    import tempfile

    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield lines
        return
    py_err = sys.stderr
    try:
        swap = py_err.fileno() == 2
    except (AttributeError, OSError, ValueError):  # pytest's capture and other replacements: leave them be
        swap = False
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        if swap:
            encoding = getattr(py_err, "encoding", None) or "utf-8"
            sys.stderr = open(saved, "w", closefd=False, encoding=encoding, errors="replace")  # noqa: SIM115 (closed below)
        try:
            yield lines
        finally:
            _flush_c_stdio()
            if swap:
                sys.stderr.close()
                sys.stderr = py_err
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
            if logger is not None:
                logger.messages.extend(("stderr", line) for line in lines)
