"""The mixed-precision search on models built in code: planted FP16 hazards among 120 harmless nodes."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from trtlab.comparators.tolerances import Tolerances

from tests.mixed_precision.hazards import HAZARD_NODES, harmless_model, planted_hazard_model
from trtlab.inputs import plan_inputs, random_feeds
from trtlab.mixed_precision.evaluate import Evaluator, Goal
from trtlab.mixed_precision.run import run_precision
from trtlab.mixed_precision.sim import name_nodes, plan_half, simulate
from trtlab.model import LoadedModel


def _samples(model, n):
    plan = plan_inputs(model.graph, {}, {}, None)
    return [random_feeds(plan, 1, i) for i in range(n)]


def _saturating_chain():
    """x + 65504 - 65504: FP16 storage loses x (Polygraphy's needs_constraints, built here)."""
    nodes = [helper.make_node("Add", ["x", "big"], ["a"], name="add"),
             helper.make_node("Sub", ["a", "big"], ["y"], name="sub")]
    g = helper.make_graph(nodes, "sat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])],
                          [numpy_helper.from_array(np.array(65504.0, np.float32), "big")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _run(model, path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString() if path is None else str(path), so,
                                providers=["CPUExecutionProvider"])
    return sess


def test_simulation_shows_the_loss_that_onnxruntime_cpu_hides():
    # onnxruntime's CPU provider has no FP16 Add/Sub: it computes them in FP32 and elides the Casts between them,
    # so the converted model looks exact; the storage simulation rounds where the mixed model stores half.
    from trtlab.passes.to_half import convert_to_half

    model, _ = name_nodes(_saturating_chain())
    x = {"x": np.random.default_rng(0).uniform(0, 1, (4, 8)).astype(np.float32)}
    converted = _run(convert_to_half(model, "fp16"), None).run(None, x)[0]
    plan = plan_half(model, "fp16")
    simulated = _run(simulate(model, plan, frozenset()), None).run(None, x)[0]
    kept = _run(simulate(model, plan, frozenset({"add", "sub"})), None).run(None, x)[0]
    assert np.abs(converted - x["x"]).max() < 1e-2  # hidden
    assert np.abs(simulated).max() == 0.0  # x is lost in FP16 storage
    np.testing.assert_allclose(kept, x["x"], atol=1e-2)
    # widen: the same faithful run for any FP16 model file (here the converted one)
    from trtlab.mixed_precision.widen import low_precision_share, widen

    widened = _run(widen(convert_to_half(model, "fp16")), None).run(None, x)[0]
    assert np.abs(widened).max() == 0.0
    assert low_precision_share(convert_to_half(model, "fp16")) == 1.0
    assert low_precision_share(convert_to_half(model, "fp16", ["add", "sub"])) == 0.0


def test_planted_hazards_are_found_and_every_kept_node_is_necessary(tmp_path):
    model = planted_hazard_model()
    assert len(model.graph.node) > 100
    samples = _samples(model, 6)
    goal = Goal(Tolerances(1e-3, 1e-2), margin=0.5)
    out = tmp_path / "mixed.onnx"
    res = run_precision(LoadedModel(model, None), "fp16", "onnxrt:fp16", "onnxrt", goal, samples, None, out)
    kept = {k["node"] for k in res.kept}
    assert HAZARD_NODES <= kept and len(kept - HAZARD_NODES) <= 3, kept
    assert res.passed and not res.before["passed"]  # all-FP16 misses, the mixed model meets it, held out
    assert res.complete and res.counts["evaluations"] < 60
    assert res.counts["reference_runs"] == len(samples)  # FP32 reference computed once per sample
    assert res.low_precision_fraction > 0.9
    # necessity, checked independently: dropping any kept node breaks the (search) goal
    named, _ = name_nodes(model)
    ev = Evaluator(named, plan_half(named, "fp16"), goal, {"search": samples[:4]}, *_specs())
    for node in kept:
        assert not ev.evaluate(kept - {node}).passed, node
    # the mixed model: real FP16 weights, FP32 I/O, Casts only at island boundaries, loads in onnxruntime
    mixed = onnx.load(str(out))
    assert mixed.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert sum(t.data_type == TensorProto.FLOAT16 for t in mixed.graph.initializer) > 50
    casts = [n for n in mixed.graph.node if n.op_type == "Cast"]
    assert len(casts) <= 2 * 2 + 2  # two islands (in and out of each) + the graph input and output
    assert res.mixed_onnxruntime["loads"]


def _specs():
    from trtlab.backends import parse_spec

    return parse_spec("onnxrt"), parse_spec("onnxrt")


def test_nothing_kept_when_all_half_meets_the_goal():
    model = harmless_model()
    res = run_precision(LoadedModel(model, None), "fp16", "onnxrt:fp16", "onnxrt", Goal(Tolerances(1e-3, 1e-2)),
                        _samples(model, 3), 1, None)
    assert res.kept == [] and res.counts["evaluations"] == 2  # all half on search, then held out


def test_cli_writes_mixed_model_kept_lists_and_report(cli, tmp_path):
    src = tmp_path / "hazard.onnx"
    onnx.save(planted_hazard_model(harmless=24), str(src))
    r = cli("debug", "precision", str(src), "-o", str(tmp_path / "mixed.onnx"), "--samples", "4",
            "--out", str(tmp_path / "run"))
    assert r.code == 0, r.err
    assert "MEETS the goal" in r.out
    kept = (tmp_path / "run" / "kept_fp32.txt").read_text().split()
    assert HAZARD_NODES <= set(kept)
    patterns = (tmp_path / "run" / "autocast_nodes_to_exclude.txt").read_text().split()
    assert "^overflow_sum$" in patterns
    assert (tmp_path / "run" / "report.html").exists()
    assert max(len(line) for line in r.out.splitlines() if str(tmp_path) not in line) <= 80


@pytest.mark.parametrize("args,hint", [(["--samples", "1"], "at least 2 samples"),
                                       (["--target", "reference"], "onnxrt targets"),
                                       (["--margin", "0"], "--margin")])
def test_cli_bad_input_exits_2(cli, tmp_path, args, hint):
    src = tmp_path / "sat.onnx"
    onnx.save(_saturating_chain(), str(src))
    r = cli("debug", "precision", str(src), *args, "--out", str(tmp_path / "run"))
    assert r.code == 2 and hint in r.err, r.err
    assert not Path(tmp_path / "mixed.onnx").exists()


def test_compare_fp16_risk_ranks_the_hazards(cli, tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(planted_hazard_model(harmless=8), str(src))
    r = cli("compare", str(src), "--target", "onnxrt:fp16", "--fp16-risk", "--json", "--no-report",
            "--out", str(tmp_path / "run"))
    risk = json.loads(r.out)["fp16_risk"]
    top = {x["node"] for x in risk[:4]}
    assert top == HAZARD_NODES, risk[:5]
    assert any("> 65504" in reason for reason in risk[0]["reasons"])


def test_cli_cuda_target_without_the_provider_exits_3(cli, tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("the CUDA provider is present here")
    src = tmp_path / "sat.onnx"
    onnx.save(_saturating_chain(), str(src))
    r = cli("debug", "precision", str(src), "--target", "onnxrt:cuda,fp16", "--out", str(tmp_path / "run"))
    assert r.code == 3 and "CUDA execution provider" in r.err


def test_cli_says_so_when_no_set_meets_the_goal(cli, tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(planted_hazard_model(harmless=8), str(src))
    r = cli("debug", "precision", str(src), "--samples", "3", "--max-evaluations", "2", "--json", "--no-report",
            "--out", str(tmp_path / "run"))
    res = json.loads(r.out)
    assert r.code == 1 and not res["passed"] and not res["reached"]
    assert "before the goal was reached" in res["notes"][-1]
    assert len(res["evaluations"]) >= 3  # the log is kept: the search steps and the held-out verdicts


def test_weights_listed_as_graph_inputs_stay(tmp_path):
    # old exporters list initializers among the graph inputs: dropping one the simulation no longer reads would
    # leave a required input without a value
    model = harmless_model(8)
    model.graph.input.extend([helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims))
                              for t in model.graph.initializer])
    named, _ = name_nodes(model)
    sim = simulate(named, plan_half(named, "fp16"), frozenset())
    x = {"x": np.ones((2, 64), np.float32)}
    assert _run(sim, None).run(None, x)[0].shape == (2, 64)
