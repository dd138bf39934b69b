"""Tolerances: one global atol/rtol and per-tensor overrides (``--atol 1e-3 --atol logits:1e-2``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5


@dataclass
class Tolerances:
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    per_atol: dict[str, float] = field(default_factory=dict)
    per_rtol: dict[str, float] = field(default_factory=dict)

    def for_tensor(self, name: str) -> tuple[float, float]:
        return self.per_atol.get(name, self.atol), self.per_rtol.get(name, self.rtol)

    @classmethod
    def parse(cls, atol: list[str] | None, rtol: list[str] | None) -> "Tolerances":
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
