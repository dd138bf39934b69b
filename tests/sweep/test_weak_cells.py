"""A sweep cell whose compare said "this check proves little" (the reference is degenerate on the inputs used)
shows it: ``weak_inputs`` in the cell's metrics, a "weak" marker in the report and the terminal summary. The
verdict stays the command's exit code."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from reports import sweep as sweep_report


@pytest.mark.slow
def test_weak_pass_is_marked_in_the_cell_and_the_report(cli, tmp_path):
    # y = Relu(x - 5) with x in [0, 1): all zeros on the reference, so the pass proves little
    graph = h.make_graph([h.make_node("Sub", ["x", "c"], ["t"]), h.make_node("Relu", ["t"], ["y"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, [1, 16])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 16])], [nh.from_array(np.float32(5), "c")])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, tmp_path / "const_ref.onnx")
    r = cli("sweep", str(tmp_path / "const_ref.onnx"), "--task", "compare --target onnxrt:fp16",
            "--out", str(tmp_path / "sw"))
    assert r.code == 0, r
    assert "passed on weak inputs" in r.out and "pass(weak)" in r.out
    res = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    cell = res["cells"][0]
    assert cell["verdict"] == "pass" and cell["metrics"]["weak_inputs"] == ["y"]
    html = sweep_report.render(res, tmp_path / "sw")
    assert ">weak</span>" in html and "1 passed on weak inputs" in html
