"""What every backend provides. Backends are context managers: load, run any number of times, close."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import onnx

from trtlab.backends import BackendSpec
from trtlab.errors import TrtlabError


@dataclass
class Timing:
    setup_s: float = 0.0  # session creation / engine build
    latency_ms: list[float] = field(default_factory=list)  # one per timed inference call
    warmup_ms: list[float] = field(default_factory=list)  # untimed first calls (allocation, kernel selection)


class Backend:
    """Base class. Subclasses implement ``_load`` and ``_run`` and fill ``info``."""

    known_options: tuple[str, ...] = ()

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self.options = spec.options
        unknown = [k for k in self.options if k not in self.known_options]
        if unknown:
            raise TrtlabError(f"backend '{spec}'", f"unknown option(s) {', '.join(unknown)}",
                              f"{spec.name} options: {', '.join(self.known_options) or '(none)'}")
        if self.options.get("fp16") and self.options.get("bf16"):
            raise TrtlabError(f"backend '{spec}'", "fp16 and bf16 both given", "choose one precision")
        self.timing = Timing()
        self.info: dict = {"backend": spec.name, "spec": str(spec), "options": dict(self.options)}
        self.exposed: list[str] = []  # tensors this backend returns (graph outputs + marked layers)
        self.notes: list[str] = []  # what this backend could not do, said plainly
        self.fused: dict[str, str] = {}  # tensors the backend folded or fused away -> why (not compared)

    @property
    def precision(self) -> str:
        for p in ("fp16", "bf16"):
            if self.options.get(p):
                return p
        return "fp32"

    def keep_list(self) -> set[str]:
        """``keep=A+B``: node names, op types or tensor names kept in FP32 by the half-precision simulation."""
        keep = self.options.get("keep")
        return set(filter(None, str(keep).split("+"))) if keep and keep is not True else set()

    def fold_option(self) -> bool:
        """``fold=0`` turns off folding and fusion before the half-precision simulation (halfsim)."""
        value = str(self.options.get("fold", "1")).lower()
        if value not in ("1", "0", "true", "false", "on", "off"):
            raise TrtlabError(f"backend '{self.spec}'", f"fold={value} is not 0 or 1", "fold=0 or fold=1")
        return value in ("1", "true", "on")

    def load(self, model: onnx.ModelProto, outputs: list[str] | None = None, *,
             model_sha256: str | None = None) -> Backend:
        """Prepare to run ``model``; ``outputs`` are extra tensor names to expose (layer-wise). ``model_sha256``
        (the .onnx file's, when the caller knows it) lets a backend check that what it runs was made from it."""
        self.model_sha256 = model_sha256
        start = time.perf_counter()
        self._load(model, outputs)
        self.timing.setup_s = time.perf_counter() - start
        return self

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        result = self._run(feeds)
        self.timing.latency_ms.append((time.perf_counter() - start) * 1e3)
        return result

    def warmup(self, feeds: dict[str, np.ndarray], runs: int = 1) -> None:
        """Run ``runs`` times without counting them in ``latency_ms`` (first calls pay for allocations)."""
        for _ in range(runs):
            start = time.perf_counter()
            self._run(feeds)
            self.timing.warmup_ms.append((time.perf_counter() - start) * 1e3)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _load(self, model: onnx.ModelProto, outputs: list[str] | None) -> None:
        raise NotImplementedError

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError
