"""trtlab.timing.benchmark's loops: a runner whose phase timing can be switched off is timed with it off for the
latency, and with it on in a loop of its own for the H2D / compute / D2H split."""

from __future__ import annotations

from trtlab.timing import benchmark


class _Runner:
    """A runner of our own interface (trtlab's runners are ``infer`` + ``last``), recording how it was called."""

    def __init__(self, phases: bool):
        self.phases, self.calls, self.last = phases, [], {}

    def infer(self, feeds, copy_outputs=True):
        self.calls.append(self.phases)
        self.last = {"h2d_ms": 0.1, "compute_ms": 1.0, "d2h_ms": 0.2, "wall_ms": 9.0} if self.phases else \
            {"wall_ms": 1.5}
        return {}


def test_latency_loop_runs_without_the_events_and_phases_come_from_their_own_loop():
    runner = _Runner(phases=True)
    rep = benchmark(runner, {}, warmup_s=0, iterations=20, duration_s=0)
    assert runner.phases is True  # restored
    assert rep.iterations == 20 and rep.settings["phase_iterations"] == 20
    assert rep.stats["wall_ms"]["median"] == 1.5  # the event-free loop
    assert rep.stats["compute_ms"]["median"] == 1.0 and abs(rep.stats["host_ms"]["median"] - 1.3) < 1e-9
    assert runner.calls[1:21] == [False] * 20 and runner.calls[21:] == [True] * 20


class _Cpu:
    """ONNX Runtime on the CPU: host clock only, no phases to switch."""

    def __init__(self):
        self.calls, self.last = 0, {}

    def infer(self, feeds, copy_outputs=True):
        self.calls += 1
        self.last = {"host_ms": 2.0, "wall_ms": 2.0}
        return {}


def test_a_runner_without_phases_is_timed_once():
    runner = _Cpu()
    rep = benchmark(runner, {}, warmup_s=0, iterations=5, duration_s=0)
    assert rep.iterations == 5 and "phase_iterations" not in rep.settings and runner.calls == 6
    assert rep.stats["host_ms"]["median"] == 2.0
