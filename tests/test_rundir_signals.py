"""Signals held around temp files and run folders wait even when other threads exist (onnxruntime starts them):
a signal mask held only by the main thread let the kernel hand SIGTERM to another thread, and Python ran the
handler at once (a temp file was left behind in CI)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from trtlab.rundir import _release_signals, hold_signals


class _Term(Exception):
    pass


def test_a_held_signal_waits_for_the_release_with_threads_alive():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    seen: list[str] = []

    def handler(signum, frame):
        seen.append("handled")
        raise _Term()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        held = hold_signals()
        assert held is not None
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the eval loop runs pending handlers meanwhile
        assert seen == []
        with pytest.raises(_Term):
            _release_signals(held)
        assert seen == ["handled"] and signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.set()
        other.join()


def test_nothing_pending_releases_quietly():
    held = hold_signals()
    _release_signals(held)
    _release_signals(None)
