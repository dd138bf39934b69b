"""Model loading and writing: external data, IR version, corrupt files, atomic writes."""

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import shared_model
from trtlab.errors import TrtlabError
from trtlab.model import MAX_IR_VERSION, load_model, sane_ir_version, save_model


def _tiny(ir=10, opset=17):
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


def test_load_external_data_from_another_cwd(model_copy, tmp_path, monkeypatch):
    path = model_copy("poly_ext_weights/ext_weights.onnx")
    monkeypatch.chdir(tmp_path.parent)
    model = load_model(path)
    init = model.proto.graph.initializer[0]
    assert init.data_location != TensorProto.EXTERNAL and init.raw_data


def test_missing_external_data_is_a_clear_error(model_copy):
    path = model_copy("poly_ext_weights/ext_weights.onnx")
    os.unlink(path.parent / "ext_weights.data")
    with pytest.raises(TrtlabError) as e:
        load_model(path)
    assert "external data file" in str(e.value) and e.value.code == 2


@pytest.mark.parametrize("content", [b"not an onnx file at all\n" * 10, b"\x08\x07\x12\x0bhello", b""])
def test_garbage_files_are_clear_errors(tmp_path, content):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(TrtlabError) as e:
        load_model(p)
    assert e.value.code == 2 and "\n" not in str(e.value)


def test_truncated_model_is_a_clear_error(tmp_path):
    data = shared_model("mnist_opt.onnx").read_bytes()
    p = tmp_path / "trunc.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(TrtlabError):
        load_model(p)


def test_checker_failure_is_a_warning_not_an_error():
    model = load_model(shared_model("poly_add_infinity.onnx"))
    assert any("onnx.checker" in w for w in model.warnings)


def test_ir_version_is_capped_for_onnxruntime(tmp_path):
    m = _tiny(ir=14)
    assert sane_ir_version(m) == MAX_IR_VERSION
    save_model(m, tmp_path / "m.onnx")
    assert onnx.load(tmp_path / "m.onnx").ir_version <= MAX_IR_VERSION
    assert sane_ir_version(_tiny(ir=3, opset=17)) >= 8  # opset 17 needs IR 8


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    save_model(_tiny(), tmp_path / "out.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx"]


def test_save_with_external_data_roundtrips(tmp_path):
    m = _tiny()
    save_model(m, tmp_path / "ext.onnx", external_data=True)
    assert (tmp_path / "ext.onnx.data").exists()
    back = load_model(tmp_path / "ext.onnx")
    np.testing.assert_array_equal(numpy_helper.to_array(back.proto.graph.initializer[0]),
                                  numpy_helper.to_array(m.graph.initializer[0]))


@pytest.mark.slow
def test_model_over_2gb_saves_loads_and_runs(tmp_path):
    """Two 1.07 GB tables (a protobuf message cannot exceed 2 GB): saved with external data, loaded, run."""
    from trtlab.backends import create, parse_spec

    rows = 2**30 // (4 * 1024) + 8
    tables = []
    for k in range(2):
        t = np.zeros((rows, 1024), dtype=np.float32)
        t[-1] = 1.5 + k
        tables.append(numpy_helper.from_array(t, f"table{k}"))
        del t
    nodes = [helper.make_node("Gather", ["table0", "idx"], ["a"], axis=0),
             helper.make_node("Gather", ["table1", "idx"], ["b"], axis=0),
             helper.make_node("Add", ["a", "b"], ["y"])]
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("idx", TensorProto.INT64, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1024])])
    for t in tables:
        g.initializer.add().CopyFrom(t)
    del tables
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    del g
    save_model(m, tmp_path / "big.onnx")
    del m
    assert (tmp_path / "big.onnx.data").stat().st_size > 2**31
    model = load_model(tmp_path / "big.onnx", check=False)
    with create(parse_spec("onnxrt")) as backend:
        backend.load(model.proto)
        y = backend.run({"idx": np.array([rows - 1], dtype=np.int64)})["y"]
    assert float(y[0, 0]) == 4.0


def test_written_files_follow_the_umask_and_keep_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        save_model(_tiny(), tmp_path / "a.onnx")
        assert (tmp_path / "a.onnx").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "a.onnx", 0o600)
        save_model(_tiny(), tmp_path / "a.onnx")
        assert (tmp_path / "a.onnx").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_output_path_that_is_a_folder_or_unwritable_is_a_clear_error(tmp_path):
    (tmp_path / "adir").mkdir()
    for bad in (tmp_path / "adir", tmp_path / "file.txt" / "x.onnx"):
        (tmp_path / "file.txt").write_text("x")
        with pytest.raises(TrtlabError) as e:
            save_model(_tiny(), bad)
        assert e.value.code == 2
