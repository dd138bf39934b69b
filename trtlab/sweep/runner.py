"""Run a sweep: expand the spec into cells, skip what the journal has (``--resume``), run the rest on an
executor, journal each result as it lands, then write ``sweep.json`` and the report page.

``sweep.json`` (schema ``trtlab.sweep/1``) holds one row per cell (the latest journal line for its key, in spec
order), verdict counts, and the matrix: models x configurations (task + axis values).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trtlab.errors import TrtlabError
from trtlab.sweep.cell import CellResult
from trtlab.sweep.journal import Journal
from trtlab.sweep.spec import Cell, Spec

SCHEMA = "trtlab.sweep/1"
SUMMARY = "sweep.json"
GREEN = {"pass"}


@dataclass
class SweepResult:
    schema: str
    sweep_dir: str
    executor: str
    jobs: int
    cells: list[dict]
    counts: dict[str, int]
    models: list[str]
    configs: list[str]
    seconds: float
    skipped: int = 0  # cells already in the journal (--resume)
    argv: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    command: str = "sweep"

    @property
    def passed(self) -> bool:
        return bool(self.cells) and all(c["verdict"] in GREEN for c in self.cells)

    def to_json(self) -> dict:
        from trtlab.rundir import jsonable

        return {**jsonable(self), "passed": self.passed}

    @classmethod
    def from_json(cls, data: dict) -> SweepResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def config_label(cell: Cell | CellResult) -> str:
    axes = cell.axes or {}
    return " ".join([cell.task, *(f"{k}={v}" for k, v in axes.items())])


@dataclass
class Progress:
    """What the terminal shows: counts and an ETA from the mean cell time so far."""

    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    started: float = field(default_factory=time.perf_counter)

    def eta(self, jobs: int) -> float | None:
        if not self.done:
            return None
        per = (time.perf_counter() - self.started) / self.done
        return per * (self.total - self.done)


def prepare(sweep_dir: Path, resume: bool) -> Journal:
    journal = Journal(sweep_dir)
    if journal.exists() and not resume:
        raise TrtlabError(f"--out {sweep_dir}", "already holds a sweep (journal.jsonl)",
                          "add --resume to finish it, or choose another --out")
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise TrtlabError(f"--out {sweep_dir}", "is a file", "give a folder for the sweep")
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtlabError(f"--out {sweep_dir}", f"cannot create it ({exc.strerror or exc})",
                          "choose a folder you can write to") from None
    return journal


def run_sweep(spec: Spec, sweep_dir: Path, executor, *, resume: bool = False,
              on_event: Callable[[str, object, Progress], None] | None = None,
              argv: list[str] | None = None) -> SweepResult:
    """Run every cell not yet journaled; return the summary (also written to ``sweep_dir/sweep.json``)."""
    from trtlab.rundir import atomic_write_json, environment

    sweep_dir = Path(sweep_dir).absolute()
    journal = prepare(sweep_dir, resume)
    cells = spec.cells()
    done = journal.done_keys() if resume else set()
    todo = [c for c in cells if c.key not in done]
    for c in todo:  # a cell in flight when an earlier sweep was killed: start it clean
        shutil.rmtree(sweep_dir / "runs" / c.id, ignore_errors=True)
    prog = Progress(total=len(todo))
    emit = on_event or (lambda *a: None)
    t0 = time.perf_counter()

    def started(cell):
        prog.running += 1
        emit("start", cell, prog)

    try:
        for res in executor.run(todo, started):
            journal.append(res)
            prog.running = max(0, prog.running - 1)
            prog.done += 1
            prog.failed += res.verdict not in GREEN
            emit("done", res, prog)
    finally:
        executor.close()
    result = summarize(cells, journal, sweep_dir, executor, time.perf_counter() - t0, len(cells) - len(todo))
    result.argv, result.environment = list(argv or []), environment()
    atomic_write_json(sweep_dir / SUMMARY, result.to_json())
    return result


def summarize(cells: list[Cell], journal: Journal, sweep_dir: Path, executor, seconds: float,
              skipped: int) -> SweepResult:
    latest = journal.latest()
    rows = []
    for c in cells:
        r = latest.get(c.key)
        row = r.to_json() if r else {"key": c.key, "id": c.id, "model": c.model.arg, "task": c.task,
                                     "axes": c.axes, "verdict": "not run", "metrics": {}}
        row["config"] = config_label(c)
        row["model_name"] = c.model.stem
        if row.get("run_dir"):
            try:
                row["run_dir"] = str(Path(row["run_dir"]).resolve().relative_to(sweep_dir.resolve()))
            except ValueError:
                pass
        rows.append(row)
    models = list(dict.fromkeys(r["model_name"] for r in rows))
    configs = list(dict.fromkeys(r["config"] for r in rows))
    return SweepResult(schema=SCHEMA, sweep_dir=str(sweep_dir), executor=executor.name,
                       jobs=getattr(executor, "jobs", 0), cells=rows, counts=dict(Counter(r["verdict"] for r in rows)),
                       models=models, configs=configs, seconds=round(seconds, 3), skipped=skipped)
