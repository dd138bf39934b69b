"""save_model streams large weights to the file one at a time: the bytes must be exactly protobuf's own
serialization, and a file whose framing does not hold must not pass the read-back check."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab import model as M


def _rich_model() -> onnx.ModelProto:
    """Large and small raw tensors, typed-field tensors, value_info, metadata, doc strings, a function, a body."""
    rng = np.random.default_rng(0)
    body = helper.make_graph([helper.make_node("Neg", ["x"], ["z"])], "body", [],
                             [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4])],
                             [numpy_helper.from_array(np.ones((3,), np.float32), "inner")])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm", doc_string="matmul"),
             helper.make_node("Add", ["h", "typed"], ["a"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=body, else_branch=body)]
    w = numpy_helper.from_array(rng.normal(size=(4, 4)).astype(np.float32), "w")
    w.doc_string = "weight"
    big = numpy_helper.from_array(rng.normal(size=(64, 1024)).astype(np.float16), "big")
    typed = helper.make_tensor("typed", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])  # float_data, no raw
    i64 = numpy_helper.from_array(np.arange(10, dtype=np.int64), "i64")
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
                                           helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                              [w, big, typed, i64], doc_string="graph doc",
                              value_info=[helper.make_tensor_value_info("h", TensorProto.FLOAT, [2, 4])])
    fn = helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                              [helper.make_opsetid("", 17)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
                              functions=[fn], producer_name="test", doc_string="model doc")
    helper.set_model_props(model, {"k": "v"})
    model.ir_version = 8
    return model


def test_streamed_bytes_are_protobufs_own(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "STREAM_ABOVE", 0)
    model = _rich_model()
    assert M.write_proto(model, tmp_path / "m.onnx")  # streamed
    assert (tmp_path / "m.onnx").read_bytes() == model.SerializeToString()
    assert M._framed_nodes(tmp_path / "m.onnx", len(model.graph.initializer)) == 3


def test_save_model_streams_and_reads_the_framing_back(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "STREAM_ABOVE", 0)
    model = _rich_model()
    out = M.save_model(model, tmp_path / "out.onnx")
    assert onnx.load(out) == model


@pytest.mark.parametrize("cut", [1, 100, 1000])
def test_a_truncated_or_shifted_file_fails_the_framing_check(tmp_path, cut):
    model = _rich_model()
    data = model.SerializeToString()
    (tmp_path / "short.onnx").write_bytes(data[:-cut])
    assert M._framed_nodes(tmp_path / "short.onnx", len(model.graph.initializer)) is None
    (tmp_path / "extra.onnx").write_bytes(data + b"\x0a" * cut)
    assert M._framed_nodes(tmp_path / "extra.onnx", len(model.graph.initializer)) is None


def test_unknown_fields_are_kept_by_serializing_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "STREAM_ABOVE", 0)
    model = _rich_model()
    data = model.SerializeToString() + b"\xf8\x07\x01"  # field 127 (varint 1): unknown to this onnx
    model = onnx.ModelProto()
    model.ParseFromString(data)
    assert M.write_proto(model, tmp_path / "u.onnx") is False
    assert (tmp_path / "u.onnx").read_bytes() == data


def test_file_weights_are_the_loaded_weights_without_a_copy(tmp_path):
    model = _rich_model()
    onnx.save(model, tmp_path / "m.onnx")
    loaded = M.load_model(tmp_path / "m.onnx")
    arrays = M.file_weights(loaded, min_bytes=65)
    assert set(arrays) == {"big", "i64"}  # float_data and small (w: 64 bytes) tensors stay out
    for t in loaded.proto.graph.initializer:
        if t.name in arrays:
            np.testing.assert_array_equal(arrays[t.name], numpy_helper.to_array(t))
            assert not arrays[t.name].flags.writeable and not arrays[t.name].flags.owndata


def test_file_weights_are_refused_once_the_file_changed(tmp_path):
    import os

    model = _rich_model()
    onnx.save(model, tmp_path / "m.onnx")
    loaded = M.load_model(tmp_path / "m.onnx")
    assert M.file_weights(loaded, min_bytes=64)
    changed = _rich_model()
    changed.graph.initializer[1].CopyFrom(numpy_helper.from_array(np.zeros((64, 1024), np.float16), "big"))
    onnx.save(changed, tmp_path / "new.onnx")
    os.replace(tmp_path / "new.onnx", tmp_path / "m.onnx")  # same size, new content
    assert M.file_weights(loaded, min_bytes=64) == {}


def test_a_file_that_cannot_be_mapped_is_read_as_before(tmp_path, monkeypatch):
    import mmap

    model = _rich_model()
    onnx.save(model, tmp_path / "m.onnx")

    def no_map(*args, **kwargs):
        raise OSError("no memory maps here")

    monkeypatch.setattr(mmap, "mmap", no_map)
    assert M.load_model(tmp_path / "m.onnx").proto == model


def test_a_truncated_file_is_refused_as_unreadable(tmp_path):
    from trtlab.errors import TrtlabError

    data = _rich_model().SerializeToString()
    (tmp_path / "t.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(TrtlabError) as err:
        M.load_model(tmp_path / "t.onnx")
    assert err.value.code == 2 and "not a readable ONNX model" in err.value.problem
