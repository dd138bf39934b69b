"""The Python API: verbs as functions on ``trtlab``, typed results that round-trip through JSON."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import trtlab
from tests.conftest import ROOT
from trtlab.errors import TrtlabError


def _relu_model() -> onnx.ModelProto:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_api_is_lazy_and_exposed():
    code = ("import sys, trtlab; assert 'trtlab.api' not in sys.modules; f = trtlab.compare; "
            "assert 'trtlab.api' in sys.modules; print(f.__module__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "trtlab.api"
    for name in trtlab.API:
        obj = getattr(trtlab, name)
        assert obj.__doc__, f"trtlab.{name} has no docstring"
    with pytest.raises(AttributeError):
        trtlab.no_such_verb  # noqa: B018


def test_compare_proto_with_array_inputs_round_trips(tmp_path):
    model = _relu_model()
    before = model.SerializeToString()
    x = np.array([[-1, 0, 1], [2, -3, 4]], np.float32)
    res = trtlab.compare(model, target="reference", inputs=x, layerwise=True, out=tmp_path / "run")
    assert model.SerializeToString() == before, "the caller's ModelProto was modified"
    assert isinstance(res, trtlab.CompareResult) and res.passed
    assert res.outputs[0].max_abs == 0.0 and res.outputs[0].name == "y"
    saved = np.load(tmp_path / "run" / "inputs.npz")
    assert np.array_equal(saved["x"], x), "the given array was not the input used"
    back = trtlab.CompareResult.from_json(tmp_path / "run")
    assert back.to_json() == res.to_json() == json.loads((tmp_path / "run" / "results.json").read_text())
    assert type(back.outputs[0]).__name__ == "TensorMetrics" and back.run_dir == tmp_path / "run"
    assert trtlab.CompareResult.from_json(res.to_json()).passed


def test_compare_failing_verdict_and_nonfinite_round_trip(tmp_path):
    """A target that overflows in FP16: passed is False, and the NaN/inf metrics come back as floats."""
    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"], name="mul")], "big",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              [helper.make_tensor("k", TensorProto.FLOAT, [], [1e5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    res = trtlab.compare(model, target="onnxrt:fp16", inputs={"x": np.ones(4, np.float32)}, out=tmp_path / "r")
    assert res.passed is False and not res.outputs[0].passed
    back = trtlab.CompareResult.from_json(tmp_path / "r" / "results.json")
    assert back.passed is False
    assert math.isinf(back.outputs[0].max_abs) or back.outputs[0].max_abs == res.outputs[0].max_abs
    assert back.to_json() == res.to_json()


def test_inputs_are_checked_against_the_model(tmp_path):
    with pytest.raises(TrtlabError, match="no data for input"):
        trtlab.compare(_relu_model(), target="reference", inputs={"z": np.zeros((2, 3), np.float32)},
                       out=tmp_path / "a")
    with pytest.raises(TrtlabError, match="shape"):
        trtlab.compare(_relu_model(), target="reference", inputs=np.zeros((5,), np.float32), out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists(), "a failed call left its run dir"


def test_list_of_samples(tmp_path):
    xs = [{"x": np.full((2, 3), v, np.float32)} for v in (-1.0, 1.0, 2.0)]
    res = trtlab.compare(_relu_model(), target="reference", inputs=xs, out=tmp_path / "r")
    assert res.samples == 3


def test_surgeon_and_inspect(tmp_path):
    model = _relu_model()
    model.graph.node.insert(0, helper.make_node("Identity", ["x"], ["x1"], name="id"))
    model.graph.node[1].input[0] = "x1"
    info = trtlab.inspect(model)
    assert info.nodes == 2 and info.passed and trtlab.InspectResult.from_json(info.to_json()) == info
    res = trtlab.surgeon(model, passes=["simplify", ("cleanup", {})], output=tmp_path / "o.onnx",
                         run_dir=tmp_path / "run", verify=True)
    assert res.passed and [p.name for p in res.passes] == ["simplify", "cleanup"]
    assert all(p.verified for p in res.passes)
    assert [n.op_type for n in onnx.load(tmp_path / "o.onnx").graph.node] == ["Relu"]
    assert len(model.graph.node) == 2, "the caller's ModelProto was modified"
    back = trtlab.SurgeonResult.from_json(tmp_path / "run")
    assert back.passes[0].nodes_before == 2 and back.to_json() == res.to_json()


def test_surgeon_keep_fp32_option_reaches_the_pass(tmp_path):
    model = _relu_model()
    res = trtlab.surgeon(model, passes=["to-fp16"], keep_fp32=["Relu"], output=tmp_path / "h.onnx",
                         run_dir=tmp_path / "run")
    assert res.passes[0].options["keep_fp32"] == ["Relu"]
    assert [n.op_type for n in onnx.load(tmp_path / "h.onnx").graph.node] == ["Relu"], "Relu was not kept in FP32"


def test_check_and_build_api(tmp_path):
    pytest.importorskip("tensorrt_rtx")
    chk = trtlab.check(_relu_model(), out=tmp_path / "c")
    assert chk.passed and chk.parseable
    assert trtlab.CheckResult.from_json(tmp_path / "c").nodes[0].op == "Relu"
    built = trtlab.build(_relu_model(), tmp_path / "m.engine", out=tmp_path / "b")
    assert built.passed and (tmp_path / "m.engine").stat().st_size > 0
    assert trtlab.BuildResult.from_json(tmp_path / "b").engine["path"] == str(tmp_path / "m.engine")


def test_reduce_api(tmp_path):
    """A command check: failing = the candidate still holds a Relu."""
    model = _relu_model()
    model.graph.node.insert(0, helper.make_node("Neg", ["x"], ["n"], name="neg"))
    model.graph.node[1].input[0] = "n"
    script = tmp_path / "has_relu.py"
    script.write_text("import sys, onnx\nsys.exit(int(any(n.op_type == 'Relu' for n in "
                      "onnx.load(sys.argv[1]).graph.node)))\n")
    res = trtlab.reduce(model, check=f"{sys.executable} {script} {{model}}", output=tmp_path / "min.onnx",
                        out=tmp_path / "run")
    assert res.passed and res.nodes_after == 1 and res.kept[0]["op"] == "Relu"
    assert trtlab.ReduceResult.from_json(tmp_path / "run").passed


def test_from_json_refuses_a_foreign_object():
    with pytest.raises(TrtlabError, match="lacks"):
        trtlab.CompareResult.from_json({"schema": "trtlab.compare/1"})


def test_readme_python_api_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "runs" / "fp16" / "results.json").exists() and (tmp_path / "folded.onnx").exists()
