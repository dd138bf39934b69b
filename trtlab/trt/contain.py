"""Contain native crashes: run a piece of TensorRT work in a forked child first, so a segfault in the parser or
builder becomes a one-line error (exit 1) instead of killing trtlab with nothing printed.

``probe(stage, fn)`` forks; the child runs ``fn()`` and exits 0 (or 3 when ``fn`` raised); the parent waits. A child
killed by a signal raises ``TrtCrash`` ("TensorRT crashed (signal 11) while parsing"). Where ``fork`` is missing
(Windows) or ``TRTLAB_NO_CONTAIN`` is set the probe is skipped.
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
    return hasattr(os, "fork") and not os.environ.get(ENV_OFF)


def probe(subject, stage: str, fn) -> None:
    """Run ``fn()`` in a forked child; raise TrtCrash when the child dies by a signal. Errors ``fn`` raises are
    left for the real run in this process to report."""
    if not enabled():
        return
    pid = os.fork()
    if pid == 0:  # child: never returns into the caller's stack
        code = 0
        try:
            import faulthandler

            faulthandler.disable()  # the crash is the answer here, not something to dump a trace for
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            fn()
        except BaseException:  # noqa: BLE001 (the parent reruns fn and reports what it raises)
            code = 3
        os._exit(code)
    while True:
        try:
            _pid, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except BaseException:  # interrupted (SIGINT/SIGTERM): take the child down with us
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            raise
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) not in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        raise TrtCrash(subject, stage, os.WTERMSIG(status))


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
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hold(signum, frame):
        _pending.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        got, _pending[:] = list(_pending), []
        if got:
            handler = previous.get(got[0])
            if callable(handler) and handler not in (signal.default_int_handler,):
                handler(got[0], None)
            raise KeyboardInterrupt()
