"""`trtlab compare --layerwise --attribute`: error a node introduces itself vs error it inherits."""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import shared_model


def _results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def test_fp16_overflow_is_attributed_to_the_node_that_introduces_it(cli, tmp_path):
    """poly_needs_constraints in FP16: the Sub that cancels an overflowed Add introduces the error; the MatMul after
    it, run alone on the reference's inputs, is exact: it only inherits."""
    run_dir = tmp_path / "run"
    r = cli("compare", str(shared_model("poly_needs_constraints.onnx")), "--target", "onnxrt:fp16", "--layerwise",
            "--attribute", "--out", str(run_dir))
    assert r.code == 1, r
    res = _results(run_dir)
    by_tensor = {a["tensor"]: a for a in res["attribution"]}
    first = res["first_divergence"]["tensor"]
    assert by_tensor[first]["op"] == "Sub" and by_tensor[first]["verdict"] == "introduces"
    assert by_tensor[first]["introduced"] > 0.5 * by_tensor[first]["total"]
    later = [a for a in res["attribution"] if a["tensor"] != first]
    assert later and all(a["verdict"] == "inherits" for a in later)
    assert all(a["introduced"] < 0.01 * a["total"] for a in later)
    layers = {m["name"]: m for m in res["layers"]}
    assert layers[first]["introduced_max_abs"] == by_tensor[first]["introduced"]
    assert layers[first]["introduced_cosine"] is not None
    assert "error attribution" in r.out and "introduces" in r.out and "inherits" in r.out
    html = (run_dir / "report.html").read_text()
    assert '<section id="attribution">' in html and "introduced by the layer itself" in html


def _two_error_model(path):
    """x in [0,1] -> +1000 -> -1000 (FP16 storage at 1000 loses ~0.25: the Sub introduces it) -> *10 (inherits)
    -> +30000 -> -30000 (storage at 30000 loses up to 8 more: the late Sub introduces that on top)."""
    def const(name, v):
        return numpy_helper.from_array(np.array(v, np.float32), name)

    nodes = [helper.make_node("Add", ["x", "c1000"], ["a"], name="early_add"),
             helper.make_node("Sub", ["a", "c1000"], ["b"], name="early_sub"),
             helper.make_node("Mul", ["b", "c10"], ["c"], name="scale"),
             helper.make_node("Add", ["c", "c30000"], ["d"], name="late_add"),
             helper.make_node("Sub", ["d", "c30000"], ["e"], name="late_sub")]
    graph = helper.make_graph(nodes, "two_errors", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4096])],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 4096])],
                              [const("c1000", 1000.0), const("c10", 10.0), const("c30000", 30000.0)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def test_late_node_error_on_top_of_an_early_one_splits(cli, tmp_path):
    model = _two_error_model(tmp_path / "two.onnx")
    run_dir = tmp_path / "run"
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--attribute", "--no-report",
            "--out", str(run_dir))
    assert r.code == 1, r
    att = {a["node"]: a for a in _results(run_dir)["attribution"]}
    assert [a["node"] for a in _results(run_dir)["attribution"]] == ["early_sub", "scale", "late_sub"]
    early, scale, late = att["early_sub"], att["scale"], att["late_sub"]
    assert early["verdict"] == "introduces" and 0.1 < early["introduced"] <= 0.25 + 1e-3
    # nothing before it fails: its error is its own, bar the FP16 rounding of x itself (~5e-4)
    assert abs(early["total"] - early["introduced"]) < 1e-3
    # the Mul scales the inherited error by 10 and adds only its own FP16 rounding (relative ~5e-4)
    assert scale["verdict"] == "inherits" and scale["introduced"] < 0.01 and scale["total"] > 1.0
    assert abs(scale["inherited"] - scale["total"]) < 0.01
    # the late Sub: up to 8 of its own (storage at 30000) on top of up to 2.5 inherited
    assert late["verdict"] == "introduces" and 4 < late["introduced"] <= 8 + 1e-3
    assert late["total"] > late["introduced"] and late["inherited"] > 0


def test_attribute_needs_layerwise_and_a_positive_top(cli, tmp_path):
    model = str(shared_model("poly_needs_constraints.onnx"))
    r = cli("compare", model, "--target", "onnxrt:fp16", "--attribute", "--no-report", "--out", str(tmp_path / "a"))
    assert r.code == 2 and "--layerwise" in r.err
    r = cli("compare", model, "--target", "onnxrt:fp16", "--layerwise", "--attribute", "--attribute-top", "0",
            "--no-report", "--out", str(tmp_path / "b"))
    assert r.code == 2 and "--attribute-top" in r.err


def test_attribute_top_limits_the_layers(cli, tmp_path):
    model = _two_error_model(tmp_path / "two.onnx")
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--attribute", "--attribute-top", "1",
            "--no-report", "--json")
    res = json.loads(r.out)
    # the first divergence always, plus the single worst failing layer
    assert {a["node"] for a in res["attribution"]} == {"early_sub", "late_sub"}
