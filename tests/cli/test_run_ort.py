"""`trtlab run MODEL.onnx --backend onnxrt`: trtexec-style timing, per-node profile, shape sweeps and profile
suggestions on the CPU (the CUDA side: tests/backends/test_ort_timing.py, marked gpu)."""

import dataclasses
import json

import onnx
import pytest
from onnx import TensorProto, helper

from trtlab.timing import TimingReport

FAST = ["--duration", "0", "--iterations", "5", "--warmup", "0"]


@pytest.fixture
def dynamic_model(tmp_path):
    """x [N, 4] -> Relu -> Add(x) -> y: a dynamic batch."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Add", ["r", "x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_run_onnxrt_timing_json_and_node_profile(cli, tmp_path):
    r = cli("run", "example:tinycnn", "--backend", "onnxrt", *FAST, "--timing-json", str(tmp_path / "t.json"),
            "--profile-nodes", "--out", str(tmp_path / "run"), "--json")
    assert r.code == 0, r
    res = json.loads(r.out)
    assert res["schema"] == "trtlab.run/1" and res["backend"]["provider"] == "CPUExecutionProvider"
    timing = json.loads((tmp_path / "t.json").read_text())
    assert set(timing) == {f.name for f in dataclasses.fields(TimingReport)}  # the engines' schema
    assert timing["iterations"] >= 5 and {"host_ms", "wall_ms"} <= set(timing["stats"])
    prof = res["node_profile"]
    from trtlab.examples import build_example

    graph_nodes = build_example("tinycnn").graph.node
    assert prof["graph_nodes"] == len(graph_nodes) and prof["nodes"]
    for n in prof["nodes"]:
        assert n["in_graph"] and graph_nodes[n["index"]].op_type == n["op"]
    assert (tmp_path / "run" / "results.json").exists()
    r = cli("report", str(tmp_path / "run"))
    html = (tmp_path / "run" / "report.html").read_text()
    assert r.code == 0 and "Per-node time" in html and "<svg" in html and "GPU compute" not in html


def test_run_text_output_lists_top_nodes(cli, tmp_path):
    r = cli("run", "example:tinycnn", "--backend", "onnxrt", *FAST, "--profile-nodes", "--top", "3",
            "--out", str(tmp_path / "run"))
    assert r.code == 0, r
    assert "CPUExecutionProvider" in r.out and "p99" in r.out and "by op:" in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 100


def test_sweep_shapes_and_profile_points(cli, tmp_path, dynamic_model):
    r = cli("run", str(dynamic_model), "--backend", "onnxrt", *FAST, "--sweep-shapes", "x:1x4:8x4",
            "--sweep-points", "3", "--out", str(tmp_path / "a"), "--json")
    assert r.code == 0, r
    rows = json.loads(r.out)["sweep"]
    assert [row["shapes"]["x"] for row in rows] == [[1, 4], [4, 4], [8, 4]]
    assert all(row["metric"] == "host_ms" and row["median_ms"] > 0 for row in rows)
    r = cli("run", str(dynamic_model), "--backend", "onnxrt", *FAST, "--profile", "x:1x4:2x4:16x4",
            "--input-shapes", "x:2x4", "--out", str(tmp_path / "b"), "--json")
    assert [row["label"] for row in json.loads(r.out)["sweep"]] == ["x:1x4", "x:2x4", "x:16x4"]


def test_suggest_profile_from_a_data_loader(cli, tmp_path, dynamic_model):
    script = tmp_path / "loader.py"
    script.write_text("import numpy as np\n"
                      "def load():\n"
                      "    for n in (1, 2, 2, 8, 2):\n"
                      "        yield {'x': np.ones((n, 4), np.float32)}\n")
    r = cli("run", str(dynamic_model), "--backend", "onnxrt", *FAST, "--data-loader-script", f"{script}:load",
            "--suggest-profile", "--out", str(tmp_path / "run"), "--json")
    assert r.code == 0, r
    res = json.loads(r.out)
    p = res["suggested_profile"]["x"]
    assert (p["min"], p["opt"], p["max"]) == ([1, 4], [2, 4], [8, 4])
    assert p["histogram"][0] == {"shape": [2, 4], "count": 3}
    assert res["suggested_profile_arg"] == "x:1x4:2x4:8x4"
    cli("report", str(tmp_path / "run"))
    assert "x:1x4:2x4:8x4" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.parametrize("args,code,text", [
    (["--backend", "reference"], 2, "run times trt (engines) or onnxrt"),
    (["--backend", "onnxrt", "--suggest-profile"], 2, "--data-loader-script"),
    (["--backend", "onnxrt", "--sweep-shapes", "x:1x4"], 2, "NAME:MIN:MAX"),
    (["--backend", "onnxrt", "--sweep-shapes", "x:8x4:1x4"], 2, "MIN dimension is larger"),
    (["--backend", "onnxrt", "--sweep-shapes", "x:1x4:8x4", "--sweep-points", "1"], 2, "at least 2 points"),
    (["--backend", "onnxrt", "--sweep-shapes", "x:1x4:8x4", "--profile", "x:1x4:2x4:4x4"], 2, "give one"),
    (["--backend", "onnxrt:bogus"], 2, "unknown option"),
    (["--profile-nodes"], 2, "works with --backend onnxrt"),
])
def test_bad_arguments_are_one_line(cli, tmp_path, dynamic_model, args, code, text):
    r = cli("run", str(dynamic_model), *args, "--out", str(tmp_path / "run"))
    assert r.code == code and text in r.err and r.err.count("\n") == 1, r
    assert not (tmp_path / "run").exists()


def test_cuda_without_the_provider_exits_3(cli, tmp_path, dynamic_model):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    r = cli("run", str(dynamic_model), "--backend", "onnxrt:cuda", "--out", str(tmp_path / "run"))
    assert r.code == 3 and "CUDA execution provider is not available" in r.err and "GPU setup" in r.err


def test_compare_sweep_one_row_per_shape(cli, tmp_path, dynamic_model):
    r = cli("compare", str(dynamic_model), "--target", "onnxrt:fp16", "--sweep-shapes", "x:1x4:64x4",
            "--sweep-points", "4", "--out", str(tmp_path / "run"), "--json")
    assert r.code == 0, r
    res = json.loads(r.out)
    assert res["schema"] == "trtlab.shape-sweep/1" and res["passed"]
    assert [row["shapes"]["x"][0] for row in res["sweep"]] == [1, 22, 43, 64]
    assert all(row["worst_output"] == "y" and row["max_abs"] < 1e-2 for row in res["sweep"])
    r = cli("compare", str(dynamic_model), "--target", "onnxrt:fp16", "--sweep-shapes", "x:1x4:64x4",
            "--layerwise", "--out", str(tmp_path / "run2"))
    assert r.code == 2 and "--sweep-shapes" in r.err
