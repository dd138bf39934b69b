"""The search when FP16 error is spread over every layer: the layer-wise ranking, fast search steps, time bound."""

import numpy as np
import pytest
from trtlab.comparators.tolerances import Tolerances

from tests.mixed_precision.hazards import HAZARD_NODES, loud_nodes, planted_hazard_model, spread_error_model
from tests.mixed_precision.test_search import _samples
from trtlab.backends import parse_spec
from trtlab.mixed_precision.evaluate import Evaluator, Goal
from trtlab.mixed_precision.risk import analyze
from trtlab.mixed_precision.run import run_precision, search_spec
from trtlab.mixed_precision.search import search
from trtlab.mixed_precision.sim import name_nodes, plan_half, simulate
from trtlab.model import LoadedModel


def test_spread_error_keeps_exactly_the_loud_pairs():
    # 120 harmless nodes each add a little FP16 error (about 53 dB together); three x + 16 - 16 pairs add several
    # times more each. Only keeping all six loud nodes reaches the search goal (46 dB): the Add alone introduces
    # almost nothing on its own output (16.x rounds to 2^-7, relative 1e-4); the loss shows in the Sub reading it.
    model = spread_error_model()
    res = run_precision(LoadedModel(model, None), "fp16", "onnxrt:fp16", "onnxrt", Goal(None, min_snr=40, margin=0.5),
                        _samples(model, 4), 1, None)
    assert {k["node"] for k in res.kept} == loud_nodes()
    assert res.passed and res.complete and not res.before["passed"]
    assert res.counts["evaluations"] <= 25  # ranked pairs first: a short prefix, then one failing step per node


def test_layerwise_pass_measures_what_each_node_introduces_on_its_own():
    model, _ = name_nodes(spread_error_model())
    plan = plan_half(model, "fp16")
    risks = {r.node: r for r in analyze(model, plan, _samples(model, 1)[0], parse_spec("onnxrt"), {})}
    downs = [risks[f"loud_down_{k}"].introduced for k in range(3)]
    # the same loss wherever the pair sits: the accumulated error before it does not hide it
    assert min(downs) > 0.5 * max(downs) and min(downs) > 3e-3, downs
    for k in range(3):
        up = risks[f"loud_up_{k}"]
        assert up.introduced < 1e-3 and up.consumers > 4 * up.introduced  # ranked beside its Sub by the read loss
        assert any("consumers lose" in reason for reason in up.reasons)
    top6 = sorted(risks.values(), key=lambda r: -r.score)[:6]
    assert {r.node for r in top6} == loud_nodes()


def test_search_steps_run_extended_optimizations_with_identical_outputs():
    assert search_spec("onnxrt").options == {"opt": "extended"}
    assert search_spec("onnxrt:threads=2").options == {"threads": "2", "opt": "extended"}
    assert search_spec("onnxrt:opt=basic").options == {"opt": "basic"}  # the user's level stays
    from trtlab import backends

    model, _ = name_nodes(planted_hazard_model(harmless=16))
    sim = simulate(model, plan_half(model, "fp16"), frozenset())
    x = _samples(model, 1)[0]
    outs = []
    for spec in ("onnxrt", "onnxrt:opt=extended"):
        with backends.create(parse_spec(spec)) as b:
            b.load(sim, None)
            outs.append(b.run(x)["y"])
    np.testing.assert_array_equal(outs[0], outs[1])  # the Cast pairs that simulate FP16 storage stay


def test_max_seconds_stops_pruning_with_a_note_and_a_set_that_meets_the_goal(monkeypatch):
    import trtlab.mixed_precision.search as search_mod

    model, _ = name_nodes(planted_hazard_model(harmless=24))
    plan = plan_half(model, "fp16")
    samples = _samples(model, 3)
    goal = Goal(Tolerances(1e-3, 1e-2), margin=0.5)
    risks = analyze(model, plan, samples[0], parse_spec("onnxrt"), {})
    ranked = [r.node for r in sorted((r for r in risks if r.half), key=lambda r: -r.score)]
    ev = Evaluator(model, plan, goal, {"search": samples}, parse_spec("onnxrt"), parse_spec("onnxrt"))
    clock = iter(range(10_000))
    monkeypatch.setattr(search_mod.time, "monotonic", lambda: float(next(clock)))  # one "second" per step
    full = search(Evaluator(model, plan, goal, {"search": samples}, parse_spec("onnxrt"), parse_spec("onnxrt")),
                  ranked, max_seconds=float("inf"))
    clock = iter(range(10_000))
    out = search(ev, ranked, max_seconds=3)  # the clock counts pruning steps: growth is never cut by time
    assert full.complete and set(full.kept) == HAZARD_NODES
    assert out.reached and not out.complete and "pruning stopped at --max-seconds (3 s)" in out.note
    assert HAZARD_NODES <= set(out.kept) and ev.evaluate(out.kept).passed  # what it returns met the goal


@pytest.mark.parametrize("value", ["0", "-1"])
def test_cli_max_seconds_must_be_positive(cli, tmp_path, value):
    import onnx

    onnx.save(planted_hazard_model(harmless=8), str(tmp_path / "m.onnx"))
    r = cli("debug", "precision", str(tmp_path / "m.onnx"), "--max-seconds", value, "--out", str(tmp_path / "run"))
    assert r.code == 2 and "--max-seconds" in r.err


def test_search_order_hazards_first_then_error_per_multiply_add():
    from trtlab.mixed_precision.risk import NodeRisk, search_order

    risks = [NodeRisk("conv", "Conv", True, cost=1e6, score=0.05), NodeRisk("relu", "Relu", True, cost=1e3, score=0.02),
             NodeRisk("sum", "ReduceSum", True, cost=1e3, score=100.0), NodeRisk("shape", "Shape", False, score=5.0),
             NodeRisk("add", "Add", True, cost=1e3, score=0.01)]
    order = {r.node: i for i, r in enumerate(risks)}
    assert search_order(risks, order) == ["sum", "relu", "add", "conv"]
