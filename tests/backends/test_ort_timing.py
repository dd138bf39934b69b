"""ONNX Runtime timed like trtexec (trtlab.backends.ort_timing) and its per-node profile (ort_profile)."""

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import SHARED_MODELS
from trtlab.backends import parse_spec
from trtlab.backends.ort_profile import parse_events, profile_nodes, unique_names
from trtlab.backends.ort_timing import open_timed
from trtlab.timing import TimingReport, benchmark


def _named_badly() -> onnx.ModelProto:
    """Relu (no name) -> Add 'x' -> Mul 'x' (a duplicate name): what exporters produce."""
    nodes = [helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Add", ["r", "a"], ["s"], name="x"),
             helper.make_node("Mul", ["s", "a"], ["y"], name="x")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [64, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _feeds():
    return {"a": np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)}


def test_unique_names_leave_the_model_alone():
    model = _named_badly()
    before = model.SerializeToString()
    work, mapping = unique_names(model)
    assert model.SerializeToString() == before
    assert len({n.name for n in work.graph.node}) == 3
    assert sorted(d for _, d, _ in mapping.values()) == ["Relu_0", "x", "x (#2)"]


def test_profile_maps_every_node_to_the_graph():
    prof = profile_nodes(parse_spec("onnxrt"), _named_badly(), _feeds(), runs=5)
    assert prof["runs"] == 5 and prof["graph_nodes"] == 3
    assert {(n["name"], n["op"], n["index"]) for n in prof["nodes"]} == {("Relu_0", "Relu", 0), ("x", "Add", 1),
                                                                        ("x (#2)", "Mul", 2)}
    assert all(n["in_graph"] and n["provider"] == "CPUExecutionProvider" for n in prof["nodes"])
    assert prof["nodes_ms"] == pytest.approx(sum(n["ms"] for n in prof["nodes"]))
    assert {o["op"] for o in prof["by_op"]} == {"Relu", "Add", "Mul"}


def test_parse_events_skips_warm_runs_and_averages():
    def run(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def node(name, ts, dur, op="Conv"):
        return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur,
                "args": {"op_name": op, "provider": "CPUExecutionProvider"}}

    events = [run(0, 1000), node("a", 10, 900), run(2000, 100), node("a", 2010, 60), node("b", 2070, 20, "Relu"),
              run(3000, 100), node("a", 3010, 80), node("b", 3090, 0, "Relu"), node("a", 5000, 999)]  # last: no run
    res = parse_events(events, {"a": (0, "a", "Conv"), "b": (1, "b", "Relu")}, skip_runs=1)
    assert res["runs"] == 2 and res["run_ms"] == pytest.approx(0.1)
    assert [(n["name"], round(n["ms"], 4)) for n in res["nodes"]] == [("a", 0.07), ("b", 0.01)]
    assert res["nodes_ms"] == pytest.approx(0.08)


def test_cpu_runner_times_with_the_engine_statistics():
    backend, runner, stream = open_timed(parse_spec("onnxrt"), unique_names(_named_badly())[0], _feeds())
    assert stream is None and not runner.cuda
    out = runner.infer(_feeds())
    a = _feeds()["a"]
    np.testing.assert_allclose(out["y"], (np.maximum(a, 0) + a) * a, rtol=1e-6)
    rep = benchmark(runner, _feeds(), warmup_s=0, iterations=20, duration_s=0)
    assert isinstance(rep, TimingReport) and rep.iterations >= 20
    assert set(rep.stats) == {"host_ms", "wall_ms"}
    assert set(rep.stats["host_ms"]) == {"mean", "min", "max", "median", "p50", "p90", "p95", "p99"}


def _runnable_shared_models() -> list[str]:
    names = sorted(os.path.basename(p) for p in glob.glob(str(SHARED_MODELS / "*.onnx")))
    broken = {"ortx_bert_tokenizer.onnx", "poly_bad_graph.onnx", "poly_capability.onnx", "poly_custom_op_node.onnx",
              "poly_if_conditionally_invalid.onnx", "poly_nested_local_function.onnx", "poly_toy_subgraph.onnx"}
    return [n for n in names if n not in broken] or ["(no shared models)"]


@pytest.mark.slow
@pytest.mark.parametrize("name", _runnable_shared_models())
def test_profile_every_shared_model(name):
    """Every node ORT reports is a node of the graph (or, for Loop/Scan, of a body); in a run of at least 1 ms the
    nodes sum to within 20% of ORT's own run time in the same profiled runs (threads=1: this machine is shared)."""
    from trtlab.inputs import plan_inputs, random_feeds
    from trtlab.model import load_model, subgraphs

    if name.startswith("("):
        pytest.skip(f"{SHARED_MODELS} not present")
    model = load_model(SHARED_MODELS / name)
    feeds = random_feeds(plan_inputs(model.proto.graph, {}), 1, 0)
    prof = profile_nodes(parse_spec("onnxrt:threads=1"), model.proto, feeds, runs=5)
    has_bodies = any(True for node in model.proto.graph.node for _ in subgraphs(node))
    main = [n for n in prof["nodes"] if n["in_graph"]]
    assert main and all(model.proto.graph.node[n["index"]].op_type == n["op"] for n in main)
    assert has_bodies or len(main) == len(prof["nodes"]), [n["name"] for n in prof["nodes"] if not n["in_graph"]]
    if prof["run_ms"] >= 1.0 and not has_bodies:  # Loop/Scan spend their time between body nodes
        assert 0.8 <= prof["nodes_ms"] / prof["run_ms"] <= 1.2, prof["nodes_ms"] / prof["run_ms"]


def _cuda_or_skip():
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"onnxruntime has no CUDA provider here (providers: {ort.get_available_providers()})")
    from trtlab.trt.cuda import device_info

    if not device_info().gpus:
        pytest.skip(f"no GPU: {device_info().error}")


@pytest.mark.gpu
def test_cuda_runner_binds_on_the_device_and_times_copies_apart():
    _cuda_or_skip()
    feeds = _feeds()
    backend, runner, stream = open_timed(parse_spec("onnxrt:cuda,tf32=0"), unique_names(_named_badly())[0], feeds)
    try:
        assert runner.cuda and backend.info["provider"] == "CUDAExecutionProvider"
        out = runner.infer(feeds)
        a = feeds["a"]
        np.testing.assert_allclose(out["y"], (np.maximum(a, 0) + a) * a, rtol=1e-5, atol=1e-6)
        rep = benchmark(runner, feeds, warmup_s=0.05, iterations=50, duration_s=0)
        assert {"h2d_ms", "compute_ms", "d2h_ms", "host_ms", "wall_ms"} <= set(rep.stats)
        assert all(rep.stats[k]["min"] > 0 for k in ("h2d_ms", "compute_ms", "d2h_ms"))
        s = rep.stats
        # host (device-side H2D + compute + D2H) comes from the loop with CUDA events, wall from the loop without
        # them (H200, 64x64: host 0.057 ms, wall 0.053 ms): the same work, not the same iterations
        assert s["host_ms"]["median"] <= s["wall_ms"]["median"] * 1.5
        again = runner.infer(feeds)  # outputs bound once by now: the per-iteration plans
        assert runner.device_outputs is not None
        np.testing.assert_allclose(again["y"], (np.maximum(a, 0) + a) * a, rtol=1e-5, atol=1e-6)
        print(f"\nCUDA 64x64: h2d {s['h2d_ms']['median']:.4f} compute {s['compute_ms']['median']:.4f} "
              f"d2h {s['d2h_ms']['median']:.4f} wall {s['wall_ms']['median']:.4f} ms")
    finally:
        runner.close()
        backend.close()
        stream.close()


@pytest.mark.gpu
def test_cuda_profile_maps_nodes():
    _cuda_or_skip()
    prof = profile_nodes(parse_spec("onnxrt:cuda"), _named_badly(), _feeds(), runs=5)
    named = {n["name"]: n for n in prof["nodes"] if n["in_graph"]}
    assert set(named) == {"Relu_0", "x", "x (#2)"}
    assert {n["provider"] for n in named.values()} == {"CUDAExecutionProvider"}
