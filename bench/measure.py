"""Measuring commands: wall time and peak RSS of a whole process tree, repeated, reported as medians.

Each run goes through a fresh wrapper process that starts the command, waits for it, and reads
``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak resident set of the largest process in the tree (children that
spawn their own children are covered, since every waited-for descendant is folded into its parent's usage). A
fresh wrapper per run keeps one run's peak out of the next one's.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent

_WRAPPER = r"""
import json, resource, subprocess, sys, time
argv, cwd, log = json.loads(sys.argv[1])
start = time.perf_counter()
with open(log, "wb") as f:
    rc = subprocess.call(argv, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": wall, "peak_mb": usage.ru_maxrss / 1024,
                  "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


@dataclass
class Run:
    rc: int
    wall_s: float
    peak_mb: float
    log: str
    cpu_s: float = 0.0  # user + system time of the process tree


@dataclass
class Measured:
    """Median wall time and peak memory over repeats; ``steps`` are summed (time) / maxed (memory) per repeat."""

    label: str
    wall_s: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    rcs: list[list[int]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mb)

    def as_dict(self) -> dict:
        return {"label": self.label, "wall_s_median": round(self.wall, 3), "peak_mb_median": round(self.peak, 1),
                "wall_s": [round(x, 3) for x in self.wall_s], "peak_mb": [round(x, 1) for x in self.peak_mb],
                "rc": self.rcs, **({"cpu_s": [round(x, 3) for x in self.cpu_s],
                                    "cpu_s_median": round(statistics.median(self.cpu_s), 3)} if self.cpu_s else {})}


def tool(name: str) -> str:
    """A console script of this venv (trtlab, polygraphy, onnxslim), else one on PATH."""
    path = VENV_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def run_once(argv: list[str], cwd: Path, log: Path) -> Run:
    out = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps([argv, str(cwd), str(log)])],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Run(data["rc"], data["wall_s"], data["peak_mb"], str(log), data.get("cpu_s", 0.0))


def measure(label: str, steps: list[list[str]], cwd: Path, repeats: int, prepare=None) -> Measured:
    """Run ``steps`` (one after another, one process each) ``repeats`` times; ``prepare()`` runs before each."""
    result = Measured(label)
    cwd.mkdir(parents=True, exist_ok=True)
    for rep in range(repeats):
        if prepare is not None:
            prepare()
        runs = [run_once(argv, cwd, cwd / f"{label}-{rep}-{i}.log") for i, argv in enumerate(steps)]
        result.wall_s.append(sum(r.wall_s for r in runs))
        result.peak_mb.append(max(r.peak_mb for r in runs))
        result.cpu_s.append(sum(r.cpu_s for r in runs))
        result.rcs.append([r.rc for r in runs])
        result.logs.extend(r.log for r in runs)
    return result


def tail(path: str | Path, lines: int = 3) -> str:
    text = Path(path).read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z")
