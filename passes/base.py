"""What every pass returns, and small helpers shared by passes.

A pass is an object with ``name``, a one-line ``description``, ``options`` (option name -> help text) and
``run(model, **options) -> PassResult``. A pass rewrites an ``onnx.ModelProto`` (in place or into a new one) and
returns it in the result, with what it changed (``notes``) and, for everything it chose not to do, a reason
(``skipped``). The runner (``trtlab.surgery.pipeline``), not the pass, normalises the graph afterwards, times the pass,
counts nodes and bytes, and verifies outputs on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import onnx

from trtlab.errors import TrtlabError


@dataclass
class PassResult:
    model: onnx.ModelProto
    notes: list[str] = field(default_factory=list)  # what was done, in words
    skipped: list[str] = field(default_factory=list)  # what was not done, and why
    modified: bool | None = None  # the pass's own claim; the runner measures too
    verify_tolerance: tuple[float, float] | None = None  # (atol, rtol) when the pass changes numerics by design
    warnings: list[str] = field(default_factory=list)  # the user asked for something that had no effect (typos)


@dataclass
class Pass:
    """A registered pass: name, description, accepted options with help, and the function that runs it."""

    name: str
    description: str
    run: object  # callable(model, **options) -> PassResult
    options: dict[str, str] = field(default_factory=dict)
    numeric: bool = False  # changes numerics by design (verified with precision-aware tolerances)
    # by design its output may use types or ops onnxruntime (CPU) has no kernel for (bf16, plugins): such an output
    # is "not verified"; for every other pass, an output onnxruntime cannot run (when it ran the input) is a failure
    ort_gaps: bool = False
    # the option that takes a list of node first-output names to leave alone: when verification finds the pass broke
    # the model, the runner bisects over the nodes with it and undoes only the offending rewrites
    undo_option: str | None = None

    def __call__(self, model: onnx.ModelProto, **options) -> PassResult:
        unknown = [k for k in options if k not in self.options]
        if unknown:
            raise TrtlabError(f"pass {self.name}", f"unknown option(s) {', '.join(unknown)}",
                              f"{self.name} accepts: {', '.join(self.options) or '(no options)'}")
        return self.run(model, **options)


_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | float, subject: str = "--fold-size-threshold") -> int:
    """``1G``, ``512M``, ``16k``, ``1000`` -> bytes (binary units)."""
    if isinstance(text, (int, float)):
        return int(text)
    m = _SIZE_RE.match(str(text))
    if not m:
        raise TrtlabError(f"{subject} {text}", "not a size", "write a number of bytes with an optional unit: "
                          "16M, 1G, 512k")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def fmt_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def op_counts(graph: onnx.GraphProto) -> dict[str, int]:
    """Node count by op type, subgraph bodies included (custom domains as ``domain::Op``)."""
    from trtlab.model import walk_nodes

    counts: dict[str, int] = {}
    for node, _depth in walk_nodes(graph):
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def main_opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1)
