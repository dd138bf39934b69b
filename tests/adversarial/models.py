"""Small models built in code, and the bad variants the suite feeds trtlab: truncations, byte flips, lying
dims, unknown types, cycles, dangling outputs, bad Loop bodies, external data pointing outside the folder."""

from __future__ import annotations

import functools
import random

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def add_relu() -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(4, dtype=np.float32) - 1.5, "W")
    return _model([h.make_node("Add", ["x", "W"], ["s"], name="add"), h.make_node("Relu", ["s"], ["y"], name="relu")],
                  [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])],
                  [w])


def gather() -> onnx.ModelProto:
    e = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(10, 4), "E")
    return _model([h.make_node("Gather", ["E", "ids"], ["y"], name="gather", axis=0)],
                  [h.make_tensor_value_info("ids", T.INT64, [1, 3])],
                  [h.make_tensor_value_info("y", T.FLOAT, [1, 3, 4])], [e])


def foldable() -> onnx.ModelProto:
    """A constant branch (Shape->Cast->Mul) the fold pass removes."""
    c = numpy_helper.from_array(np.full([4], 2.0, np.float32), "C")
    return _model([h.make_node("Mul", ["C", "C"], ["c2"], name="fold_me"),
                   h.make_node("Add", ["x", "c2"], ["y"], name="add")],
                  [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])],
                  [c])


def string_identity() -> onnx.ModelProto:
    return _model([h.make_node("Identity", ["s"], ["y"], name="id")],
                  [h.make_tensor_value_info("s", T.STRING, [2])], [h.make_tensor_value_info("y", T.STRING, [2])])


BASES = {"add": add_relu, "gather": gather, "fold": foldable}


@functools.cache
def base_bytes(name: str) -> bytes:
    return BASES[name]().SerializeToString()


def truncations(data: bytes) -> dict[str, bytes]:
    n = len(data)
    cuts = sorted({1, 2, 5, n // 10, n // 4, n // 2, 3 * n // 4, 9 * n // 10, n - 2, n - 1})
    return {f"trunc{c}": data[:c] for c in cuts if 0 < c < n}


def byte_flips(data: bytes, count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    out = {}
    for _ in range(count):
        pos, val = rng.randrange(len(data)), rng.randrange(256)
        b = bytearray(data)
        b[pos] = val if b[pos] != val else (val + 1) % 256
        out[f"flip{pos}x{val:02x}"] = bytes(b)
    return out


def _lie_init(dims=None, raw=None, data_type=None) -> onnx.ModelProto:
    m = add_relu()
    t = m.graph.initializer[0]
    if dims is not None:
        del t.dims[:]
        t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    if data_type is not None:
        t.data_type = data_type
    return m


def _input_dims(dims) -> onnx.ModelProto:
    m = add_relu()
    shape = m.graph.input[0].type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = d
    # the Add broadcasts against W[4]: keep the last dim 4 where the lie allows it
    return m


def _elem(where: str, value: int) -> onnx.ModelProto:
    m = add_relu()
    vi = m.graph.input[0] if where == "input" else m.graph.output[0]
    vi.type.tensor_type.elem_type = value
    return m


def _cycle() -> onnx.ModelProto:
    return _model([h.make_node("Add", ["x", "b"], ["a"], name="n1"), h.make_node("Relu", ["a"], ["b"], name="n2"),
                   h.make_node("Relu", ["a"], ["y"], name="n3")],
                  [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])


def _self_loop() -> onnx.ModelProto:
    return _model([h.make_node("Add", ["x", "a"], ["a"], name="n1"), h.make_node("Relu", ["a"], ["y"], name="n2")],
                  [h.make_tensor_value_info("x", T.FLOAT, [1, 4])], [h.make_tensor_value_info("y", T.FLOAT, [1, 4])])


def _dangling() -> onnx.ModelProto:
    m = add_relu()
    m.graph.output[0].name = "never_made"
    return m


def _undefined_read() -> onnx.ModelProto:
    m = add_relu()
    m.graph.node[1].input[0] = "ghost"
    return m


def loop_outer_read() -> onnx.ModelProto:
    """A Loop given a loop-carried value whose body declares none (it reads the outer tensor directly): the
    tensorrt_rtx 1.7 parser segfaults on it."""
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]), h.make_node("Add", ["x", "x"], ["y"])], "body",
        [h.make_tensor_value_info("i", T.INT64, []), h.make_tensor_value_info("cond_in", T.BOOL, [])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []), h.make_tensor_value_info("y", T.FLOAT, [2])])
    return _model([h.make_node("Constant", [], ["M"], value=h.make_tensor("m", T.INT64, [], [3])),
                   h.make_node("Constant", [], ["C"], value=h.make_tensor("c", T.BOOL, [], [True])),
                   h.make_node("Loop", ["M", "C", "x"], ["out"], body=body, name="loop")],
                  [h.make_tensor_value_info("x", T.FLOAT, [2])], [h.make_tensor_value_info("out", T.FLOAT, [2])])


def _loop_variant(kind: str) -> onnx.ModelProto:
    m = loop_outer_read()
    body = m.graph.node[2].attribute[0].g
    if kind == "no_cond_out":
        del body.output[0]
    elif kind == "body_undefined":
        body.node[1].input[0] = "nowhere"
    elif kind == "no_body":
        del m.graph.node[2].attribute[:]
    elif kind == "carried_ok":  # a sound loop: the body declares the carried value
        body.input.append(h.make_tensor_value_info("v", T.FLOAT, [2]))
        body.node[1].input[:] = ["v", "v"]
    elif kind == "trip_string":
        m.graph.node[0].attribute[0].t.data_type = T.STRING
    return m


def _external(location: str, length: int | None = None, offset: int | None = None) -> onnx.ModelProto:
    m = add_relu()
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = T.EXTERNAL
    t.external_data.add(key="location", value=location)
    if offset is not None:
        t.external_data.add(key="offset", value=str(offset))
    if length is not None:
        t.external_data.add(key="length", value=str(length))
    return m


def _opset(version: int) -> onnx.ModelProto:
    m = add_relu()
    m.opset_import[0].version = version
    return m


def _unknown_op() -> onnx.ModelProto:
    m = add_relu()
    m.graph.node[1].op_type = "NoSuchOp"
    return m


def _custom_domain() -> onnx.ModelProto:
    m = add_relu()
    m.graph.node[1].domain = "com.example"
    return m


def _typed_count() -> onnx.ModelProto:
    m = add_relu()
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.float_data.extend([1.0, 2.0])
    return m


def _constant_lie() -> onnx.ModelProto:
    m = add_relu()
    t = h.make_tensor("w2", T.FLOAT, [1], [1.0])
    t.dims[0] = 1000000000
    c = h.make_node("Constant", [], ["W2"], value=t, name="c")
    m.graph.node.insert(0, c)
    m.graph.node[1].input[1] = "W2"
    return m


def _no_nodes() -> onnx.ModelProto:
    m = add_relu()
    del m.graph.node[:]
    return m


def _no_outputs() -> onnx.ModelProto:
    m = add_relu()
    del m.graph.output[:]
    return m


# name -> (model factory, extra files {name: bytes} placed beside it)
STRUCTURAL = {
    "lie_init_1e9": (lambda: _lie_init(dims=[1000000000]), {}),
    "lie_init_2d": (lambda: _lie_init(dims=[100000, 100000]), {}),
    "lie_init_neg": (lambda: _lie_init(dims=[-4]), {}),
    "lie_init_short_raw": (lambda: _lie_init(raw=b"\0" * 15), {}),
    "lie_init_long_raw": (lambda: _lie_init(raw=b"\0" * 17), {}),
    "lie_typed_count": (_typed_count, {}),
    "lie_constant_1e9": (_constant_lie, {}),
    "input_2pow40": (lambda: _input_dims([1, 2**40]), {}),
    "input_3e5e5": (lambda: _input_dims([3, 100000, 100000]), {}),
    "input_neg": (lambda: _input_dims([1, -7]), {}),
    "elem999_input": (lambda: _elem("input", 999), {}),
    "elem999_output": (lambda: _elem("output", 999), {}),
    "init_type999": (lambda: _lie_init(data_type=999), {}),
    "init_type0": (lambda: _lie_init(data_type=0), {}),
    "init_type_string": (lambda: _lie_init(data_type=T.STRING), {}),
    "cycle": (_cycle, {}),
    "self_loop": (_self_loop, {}),
    "dangling_output": (_dangling, {}),
    "undefined_read": (_undefined_read, {}),
    "loop_outer_read": (loop_outer_read, {}),
    "loop_no_cond_out": (lambda: _loop_variant("no_cond_out"), {}),
    "loop_body_undefined": (lambda: _loop_variant("body_undefined"), {}),
    "loop_no_body": (lambda: _loop_variant("no_body"), {}),
    "loop_carried_ok": (lambda: _loop_variant("carried_ok"), {}),
    "loop_trip_string": (lambda: _loop_variant("trip_string"), {}),
    "ext_traversal": (lambda: _external("../../../../etc/passwd"), {}),
    "ext_absolute": (lambda: _external("/etc/passwd"), {}),
    "ext_missing": (lambda: _external("weights.bin"), {}),
    "ext_short": (lambda: _external("weights.bin", length=16), {"weights.bin": b"\0" * 8}),
    "ext_offset": (lambda: _external("weights.bin", offset=64, length=16), {"weights.bin": b"\0" * 32}),
    "ext_ok": (lambda: _external("weights.bin", length=16), {"weights.bin": np.ones(4, np.float32).tobytes()}),
    "opset999": (lambda: _opset(999), {}),
    "opset1": (lambda: _opset(1), {}),
    "unknown_op": (_unknown_op, {}),
    "custom_domain": (_custom_domain, {}),
    "no_nodes": (_no_nodes, {}),
    "no_outputs": (_no_outputs, {}),
}

# variants whose load must be refused with exit 2, and what the error says
REFUSED = {"lie_init_1e9": "declares dims", "lie_init_2d": "declares dims", "lie_init_neg": "negative",
           "lie_init_short_raw": "declares dims", "lie_init_long_raw": "declares dims",
           "lie_typed_count": "declares dims", "lie_constant_1e9": "declares dims",
           "elem999_input": "element type 999", "elem999_output": "element type 999",
           "init_type999": "data type 999", "init_type0": "data type 0", "cycle": "cycle", "self_loop": "cycle",
           "dangling_output": "produced by no node", "undefined_read": "nothing in the graph defines",
           "loop_body_undefined": "nothing in the graph defines", "ext_traversal": "outside the model's folder",
           "ext_absolute": "outside the model's folder", "ext_missing": "missing", "ext_short": "external data",
           "ext_offset": "external data", "no_nodes": "no nodes", "no_outputs": "no outputs"}


@functools.cache
def structural_bytes(name: str) -> bytes:
    return STRUCTURAL[name][0]().SerializeToString()
