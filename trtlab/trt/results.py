"""Run directories for the TensorRT commands: created fresh, removed again if the command fails half-way."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path


@contextlib.contextmanager
def fresh_run_dir(out: str | None, kind: str, model_arg: str):
    from trtlab.rundir import new_run_dir

    fresh = out is None or not Path(out).exists()
    run_dir = Path(out) if out else new_run_dir(kind, Path(model_arg.replace("example:", "")).stem)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield run_dir
    except BaseException:
        if fresh:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def argv_tail(command: str) -> list[str]:
    argv = sys.argv[1:]
    return argv[1:] if argv and argv[0] == command else argv


def write_results(run_dir: Path, result) -> Path:
    from trtlab.rundir import RESULTS, atomic_write_json

    return atomic_write_json(run_dir / RESULTS, result)
