"""Run directories: where every command leaves its results.

A run directory holds ``results.json`` (metadata and metrics, never arrays), ``.npz`` files for arrays, and
``report.html``. Everything is written through a temp file and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = "results.json"
SWEEP_SUMMARY = "sweep.json"  # a sweep directory's summary plays the part of results.json
DEFAULT_ROOT = Path("trtlab-runs")


def new_run_dir(kind: str, model_name: str, root: Path | None = None) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = (root or DEFAULT_ROOT) / f"{kind}-{stamp}-{_safe(model_name)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def fresh_run_dir(out: str | None, kind: str, model_arg: str):
    """The run directory for a command: ``out`` or a new one; removed again if the command fails half-way
    (only when this command created it)."""
    from trtlab.errors import TrtlabError

    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise TrtlabError(f"--out {out}", "is a file; a run directory is a folder", "give a folder name")
    fresh = out is None or not Path(out).exists()
    try:
        run_dir = Path(out) if out else new_run_dir(kind, Path(model_arg.replace("example:", "")).stem)
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrtlabError(out or DEFAULT_ROOT, f"cannot create the run directory ({exc.strerror or exc})",
                          "choose a folder you can write to with --out") from None
    try:
        yield run_dir
    except BaseException:
        if fresh:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def write_results(run_dir: Path, result) -> Path:
    return atomic_write_json(Path(run_dir) / RESULTS, result)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60] or "model"


def jsonable(obj: Any) -> Any:
    """Plain JSON: dataclasses to dicts, numpy scalars to Python, non-finite floats to strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        raise TypeError("arrays belong in .npz files, not in JSON")
    return obj


def check_output_path(path: str | Path, *, inputs: tuple = (), flag: str = "-o") -> Path:
    """Validate an output file path before any work: not a folder, not one of the inputs, in a folder that can
    be created and written. Raises TrtlabError (exit 2)."""
    from trtlab.errors import TrtlabError

    path = Path(path)
    if path.is_dir():
        raise TrtlabError(f"{flag} {path}", "is a folder", "give a file name, e.g. out.onnx")
    for src in inputs:
        if src is not None and Path(src).exists() and path.exists() and path.resolve() == Path(src).resolve():
            raise TrtlabError(f"{flag} {path}", "would overwrite the input", "write to another file")
    parent = path.parent if str(path.parent) else Path(".")
    existing = next((p for p in [parent, *parent.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        raise TrtlabError(f"{flag} {path}", f"'{existing}' is a file, not a folder", "choose another location")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TrtlabError(f"{flag} {path}", f"cannot write in '{existing}'", "choose a folder you can write to")
    return path


def _file_mode(path: Path) -> int:
    """The mode a plain ``open(path, 'w')`` would give: the existing file's, else 0o666 less the umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path: Path, write) -> Path:
    from trtlab.errors import TrtlabError

    path = Path(path)
    check_output_path(path, flag="output")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TrtlabError(path, f"cannot write here ({exc.strerror or exc})", "choose another location") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return _atomic(Path(path), lambda f: f.write(text.encode("utf-8")))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return _atomic(Path(path), lambda f: f.write(data))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    text = json.dumps(jsonable(obj), indent=1, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_savez(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    return _atomic(Path(path), lambda f: np.savez(f, **arrays))


def read_results(run_dir: str | Path) -> dict:
    from trtlab.errors import TrtlabError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TrtlabError(run_dir, "not a folder", "pass a run directory written by trtlab (it holds results.json)")
    path = run_dir / RESULTS
    if not path.exists() and (run_dir / SWEEP_SUMMARY).exists():  # a sweep directory
        path = run_dir / SWEEP_SUMMARY
    if not path.exists():
        raise TrtlabError(run_dir, "not a trtlab run (no results.json)", "pass a folder under ./trtlab-runs/")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtlabError(path, f"not valid JSON ({exc})", "the run was not written by trtlab or was edited") from None


def environment() -> dict:
    """Versions of what produced a result (cheap: reads package metadata, imports nothing heavy)."""
    from importlib import metadata

    import trtlab

    versions = {"trtlab": trtlab.__version__, "python": sys.version.split()[0]}
    for dist in ("numpy", "onnx", "onnx-graphsurgeon", "onnxruntime", "onnxruntime-gpu", "tensorrt", "tensorrt-rtx"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {"versions": versions, "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "cwd": os.getcwd(),
            "time": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
