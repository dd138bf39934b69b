"""contain.run: TensorRT work done once, in a forked child; real signals, real pipes, no TensorRT needed."""

from __future__ import annotations

import os
import signal

import pytest

from trtlab.errors import TrtlabError
from trtlab.trt import contain
from trtlab.trt.build import BuildFailure

pytestmark = pytest.mark.skipif(not contain.enabled(), reason="no fork here (or TRTLAB_NO_CONTAIN is set)")


def _segfault_while_building(_bar):
    contain.stage("building")
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_crash_in_the_child_names_the_last_stage():
    with pytest.raises(contain.TrtCrash) as info:
        contain.run("m.onnx", "parsing", _segfault_while_building)
    assert info.value.code == 1 and info.value.signal == signal.SIGSEGV
    assert "TensorRT crashed (signal 11) while building" in info.value.format()


def test_a_crash_before_any_stage_names_the_first():
    with pytest.raises(contain.TrtCrash, match="while parsing"):
        contain.run("m.onnx", "parsing", lambda _bar: os.kill(os.getpid(), signal.SIGABRT))


def test_the_result_comes_back_and_the_work_ran_once_elsewhere():
    parent = os.getpid()
    pid, big = contain.run("m", "parsing", lambda _bar: (os.getpid(), b"x" * (3 << 20)))
    assert pid != parent and len(big) == 3 << 20  # larger than a pipe's buffer


def test_errors_raised_in_the_child_are_raised_here_with_their_fields():
    def refuse(_bar):
        raise BuildFailure("m.onnx", "refused", "do this", stage="parse", nodes=[1, 2], messages=["why"])

    with pytest.raises(BuildFailure) as info:
        contain.run("m.onnx", "parsing", refuse)
    exc = info.value
    assert (exc.stage, exc.nodes, exc.messages, exc.code) == ("parse", [1, 2], ["why"], 1)
    assert exc.format() == "m.onnx | refused. Hint: do this"

    with pytest.raises(ValueError, match="plain"):
        contain.run("m", "parsing", lambda _bar: (_ for _ in ()).throw(ValueError("plain")))


def test_an_exception_that_does_not_pickle_keeps_its_words():
    class Local(Exception):  # a class defined in a function cannot be pickled
        pass

    def fail(_bar):
        raise Local("held a socket")

    with pytest.raises(TrtlabError, match="internal error: Local: held a socket"):
        contain.run("m", "parsing", fail)


class _Bar:
    def __init__(self):
        self.calls, self.tasks = [], []

    def add_task(self, description, total=None):
        self.calls.append(("add", description, total))
        return 100 + len(self.calls)

    def update(self, task, **kwargs):
        self.calls.append(("update", task, kwargs))


def test_progress_drawn_in_the_child_reaches_the_parents_bar():
    def work(bar):
        t = bar.add_task("tactics", total=3)
        bar.update(t, completed=2)
        return "ok"

    bar = _Bar()
    assert contain.run("m", "building", work, bar) == "ok"
    assert bar.calls == [("add", "tactics", 3), ("update", 101, {"completed": 2})]


def test_switched_off_it_runs_here(monkeypatch):
    monkeypatch.setenv(contain.ENV_OFF, "1")
    assert contain.run("m", "parsing", lambda _bar: os.getpid()) == os.getpid()
