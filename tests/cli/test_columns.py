"""Terminal output fits 80 columns: every stdout/stderr line of a set of commands (warnings, tables, verdicts,
engine views, surgeon, check, debug reduce, doctor) is at most 80 characters wide, on a model with long names and
unnamed nodes. The exceptions: a copyable command (``reproduce: CMD``), printed whole on its own line, and a single
word longer than a line."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.conftest import shared_model

WIDTH = 80
LONG = "save_infer_model/scale_0.tmp_0_and_a_name_much_longer_than_any_table_column"


def _classifier(path):
    """Paddle-style: a dynamic batch dim with a long name, unnamed nodes, a long output name, class scores."""
    rng = np.random.RandomState(0)
    x = h.make_tensor_value_info("x_input_tensor_with_a_long_name", T.FLOAT, ["p2o.DynamicDimension.0", 32])
    y = h.make_tensor_value_info(LONG, T.FLOAT, ["p2o.DynamicDimension.0", 10])
    w = nh.from_array(rng.randn(32, 10).astype(np.float32), "linear_0.w_0_weights_with_a_long_name")
    s = nh.from_array(np.array(3.0, np.float32), "scale")
    nodes = [h.make_node("MatMul", ["x_input_tensor_with_a_long_name", "linear_0.w_0_weights_with_a_long_name"],
                         ["m"]),
             h.make_node("Mul", ["m", "scale"], ["t"]),
             h.make_node("Softmax", ["t"], [LONG], axis=-1)]
    model = h.make_model(h.make_graph(nodes, "g", [x], [y], [w, s]), opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def _wide(text: str) -> list[str]:
    """Lines past 80 columns, less the allowed ones: a copyable command, and a single word (a name or a path)
    longer than a line, which stays whole on its own line rather than being cut."""
    return [line for line in text.splitlines() if len(line) > WIDTH and not line.startswith("reproduce: ")
            and len(line.split()) > 1]


@pytest.fixture
def narrow(monkeypatch):
    from trtlab import ui

    monkeypatch.setattr(ui.out, "_width", WIDTH)
    monkeypatch.setattr(ui.err, "_width", WIDTH)


def test_every_line_fits_80_columns(cli, tmp_path, narrow):
    _classifier(tmp_path / "m.onnx")
    loop = shared_model("poly_loop.onnx")
    commands = [
        ("compare", "m.onnx", "--layerwise", "--target", "onnxrt:fp16", "--atol", "1e-9", "--rtol", "0"),
        ("compare", "m.onnx", "--target", "onnxrt:fp16", "--task", "classification"),
        ("compare", "m.onnx", "--target", "onnxrt", "--sweep-shapes",
         "x_input_tensor_with_a_long_name:1x32:8x32", "--sweep-points", "2"),
        ("surgeon", "m.onnx", "--fold-constants", "--cleanup", "--to-fp16", "-o", "s.onnx"),
        ("run", "m.onnx", "--backend", "onnxrt", "--iterations", "3"),
        ("check", str(loop)),
        ("debug", "reduce", str(loop), "--fails", "check", "-o", "min.onnx"),
        ("doctor",),
    ]
    if "tensorrt_rtx" in sys.modules or _has("tensorrt_rtx"):
        commands += [
            ("build", "m.onnx", "-o", "an_engine_file_with_a_long_name_to_widen_every_line.engine", "--precision",
             "fp16", "--profile", "x_input_tensor_with_a_long_name:1x32:4x32:8x32"),
            ("build", "m.onnx", "-o", "b.engine", "--profile", "x_input_tensor_with_a_long_name:1x32:4x32:8x32"),
            ("inspect", "an_engine_file_with_a_long_name_to_widen_every_line.engine"),
            ("diff", "an_engine_file_with_a_long_name_to_widen_every_line.engine", "b.engine"),
        ]
    wide = {}
    for args in commands:
        r = cli(*args)
        assert r.code in (0, 1, 3), (args, r)
        assert "warning" in r.err or args[0] != "compare" or "--sweep-shapes" in args, (args, r)  # warnings shown
        if _wide(r.out + r.err):
            wide[" ".join(args)] = _wide(r.out + r.err)
    assert not wide, wide


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_an_error_wraps_on_a_terminal_and_stays_one_line_piped(capsys, monkeypatch, narrow):
    from trtlab.cli.main import _error

    message = ("--input-shapes x_input_tensor_with_a_long_name | shape [1,1,32,32] does not fit the model's input "
               "[batch_size,1,224,224] (fixed dims must match). Hint: e.g. x_input_tensor_with_a_long_name:1x1x224x224")
    _error(message)
    piped = capsys.readouterr().err
    assert piped == f"error: {message}\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    _error(message)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) > 1 and all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("  ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == f"error: {message}"  # nothing cut, words whole


def test_sweep_shapes_error_names_sweep_shapes(cli, tmp_path):
    _classifier(tmp_path / "m.onnx")
    r = cli("compare", "m.onnx", "--target", "onnxrt", "--sweep-shapes", "x_input_tensor_with_a_long_name:1x16:2x16")
    assert r.code == 2 and r.err.startswith("error: --sweep-shapes x_input_tensor_with_a_long_name |"), r


def test_unnamed_nodes_are_optype_index_in_debug_reduce_and_profile(cli, tmp_path):
    from trtlab.backends.ort_profile import unique_names

    _classifier(tmp_path / "m.onnx")
    _, mapping = unique_names(onnx.load(tmp_path / "m.onnx"))
    assert sorted(d for _, d, _ in mapping.values()) == ["MatMul_0", "Mul_1", "Softmax_2"]
    r = cli("debug", "reduce", "m.onnx", "--fails", "compare", "--target", "onnxrt:fp16", "--atol", "0", "--rtol",
            "0", "-o", "min.onnx")
    assert r.code == 0, r
    assert "? (" not in r.out and any(f"{op}_{i} ({op})" in r.out for i, op in enumerate(("MatMul", "Mul", "Softmax")))


def test_damaged_engine_is_bad_input_naming_its_sidecar(cli, tmp_path):
    junk = tmp_path / "junk.engine"
    junk.write_bytes(b"vtrt" + bytes(12) + (426908).to_bytes(8, "little") + bytes(276))
    r = cli("inspect", str(junk))
    assert r.code == 2 and "truncated" in r.err and "model.engine.json" not in r.err, r
    lone = tmp_path / "lone.engine"
    lone.write_bytes(b"vtrt" + bytes(12) + (300).to_bytes(8, "little") + bytes(276))
    r = cli("inspect", str(lone))
    assert "lone.engine.json" in r.err or r.code == 0, r


def test_build_prints_the_half_fraction(cli, tmp_path):
    pytest.importorskip("tensorrt_rtx", reason="no TensorRT module to build engines with")
    _classifier(tmp_path / "m.onnx")
    r = cli("build", "m.onnx", "-o", "h.engine", "--precision", "fp16", "--profile",
            "x_input_tensor_with_a_long_name:1x32:4x32:8x32")
    assert r.code == 0 and "of float compute nodes in FP16" in r.out, r


def test_wrap_keeps_a_quoted_command_on_one_line():
    from trtlab.ui import wrap

    text = ("x.engine | not a whole TensorRT engine: the header says 426908 bytes, the file has 300 (truncated). "
            "Hint: rebuild it with `trtlab build model.onnx -o x.engine`, or copy it again")
    lines = wrap(text, 80, indent="  ", first="error: ").splitlines()
    assert any("`trtlab build model.onnx -o x.engine`" in line for line in lines)
    assert all(len(line) <= 80 for line in lines)
