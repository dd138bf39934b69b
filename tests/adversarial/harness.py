"""Run one adversarial case: ``trtlab.cli.main.main(argv)`` in a forked child of the test process (cheap: the
heavy modules are imported once, in the parent) with its output captured, and check what it must never do.

A forked child also contains what in-process could not: a native crash shows as a signal, a file-size cap
(RLIMIT_FSIZE, with SIGXFSZ ignored) plays a full disk, and ``wait4`` reports the child's peak memory.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DOCUMENTED = {0, 1, 2, 3}
SENT = ".signal-sent"  # written in the case's folder when the self-sent signal actually went out


@dataclass
class Case:
    id: str
    argv: list[str]
    setup: object = None  # callable(tmp: Path) -> None, makes the files the case needs
    codes: frozenset = frozenset(DOCUMENTED)  # exit codes this case may end with
    protect: tuple = ()  # paths (relative to tmp) that must be byte-identical afterwards
    outputs: tuple = ()  # paths that must not exist afterwards when the command failed (and did not before)
    says: str | None = None  # a substring the error line must hold
    fsize: int | None = None  # RLIMIT_FSIZE for the child: a full disk after this many bytes
    mem_cap: int | None = None  # RLIMIT_AS for the child: this many bytes over what it has at fork
    family: str = ""
    slow_only: bool = False


@dataclass
class Outcome:
    rc: int | None
    signal: int | None
    stdout: str
    stderr: str
    seconds: float
    grew: int  # peak RSS of the child over the parent's RSS at fork, bytes
    leftovers: list[str] = field(default_factory=list)


@functools.cache
def warm() -> None:
    """Import what the commands import, once, in the parent: every forked case then starts warm."""
    import importlib

    for name in ("onnxruntime", "onnx_graphsurgeon", "tensorrt_rtx", "matplotlib", "matplotlib.pyplot",
                 "trtlab.backends.onnxrt", "trtlab.comparison.run", "trtlab.reports.compare", "trtlab.reports.trt",
                 "trtlab.reports.surgeon", "trtlab.reports.generic", "trtlab.surgery.pipeline", "trtlab.trt.check",
                 "trtlab.trt.build", "trtlab.building", "trtlab.inspection"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (optional: a missing one is imported by the child, or skipped)
            pass
    from trtlab.cli.main import build_parser

    build_parser()
    try:  # a first figure loads fonts and caches; children inherit them
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        ax.set_title("warm")
        fig.savefig(io.BytesIO(), format="svg")
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    except Exception:  # noqa: BLE001
        pass


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _drain(fd: int, chunks: list) -> None:
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            break
        chunks.append(data)
    os.close(fd)


def run_forked(argv: list[str], cwd: Path, *, fsize: int | None = None, timeout: float = 120.0,
               send: tuple[int, float] | None = None, mem_cap: int | None = None) -> Outcome:
    """Fork, run ``main(argv)`` in ``cwd`` in the child, collect its output through pipes (not files: a
    file-size cap must not cut the error line) and its exit status and peak memory. ``send``: (signal, seconds)
    the child sends itself after that long; ``mem_cap``: bytes of address space the child may add."""
    import threading

    warm()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    before = _rss()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        rc = 99
        try:
            os.close(out_r)
            os.close(err_r)
            os.chdir(cwd)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", line_buffering=True)
            sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", line_buffering=True)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            if mem_cap is not None:
                cap = _vm_size() + mem_cap
                resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
            import trtlab.cli.main as cli_main

            if send is not None:  # the clock starts inside main(), once its SIGTERM handler is installed
                import threading

                inner = cli_main._main

                def fire():  # leave a mark first: under load the timer may not get to run before the exit
                    open(SENT, "w").close()
                    os.kill(os.getpid(), send[0])

                def timed(args, inner=inner):
                    timer = threading.Timer(send[1], fire)
                    timer.daemon = True
                    timer.start()
                    return inner(args)

                cli_main._main = timed
            main = cli_main.main

            rc = main(list(argv))
        except BaseException:  # noqa: BLE001 (a test harness: print it for the assertion message)
            import traceback

            traceback.print_exc()
            rc = 98
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc & 0xFF)
    os.close(out_w)
    os.close(err_w)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(fd, buf), daemon=True)
               for fd, buf in ((out_r, out_chunks), (err_r, err_chunks))]
    for t in readers:
        t.start()
    deadline = time.monotonic() + timeout
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            wpid, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.002)
    for t in readers:
        t.join(5)
    seconds = time.perf_counter() - start
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return Outcome(rc, sig, b"".join(out_chunks).decode("utf-8", "replace"),
                   b"".join(err_chunks).decode("utf-8", "replace"), seconds, max(usage.ru_maxrss * 1024 - before, 0))


def complete(path: Path) -> bool:
    """Whether an output file left by a failed command is whole (it was written before the failure)."""
    try:
        if path.suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as z:
                [z[k] for k in z.files]
        elif path.suffix == ".onnx":
            import onnx

            onnx.load(str(path), load_external_data=False)
        return True
    except Exception:  # noqa: BLE001
        return False


def digest(path: Path) -> str | None:
    if not path.is_file() or path.is_symlink():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))


def check(case: Case, tmp: Path) -> Outcome:
    """Set up, run and assert every rule of the suite; return the outcome (for totals)."""
    if case.setup is not None:
        case.setup(tmp)
    protected = {p: digest(tmp / p) for p in case.protect}
    existed = {p: (tmp / p).exists() for p in case.outputs}
    res = run_forked(case.argv, tmp, fsize=case.fsize, mem_cap=case.mem_cap)
    where = f"{case.id}: trtlab {' '.join(case.argv)}\nstdout: {res.stdout[-800:]}\nstderr: {res.stderr[-1500:]}"
    assert res.signal is None, f"killed by signal {res.signal}\n{where}"
    assert res.rc != 4, f"internal error (exit 4)\n{where}"
    assert res.rc in DOCUMENTED, f"undocumented exit code {res.rc}\n{where}"
    assert res.rc in case.codes, f"exit {res.rc}, expected one of {sorted(case.codes)}\n{where}"
    assert "Traceback" not in res.stderr, f"traceback\n{where}"
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    if res.rc in (2, 3):  # a usage error or a missing backend: exactly one line says why
        assert len(errors) == 1, f"expected one error line, got {len(errors)}\n{where}"
    assert len(errors) <= 1, f"more than one error line\n{where}"
    if res.rc != 0:
        if case.says:
            assert errors and case.says.lower() in errors[0].lower(), f"error does not say {case.says!r}\n{where}"
        for p in case.outputs:
            path = tmp / p
            if existed[p] or not path.exists():
                continue
            if res.rc != 1:  # exit 1 is a verdict (mismatch, not parseable): its run directory stays
                assert not path.is_dir(), f"run directory {p} left by a failed command\n{where}"
            assert complete(path), f"partial output {p} left by a failed command\n{where}"
    for p, before in protected.items():
        assert digest(tmp / p) == before, f"input {p} was modified\n{where}"
    left = temp_files(tmp)
    assert not left, f"temp files left behind: {left}\n{where}"
    return res
