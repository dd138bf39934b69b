"""Contain native crashes: run TensorRT work in a forked child, so a segfault in the parser or
builder becomes a one-line error (exit 1) instead of killing trtlab with nothing printed.

``run(subject, stage, fn)`` forks; the child does the work once and sends its result (or the exception it raised)
back through a pipe, along with the stage it is in and its progress-bar updates. A child killed by a signal raises
``TrtCrash`` ("TensorRT crashed (signal 11) while building"). The work runs once: a crash that shows only some of
the time is caught as surely as one that always shows (a throw-away probe followed by the real run in this
process was not). Where ``fork`` is missing (Windows), ``TRTLAB_NO_CONTAIN`` is set or this process has loaded the
CUDA driver (CUDA does not survive a fork), the work runs here, uncontained.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

from trtlab.errors import TrtlabError

ENV_OFF = "TRTLAB_NO_CONTAIN"


class TrtCrash(TrtlabError):
    """TensorRT died on this model (a native crash in the parser or builder). Exit code 1: a failure of the
    model's conversion, kept in the run directory like a parser refusal."""

    def __init__(self, subject, stage: str, sig: int):
        self.stage, self.signal = stage, sig
        self.nodes, self.errors, self.messages, self.notes = [], [], [], []  # as a BuildFailure has them
        super().__init__(subject, f"TensorRT crashed (signal {sig}) while {stage}",
                         "the model triggers a TensorRT bug: shrink it with `trtlab debug reduce MODEL --fails "
                         "crash` and report the reproducer to NVIDIA; `trtlab surgeon --fold-constants` may "
                         "avoid it", code=1)


def enabled() -> bool:
    """Whether TensorRT work may run in a forked child: fork exists, ``TRTLAB_NO_CONTAIN`` is unset, and this
    process has not loaded the CUDA driver (CUDA does not survive a fork: the child's first call would fail)."""
    return hasattr(os, "fork") and not os.environ.get(ENV_OFF) and not _cuda_loaded()


def _cuda_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return any("libcuda.so" in line for line in f)
    except OSError:
        return False


_channel: list[int] = []  # the pipe's write end while this process is a contained child


def in_child() -> bool:
    return bool(_channel)


def stage(name: str) -> None:
    """Say what the contained child is doing now ("parsing", "building"): a crash from here on is reported as
    having happened while doing it. Outside a contained child this does nothing."""
    if _channel:
        _send(("stage", name))


def _send(message) -> None:
    import pickle

    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    os.write(_channel[0], len(data).to_bytes(8, "little"))
    view = memoryview(data)
    while view:
        view = view[os.write(_channel[0], view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class _RelayBar:
    """What a contained child draws on instead of the parent's progress bar: every call travels to the parent,
    which applies it to the real bar (a forked child's copy of a live display is never drawn)."""

    def __init__(self):
        self._next = 0
        self.tasks = ()

    def add_task(self, *args, **kwargs):
        self._next += 1
        _send(("bar", "add_task", self._next, args, kwargs))
        return self._next

    def update(self, task, **kwargs):
        _send(("bar", "update", task, (), kwargs))


def run(subject, stage_name: str, fn, bar=None):
    """Run ``fn(bar)`` in a forked child and return what it returns (it must pickle); ``bar`` is a progress bar
    the child draws on through the parent. The child dying by a signal raises ``TrtCrash`` naming the last
    ``stage`` it announced; an exception it raised is raised here. Nothing runs twice: a native crash is caught
    whenever it happens, not only when it repeats. Where containment is off, ``fn(bar)`` runs here."""
    if not enabled() or in_child():
        return fn(bar)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into the caller's stack
        os.close(read_fd)
        _child(write_fd, fn, bar is not None)
    os.close(write_fd)
    try:
        last, outcome = _collect(read_fd, stage_name, bar)
    except BaseException:  # interrupted (SIGINT/SIGTERM): take the child down with us
        _kill(pid)
        raise
    finally:
        os.close(read_fd)
    status = _wait(pid)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) not in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        raise TrtCrash(subject, last, os.WTERMSIG(status))
    if outcome is None:  # killed by SIGINT/SIGTERM/SIGKILL, or exited without a word
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT:
            raise KeyboardInterrupt()
        raise TrtlabError(subject, f"the contained TensorRT process ended without a result while {last} "
                          f"(status {status})", f"rerun with {ENV_OFF}=1 to run it in this process")
    kind, value = outcome
    if kind == "raise":
        raise _rebuild(value)
    return value


def _child(write_fd: int, fn, relay: bool) -> None:
    import io
    import sys

    code = 0
    try:
        import faulthandler

        faulthandler.disable()  # the crash is the answer here, not something to dump a trace for
        _channel[:] = [write_fd]
        # Fresh stream objects on the same descriptors: a thread of the parent (a progress display's refresh)
        # may have held the inherited ones' locks at the fork, and no thread is left here to release them.
        for fd, name in ((1, "stdout"), (2, "stderr")):
            try:
                setattr(sys, name, io.TextIOWrapper(io.FileIO(os.dup(fd), "w"), encoding="utf-8",
                                                    errors="replace", line_buffering=True))
            except OSError:
                pass
        try:
            result = ("return", fn(_RelayBar() if relay else None))
        except BaseException as exc:  # noqa: BLE001 (sent to the parent, which raises it)
            result = ("raise", _describe(exc))
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        _send(("done", result))
    except BaseException:  # noqa: BLE001 (a result that does not pickle: the parent reports no result)
        code = 3
    os._exit(code)


def _describe(exc: BaseException):
    import pickle

    state = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
    try:
        pickle.dumps(state)
        return state
    except Exception:  # noqa: BLE001 (an exception holding unpicklable state: keep its words)
        plain = TrtlabError("trtlab", f"internal error: {type(exc).__name__}: {exc}",
                            "rerun with --verbose and report the traceback", code=4)
        return (TrtlabError, plain.args, dict(plain.__dict__))


def _rebuild(state) -> BaseException:
    cls, args, attrs = state
    exc = cls.__new__(cls)
    BaseException.__init__(exc, *args)
    exc.__dict__.update(attrs)
    return exc


def _collect(fd: int, stage_name: str, bar):
    """Read the child's messages until it closes the pipe: (last stage, ("return"|"raise", value) or None)."""
    import pickle

    last, outcome, tasks = stage_name, None, {}
    while True:
        head = _read_exact(fd, 8)
        body = _read_exact(fd, int.from_bytes(head, "little")) if head else None
        if body is None:
            return last, outcome
        message = pickle.loads(body)
        if message[0] == "stage":
            last = message[1]
        elif message[0] == "done":
            outcome = message[1]
        elif message[0] == "bar" and bar is not None:
            _, method, task, args, kwargs = message
            if method == "add_task":
                tasks[task] = bar.add_task(*args, **kwargs)
            elif task in tasks:
                bar.update(tasks[task], **kwargs)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue
        except BaseException:
            _kill(pid)
            raise


_pending: list[int] = []


def interrupted() -> bool:
    """Whether Ctrl-C (SIGINT) or SIGTERM arrived inside a ``held_signals`` block (a progress monitor returns
    False then, which cancels the build)."""
    return bool(_pending)


@contextmanager
def held_signals():
    """Hold SIGINT/SIGTERM while native TensorRT code runs: its Python callbacks (logger, progress monitor)
    would swallow the KeyboardInterrupt and the build would finish with exit 0. The signal is re-raised as soon
    as the block ends: KeyboardInterrupt (exit 130), or the SIGTERM handler that was installed."""
    from trtlab.rundir import hold_signals, restore_signals

    held = hold_signals(_pending)
    if held is None:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        got = restore_signals(held)
        _pending[:] = []
        if got:
            handler = held[0].get(got[0])
            if callable(handler) and handler not in (signal.default_int_handler,):
                handler(got[0], None)
            raise KeyboardInterrupt()
