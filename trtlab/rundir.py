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
import secrets
import shutil
import sys
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
    held = hold_signals()  # Ctrl-C/SIGTERM wait until the folder is guarded: never an empty folder left behind
    run_dir, lock = None, None
    try:
        try:
            run_dir = Path(out) if out else new_run_dir(kind, Path(model_arg.replace("example:", "")).stem)
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrtlabError(out or DEFAULT_ROOT, f"cannot create the run directory ({exc.strerror or exc})",
                              "choose a folder you can write to with --out") from None
        lock = lock_run_dir(run_dir)  # a second run on the same folder is refused here, before it writes anything
        _release_signals(held)  # a signal that came meanwhile is raised here, inside the guard
        held = None
        yield run_dir
    except BaseException:
        if fresh and run_dir is not None:
            again = hold_signals()  # the removal itself is not cut short by a second signal
            try:
                shutil.rmtree(run_dir, ignore_errors=True)
            finally:
                _release_signals(again)
        raise
    finally:
        _release_signals(held)
        if run_dir is not None:
            unlock_run_dir(run_dir, lock)


LOCK = ".trtlab.lock"


def lock_run_dir(run_dir: Path) -> int | None:
    """Take the run directory's lock (an flock on ``.trtlab.lock``, released by the kernel if the process dies);
    refuse (exit 2) a folder another running trtlab command holds. Returns the lock's file descriptor."""
    from trtlab.errors import TrtlabError

    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return None
    path = Path(run_dir) / LOCK
    for _attempt in range(5):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TrtlabError(run_dir, f"cannot lock the run directory ({exc.strerror or exc})",
                              "choose a folder you can write to with --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise TrtlabError(run_dir, "is in use by another trtlab command running now",
                              "give this run its own folder with --out, or wait for the other to finish") from None
        try:  # the holder before us may have removed the file between our open and our lock: lock the new one
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except OSError:
            pass
        os.close(fd)
    raise TrtlabError(run_dir, "is in use by other trtlab commands", "give this run its own folder with --out")


def unlock_run_dir(run_dir: Path, fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.unlink(Path(run_dir) / LOCK)
    os.close(fd)


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


NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows)
# Files a run directory may already hold that a later command over it rewrites by design.
REWRITTEN = frozenset({"report.html"})


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: same real path, or (both existing) the same inode (hard links)."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_names(path: Path, flag: str) -> None:
    from trtlab.errors import TrtlabError

    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise TrtlabError(f"{flag} {str(path)[:60]}...", f"a file name in the path is {size} bytes; file "
                              f"systems allow {NAME_MAX}", "choose a shorter name")
    if "\0" in str(path):
        raise TrtlabError(f"{flag} {path!r}", "the path holds a NUL byte", "choose another name")


def check_paths(reads=(), files: dict | None = None, dirs: dict | None = None,
                hint: str = "write to another file") -> None:
    """The one check of everything a command writes against everything it reads, before any work.

    ``reads``: input paths (files, or folders whose files count as inputs); ``files``: {flag: output file};
    ``dirs``: {flag: output folder}. Refuses (exit 2) an output file that is an input (or a file inside an
    input folder, ``report.html`` excepted) or another output, an output folder that holds an input, and every
    path :func:`check_output_path` refuses."""
    from trtlab.errors import TrtlabError

    read_files = []
    for src in reads:
        if not src:
            continue
        src = Path(src)
        read_files.append((src, False))
        if src.is_dir():
            with contextlib.suppress(OSError):
                read_files.extend((f, True) for f in src.iterdir() if f.name not in REWRITTEN)
    seen: dict[str, str] = {}
    for flag, out in (files or {}).items():
        if not out:
            continue
        check_output_path(out, flag=flag)
        for src, inside in read_files:
            if same_file(out, src):
                what = f"a file of the input folder {src.parent}" if inside else f"the input {src}"
                raise TrtlabError(f"{flag} {out}", f"would overwrite {what}", hint)
        real = os.path.realpath(out)
        if real in seen:
            raise TrtlabError(f"{flag} {out}", f"is also the file of {seen[real]}", "give each output its own file")
        seen[real] = flag
    for flag, folder in (dirs or {}).items():
        if not folder:
            continue
        check_output_dir(folder, flag=flag)
        real = os.path.realpath(folder)
        for src, _inside in read_files:
            if os.path.realpath(src).startswith(real + os.sep):
                raise TrtlabError(f"{flag} {folder}", f"holds the input {src}; the run would write beside it",
                                  "choose a new folder for the run")


def check_output_dir(path: str | Path, *, flag: str = "--out") -> Path:
    """An output folder: not a file, no file among its parents, names within limits. Raises TrtlabError."""
    from trtlab.errors import TrtlabError

    path = Path(path)
    _check_names(path, flag)
    if path.exists() and not path.is_dir():
        raise TrtlabError(f"{flag} {path}", "is a file; this is a folder", "give a folder name")
    existing = next((p for p in [path, *path.parents] if p.exists() or p.is_symlink()), Path("."))
    if not existing.is_dir():
        raise TrtlabError(f"{flag} {path}", f"'{existing}' is a file, not a folder", "choose another location")
    return path


def check_output_path(path: str | Path, *, inputs: tuple = (), flag: str = "-o") -> Path:
    """Validate an output file path before any work: not a folder, not one of the inputs, in a folder that can
    be created and written. Raises TrtlabError (exit 2)."""
    from trtlab.errors import TrtlabError

    path = Path(path)
    _check_names(path, flag)
    if path.is_dir():
        raise TrtlabError(f"{flag} {path}", "is a folder", "give a file name, e.g. out.onnx")
    if path.exists() and not path.is_file():
        raise TrtlabError(f"{flag} {path}", "is not a regular file (a device, FIFO or socket)",
                          "write to a regular file")
    for src in inputs:
        if src is not None and same_file(path, src):
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
    # The temp file's name is known before the file exists, so Ctrl-C/SIGTERM landing anywhere (even between the
    # file's creation and the next statement) finds it in ``tmp`` and removes it. Blocking the signals instead does
    # not work once onnxruntime has started threads: the kernel hands the signal to a thread that does not block
    # it, and Python runs the handler in the main thread all the same.
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = None
            while fd is None:
                tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    continue
        except OSError as exc:
            tmp = None
            raise TrtlabError(path, f"cannot write here ({exc.strerror or exc})", "choose another location") from None
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def hold_signals(pending: list[int] | None = None):
    """Defer SIGINT and SIGTERM: their Python handlers are swapped for one that only notes the signal in
    ``pending`` (main thread only; returns (previous handlers, pending) for ``restore_signals``, or None). Not a
    signal mask: once onnxruntime has started threads the kernel hands the signal to a thread that does not block
    it, and Python runs the handler in the main thread all the same. Also behind ``trtlab.trt.contain``'s hold
    around native TensorRT calls."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    pending = [] if pending is None else pending

    def note(signum, frame):
        pending.append(signum)

    try:
        previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    except (ValueError, OSError):
        return None
    return previous, pending


def restore_signals(held) -> list[int]:
    """Put back the handlers ``hold_signals`` swapped out; return the signals that came meanwhile."""
    import signal

    previous, pending = held
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return list(pending)


def _release_signals(held) -> None:
    """Put the handlers back; a signal that came meanwhile is handled now, here, inside the caller's guard."""
    import signal

    if held is None:
        return
    pending = restore_signals(held)
    if pending:
        handler = held[0].get(pending[0])
        if callable(handler):
            handler(pending[0], None)  # raises (KeyboardInterrupt, the SIGTERM handler's exception) right here
        elif handler == signal.SIG_DFL:
            os.kill(os.getpid(), pending[0])


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
    if not path.is_file():  # a folder, FIFO (would block forever), device (/dev/zero never ends), socket
        raise TrtlabError(path, "is not a regular file", "pass a run directory written by trtlab")
    if path.stat().st_size > MAX_RESULTS:
        raise TrtlabError(path, f"is {path.stat().st_size:,} bytes; trtlab writes results.json well under "
                          f"{MAX_RESULTS >> 20} MiB (arrays go to .npz)", "pass a run directory written by trtlab")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else _short_exc(exc)
        raise TrtlabError(path, f"not valid JSON ({why})", "the run was not written by trtlab or was edited") from None


MAX_RESULTS = 256 << 20


def _short_exc(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160]


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
