"""inspect: dim names that look like rich markup are printed, and strict shape-inference failures are warnings."""

from __future__ import annotations

import onnx
from onnx import helper

from tests.passes.helpers import make_model, tensor


def test_markup_like_dim_names_are_shown(cli, tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", ["[batch]", 3])],
                       [tensor("y", ["[batch]", 3])])
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("inspect", "m.onnx")
    assert r.code == 0
    assert "[[batch], 3]" in r.out, r.out


def test_strict_shape_inference_failure_is_a_warning(cli, tmp_path):
    model = make_model([helper.make_node("Add", ["a", "b"], ["y"])], [tensor("a", [2, 3]), tensor("b", [4, 5])],
                       [tensor("y", [2, 3])])
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("inspect", "m.onnx", "--json")
    import json

    warnings = json.loads(r.out)["warnings"]
    assert any("shape inference fails" in w for w in warnings), warnings
    r = cli("inspect", "m.onnx")
    assert "shape inference fails" in r.err + r.out


def test_inspect_engine_says_so_and_shows_provenance(cli, tmp_path):
    import pytest

    from trtlab.errors import TrtlabError
    from trtlab.trt.module import load

    try:
        load()
    except TrtlabError as exc:
        pytest.skip(f"no TensorRT module: {exc.problem}")
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3])], [tensor("y", [1, 3])])
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("build", "m.onnx", "-o", "m.engine", "--precision", "fp16")
    assert r.code == 0, r.out + r.err
    r = cli("inspect", "m.engine")
    assert r.code == 0 and "a TensorRT engine" in " ".join(r.out.split()) and "built by" in r.out, r.out + r.err
    assert "precision fp16, 100% of float compute nodes converted" in " ".join(r.out.split())


def test_doctor_for_compare_names_the_targets_that_work(cli):
    r = cli("doctor", "--for", "compare")
    if r.code == 0:
        return  # a machine ready for TensorRT targets
    assert "compare targets that work here: onnxrt (CPU)" in r.out and "not here: trt" in r.out, r.out
