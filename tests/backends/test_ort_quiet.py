"""onnxruntime's own log lines stay off stderr: a model that fails at run time reports through the exception only."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_run_failure_prints_no_onnxruntime_log_lines(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        from onnx import TensorProto, helper
        from trtlab.backends import create, parse_spec
        from trtlab.errors import TrtlabError
        g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        with create(parse_spec("onnxrt")) as b:
            b.load(m)
            try:
                b.run({"x": np.ones((2, 3), np.float32), "s": np.array([4, 4], np.int64)})
            except TrtlabError as exc:
                print("raised", exc.problem[:40])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert "raised" in proc.stdout, proc.stdout + proc.stderr
    assert "onnxruntime" not in proc.stderr and "[E:" not in proc.stderr, proc.stderr
