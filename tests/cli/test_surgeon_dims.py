"""surgeon verification picks dynamic dims that run (a reflect Pad does not run on 1x1), and refuses to write an
unverified model when none does, unless --no-verify."""

from __future__ import annotations

import json

import onnx
from onnx import helper

from tests.passes.helpers import const, make_model, tensor


def _reflect_pad(min_dim_ok=True):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
             helper.make_node("Add", ["one", "one"], ["two"]),
             helper.make_node("Mul", ["p", "two"], ["y"])]
    pads = [0, 0, 3, 3, 0, 0, 3, 3]
    return make_model(nodes, [tensor("x", [1, 1, "h", "w"])], [tensor("y", [1, 1, "H", "W"])],
                      [const("pads", pads, "int64"), const("one", 1.0)])


def test_dims_that_run_are_chosen(cli, tmp_path):
    onnx.save(_reflect_pad(), tmp_path / "m.onnx")
    r = cli("surgeon", "m.onnx", "--fold-constants", "-o", "out.onnx", "--json")
    assert r.code == 0, r.out + r.err
    data = json.loads(r.out)
    assert data["verify"]["enabled"] and all(p["verified"] for p in data["passes"]), data
    assert any("set to 4" in w for w in data["warnings"]), data["warnings"]
    assert (tmp_path / "out.onnx").exists()


def test_no_dims_run_no_file_written(cli, tmp_path):
    model = _reflect_pad()
    model.graph.node[0].input[1] = "bigpads"
    model.graph.initializer.append(const("bigpads", [0, 0, 600, 600, 0, 0, 600, 600], "int64"))
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("surgeon", "m.onnx", "--fold-constants", "-o", "out.onnx")
    assert r.code == 2 and "--input-shapes" in r.err and not (tmp_path / "out.onnx").exists()
    r = cli("surgeon", "m.onnx", "--fold-constants", "--input-shapes", "x:1x1x700x700", "-o", "out.onnx")
    assert r.code == 0 and (tmp_path / "out.onnx").exists()
    r = cli("surgeon", "m.onnx", "--fold-constants", "--no-verify", "-o", "out2.onnx")
    assert r.code == 0 and (tmp_path / "out2.onnx").exists()
