"""Backends, looked up by name and imported only when used.

A spec on the command line is ``NAME[:OPTION,...]``: ``onnxrt``, ``onnxrt:fp16``, ``onnxrt:cuda,threads=2``,
``reference``, ``trt:fp16``. Options are flags (``fp16``) or ``key=value`` pairs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError

# name -> (module, class). Literal on purpose: no import side effects register backends.
BACKENDS: dict[str, tuple[str, str]] = {
    "onnxrt": ("trtlab.backends.onnxrt", "OnnxrtBackend"),
    "reference": ("trtlab.backends.reference", "ReferenceBackend"),
    "trt": ("trtlab.backends.trt", "TrtBackend"),
    "hybrid": ("trtlab.backends.hybrid", "HybridBackend"),
}


@dataclass
class BackendSpec:
    name: str
    options: dict[str, str | bool] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text or self.name


def parse_spec(text: str) -> BackendSpec:
    name, _, rest = text.strip().partition(":")
    name = name.strip().lower()
    if name not in BACKENDS:
        raise TrtlabError(f"backend '{text}'", "unknown backend",
                          f"choose one of: {', '.join(BACKENDS)} (options after a colon, e.g. onnxrt:fp16)")
    options: dict[str, str | bool] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        options[key.strip().lower()] = value.strip() if eq else True
    return BackendSpec(name, options, text.strip())


def create(spec: BackendSpec):
    """Instantiate the backend class for ``spec`` (imports its module only now)."""
    module_name, cls_name = BACKENDS[spec.name]
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)(spec)
