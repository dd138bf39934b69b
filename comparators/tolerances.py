"""Tolerances: one global atol/rtol and per-tensor overrides (``--atol 1e-3 --atol logits:1e-2``).

Defaults follow the precision the target computes in (``default_for(spec)``); ``for_target`` applies them to the
``--atol``/``--rtol`` values a command was given. Every command that compares backends uses these two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
# (atol, rtol) by the target's precision: FP32 noise is ~1e-6, FP16 storage rounds at ~5e-4 per layer.
PRECISION_TOLERANCES = {"fp32": (DEFAULT_ATOL, DEFAULT_RTOL), "fp16": (1e-3, 1e-2), "bf16": (1e-2, 5e-2)}
HELP = ("defaults follow the target's precision: atol/rtol 1e-5/1e-5 for FP32, 1e-3/1e-2 for FP16, "
        "1e-2/5e-2 for BF16")


@dataclass
class Tolerances:
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    per_atol: dict[str, float] = field(default_factory=dict)
    per_rtol: dict[str, float] = field(default_factory=dict)

    def for_tensor(self, name: str) -> tuple[float, float]:
        return self.per_atol.get(name, self.atol), self.per_rtol.get(name, self.rtol)

    @classmethod
    def parse(cls, atol: list[str] | None, rtol: list[str] | None) -> Tolerances:
        tol = cls()
        for flag, items, per in (("--atol", atol, tol.per_atol), ("--rtol", rtol, tol.per_rtol)):
            for item in items or []:
                name, value = _split(flag, item)
                if name is None:
                    setattr(tol, flag[2:], value)
                else:
                    per[name] = value
        return tol


def _split(flag: str, item: str) -> tuple[str | None, float]:
    m = re.match(r"^(?:(?P<name>.+):)?(?P<value>[-+.\deE]+)$", item.strip())
    if not m:
        raise TrtlabError(f"{flag} {item}", "not a number or name:number", f"e.g. {flag} 1e-3 or {flag} logits:1e-2")
    try:
        value = float(m.group("value"))
    except ValueError:
        raise TrtlabError(f"{flag} {item}", "not a number", f"e.g. {flag} 1e-3") from None
    if value < 0:
        raise TrtlabError(f"{flag} {item}", "a tolerance cannot be negative", f"e.g. {flag} 1e-3")
    return m.group("name"), value


def precision_of(spec) -> str:
    """"fp16"/"bf16" when the backend spec (``onnxrt:fp16``) asks for it, else "fp32"."""
    options = getattr(spec, "options", None) or {}
    return next((p for p in ("fp16", "bf16") if options.get(p)), "fp32")


def default_for(spec) -> tuple[float, float]:
    """(atol, rtol) for comparing against a target backend spec."""
    return PRECISION_TOLERANCES[precision_of(spec)]


def for_target(spec, atol=None, rtol=None) -> Tolerances:
    """Tolerances from ``--atol``/``--rtol`` (a number, or a list of "TOL"/"NAME:TOL" strings, or None); the global
    value not given comes from the target's precision (``default_for``)."""
    items = [None if v is None else [str(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
             for v in (atol, rtol)]
    tol = Tolerances.parse(*items)
    for key, given, default in zip(("atol", "rtol"), items, default_for(spec)):
        if not any(":" not in item for item in given or []):
            setattr(tol, key, default)
    return tol
