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
