"""Isolation around custom-domain ops that nothing here can type (trtlab.partition.boundary).

A custom op with no schema and no onnxruntime kernel in the middle of a graph leaves its output, and everything
after it, untyped by shape inference; onnxruntime cannot run the model to tell either. The TensorRT segments reading
those tensors used to fail their own parse and go whole to the fallback (fastestdet with 10 custom activations:
1 TensorRT segment of 7 nodes, 211 nodes on the fallback). Their types are now assumed from recorded sources, and
the segments are checked to compose to the original: the tests give the custom op a reference implementation (a
local ONNX function, added to the fallback segments and to the reference model only, as a user's runtime would
supply the kernel) and run the partition the way ``hybrid:DIR`` does."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.conftest import shared_model

pytest.importorskip("tensorrt_rtx", reason="the rtx extra (tensorrt_rtx parser) is not installed")

ACME = "com.acme"


def acme_chain(blocks: int = 10, custom_after: int = 4, consumer: str = "Conv") -> onnx.ModelProto:
    """Conv/Relu blocks with com.acme::MyAct (x * sigmoid(x), but opaque here: no schema, no kernel) after block
    ``custom_after``; ``consumer`` "Relu" puts a Relu between MyAct and the next Conv, so no consumer fixes the
    rank and it must come from MyAct's first input."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(blocks):
        inits.append(nh.from_array((rng.standard_normal((4, 4 if i else 3, 3, 3)) * 0.3).astype(np.float32), f"w{i}"))
        nodes += [h.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]),
                  h.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}")]
        prev = f"r{i}"
        if i == custom_after - 1:
            nodes.append(h.make_node("MyAct", [prev], ["act"], name="myact", domain=ACME))
            prev = "act"
            if consumer == "Relu":
                nodes.append(h.make_node("Relu", ["act"], ["act_relu"], name="act_relu"))
                prev = "act_relu"
    g = h.make_graph(nodes, "acme_chain", [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 16, 16])],
                     [h.make_tensor_value_info(prev, T.FLOAT, None)], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid(ACME, 1)])
    m.ir_version = 8
    return m


def reference(op: str, body: list[onnx.NodeProto]) -> onnx.FunctionProto:
    return h.make_function(ACME, op, ["X"], ["Y"], body, [h.make_opsetid("", 17)])


MYACT = reference("MyAct", [h.make_node("Sigmoid", ["X"], ["s"]), h.make_node("Mul", ["X", "s"], ["Y"])])


def with_functions(model: onnx.ModelProto, functions: list[onnx.FunctionProto]) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    out.functions.extend(functions)
    return out


def run_partition(out_dir, functions, feeds) -> dict:
    """The partition run as ``hybrid:DIR`` runs it (TensorRT segments on onnxrt here), after giving the fallback
    segments that hold custom ops their reference implementations."""
    from trtlab.backends import create, parse_spec
    from trtlab.model import save_model

    info = json.loads((out_dir / "partition.json").read_text())
    for seg in info["segments"]:
        path = out_dir / seg["file"]
        m = onnx.load(str(path))
        if seg["backend"] != "trt" and any(n.domain == ACME for n in m.graph.node):
            save_model(with_functions(m, functions), path)
    with create(parse_spec(f"hybrid:{out_dir}")) as be:
        be.load(onnx.ModelProto(), [])
        return be.run(feeds)


def ort_outputs(model: onnx.ModelProto, feeds) -> dict:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def isolate(cli, tmp_path, model: onnx.ModelProto, file: str):
    """``surgeon MODEL --isolate-unsupported -o seg``: (the segments folder, its partition.json, the CLI result)."""
    path = tmp_path / file
    onnx.save(model, path)
    out = tmp_path / "seg"
    r = cli("surgeon", str(path), "--isolate-unsupported", "-o", str(out), "--run-dir", str(tmp_path / "run"))
    assert r.code == 0, r
    return out, json.loads((out / "partition.json").read_text()), r


def _counts(info: dict) -> tuple[int, int]:
    trt = sum(s["node_count"] for s in info["segments"] if s["backend"] == "trt")
    return trt, sum(s["node_count"] for s in info["segments"] if s["backend"] != "trt")


@pytest.mark.parametrize("consumer", ["Conv", "Relu"])
def test_custom_op_mid_graph_keeps_the_rest_in_tensorrt(cli, tmp_path, consumer):
    """Before: the 12 nodes after MyAct went to the fallback ("refused when their segment was parsed alone":
    their input had no type). After: only MyAct is on the fallback, the type of its output is recorded as an
    assumption, and the segments compose to the original."""
    model = acme_chain(consumer=consumer)
    out, info, r = isolate(cli, tmp_path, model, "m.onnx")
    assert _counts(info) == (len(model.graph.node) - 1, 1)
    assert [u["name"] for u in info["unsupported"]] == ["myact"]
    assert all(s["parse"]["ok"] for s in info["segments"] if s["backend"] == "trt")
    act = next(t for s in info["segments"] if s["backend"] == "trt" for t in s["inputs"] if t["name"] == "act")
    assert act["dtype"] == "float" and act["typed"].startswith("assumed: ")
    if consumer == "Conv":  # Conv's schema: X shares T with W; its rank and channel count are W's
        assert act["shape"] == [None, 4, None, None] and "its consumer conv4 (Conv" in act["typed"]
    else:  # Relu fixes neither dtype nor rank: MyAct's first input's dtype, its rank with symbolic dims
        assert act["shape"] == [None] * 4 and "first input of MyAct (r3)" in act["typed"]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert any(n.startswith("type of act assumed: dtype float") for n in res["notes"])
    assert "type of act assumed" in r.out
    assert res["verify"]["enabled"] is False  # onnxruntime cannot run com.acme::MyAct: said, not hidden
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    got = run_partition(out, [MYACT], {"x": x})
    want = ort_outputs(with_functions(model, [MYACT]), {"x": x})
    (name,) = want
    np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)


def test_check_summary_counts_the_same_segments(cli, tmp_path):
    """`trtlab check` plans with the same typing: its isolation summary keeps the nodes after MyAct in TensorRT."""
    path = tmp_path / "m.onnx"
    onnx.save(acme_chain(), path)
    r = cli("check", str(path), "--out", str(tmp_path / "chk"))
    assert r.code == 1, r
    iso = json.loads((tmp_path / "chk" / "results.json").read_text())["isolation"]
    assert (iso["trt_segments"], iso["trt_nodes"], iso["fallback_nodes"]) == (2, 20, 1)
    assert iso["fallback_why"] == {"parser": 1}


def test_assumption_sources_in_order():
    """The model's own value_info beats a consumer's requirement; an op with a registered schema gives its output
    dtype; nothing typed stays untyped (no guess without a source)."""
    from trtlab.partition.boundary import type_tensors

    model = acme_chain()
    model.graph.value_info.append(h.make_tensor_value_info("act", T.FLOAT, [1, 4, 16, 16]))
    typing = type_tensors(model, ["act", "r9"])
    assert typing.facts["act"] == (T.FLOAT, [1, 4, 16, 16]) and "the model's own value_info" in typing.assumed["act"]
    assert typing.facts["r9"] == (T.FLOAT, [1, 4, 16, 16]) and "r9" in typing.derived
    # a custom op with a registered schema (no inference function): its output type constraint gives the dtype,
    # after MyAct's output was assumed in an earlier round
    from onnx import defs

    schema = defs.OpSchema("AcmeHalf", ACME, 1, inputs=[defs.OpSchema.FormalParameter("X", "T")],
                           outputs=[defs.OpSchema.FormalParameter("Y", "tensor(float16)")],
                           type_constraints=[("T", ["tensor(float)", "tensor(double)"], "")])
    defs.register_schema(schema)
    try:
        m2 = acme_chain(blocks=2, custom_after=1)
        m2.graph.node.insert(3, h.make_node("AcmeHalf", ["act"], ["half"], name="half", domain=ACME))
        typing = type_tensors(m2, ["half"])
    finally:
        defs.deregister_schema("AcmeHalf", 1, ACME)
    assert typing.facts["half"] == (T.FLOAT16, [None] * 4)
    assert typing.assumed["half"].startswith("dtype float16 from the registered schema of com.acme::AcmeHalf")
    # an op with no schema, no consumer, several outputs: no source, left untyped
    m3 = acme_chain(blocks=2, custom_after=1)
    m3.graph.node.append(h.make_node("Split2", ["r1"], ["p", "q"], name="split2", domain=ACME))
    assert type_tensors(m3, ["p"]).facts["p"] is None


def test_fastestdet_with_custom_activations(cli, tmp_path):
    """fastestdet with 10 of its 48 Relus rewritten to com.acme::AcmeRelu: before, 1 TensorRT segment of 7 nodes
    and 211 nodes on the fallback; now only the 10 custom nodes are, and the segments reproduce the original."""
    original = onnx.load(str(shared_model("fastestdet.onnx")))
    model = with_functions(original, [])
    relus = [i for i, n in enumerate(model.graph.node) if n.op_type == "Relu"]
    for i in relus[2::5][:10]:
        model.graph.node[i].domain, model.graph.node[i].op_type = ACME, "AcmeRelu"
    model.opset_import.append(h.make_opsetid(ACME, 1))
    out, info, r = isolate(cli, tmp_path, model, "fastestdet_acme.onnx")
    assert _counts(info) == (len(model.graph.node) - 10, 10)
    assert {u["source"] for u in info["unsupported"]} == {"parser"}
    typed = [t["typed"] for s in info["segments"] for t in s["inputs"] if "typed" in t]
    assert typed and all("the model's own value_info" in t or "inferred" in t for t in typed)  # fastestdet declares
    x = np.random.default_rng(0).random((1, 3, 352, 352), dtype=np.float32)
    got = run_partition(out, [reference("AcmeRelu", [h.make_node("Relu", ["X"], ["Y"])])], {"input": x})
    want = ort_outputs(original, {"input": x})
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4)


def test_a_wrong_assumption_is_named_and_the_model_value_info_fixes_it(tmp_path):
    """com.acme::MyTrunc turns float into int64 and only a Cast reads it: nothing but the last resort (its first
    input's dtype) answers, and that is wrong. Running the partition names the failed assumption (not onnxruntime's
    bare type error); declaring the tensor in the model's value_info, as the hint says, gives a partition that
    reproduces the original."""
    from trtlab.errors import TrtlabError
    from trtlab.partition.folder import write_dir
    from trtlab.partition.plan import isolate

    model = acme_chain(blocks=6, custom_after=3)
    node = next(n for n in model.graph.node if n.name == "myact")
    node.op_type, node.output[0] = "MyTrunc", "idx"
    model.graph.node.insert(list(model.graph.node).index(node) + 1,
                            h.make_node("Cast", ["idx"], ["act"], name="cast", to=T.FLOAT))
    trunc = reference("MyTrunc", [h.make_node("Cast", ["X"], ["Y"], to=T.INT64)])
    x = np.random.default_rng(2).standard_normal((1, 3, 16, 16)).astype(np.float32)
    write_dir(tmp_path / "seg", model, isolate(model))
    with pytest.raises(TrtlabError) as err:
        run_partition(tmp_path / "seg", [trunc], {"x": x})
    assert "input idx arrived with dtype int64 (assumed float)" in str(err.value)
    assert "dtype float from the first input of MyTrunc" in str(err.value) and "value_info" in str(err.value)
    model.graph.value_info.append(h.make_tensor_value_info("idx", T.INT64, [1, 4, 16, 16]))
    info = write_dir(tmp_path / "seg2", model, isolate(model))
    idx = next(t for s in info["segments"] if s["backend"] == "trt" for t in s["inputs"] if t["name"] == "idx")
    assert idx["dtype"] == "int64" and "the model's own value_info" in idx["typed"]
    got = run_partition(tmp_path / "seg2", [trunc], {"x": x})
    want = ort_outputs(with_functions(model, [trunc]), {"x": x})
    np.testing.assert_allclose(got["r5"], want["r5"], rtol=1e-5, atol=1e-5)


UNARY = ("Relu", "Sigmoid", "Tanh")
# the shared models with attribute-free Relu/Sigmoid/Tanh nodes, and the TensorRT node counts before this fix with
# 5 of those rewritten to com.acme (measured: segment parses refused whole segments after each custom op)
SWEEP_BEFORE = {"deeplab_v3_tflite": 99, "fastestdet": 21, "light_densenet121": 1147, "mnist_opt": 0,
                "poly_residual_block": 0, "road_segmentation_adas": 36, "super_resolution": 0,
                "tbefn_lowlight_180x320": 24, "yunet_face_120x160": 4}


def customize(model: onnx.ModelProto, k: int = 5) -> tuple[onnx.ModelProto, list[onnx.FunctionProto]]:
    """``k`` attribute-free unary activations, spread over the graph, moved to com.acme (op ``Acme<Op>``); the
    reference functions that implement them."""
    model = with_functions(model, [])
    idx = [i for i, n in enumerate(model.graph.node) if n.op_type in UNARY and n.domain in ("", "ai.onnx")
           and not n.attribute]
    step = max(len(idx) // k, 1)
    ops = set()
    for i in idx[step // 2::step][:k]:
        node = model.graph.node[i]
        ops.add(node.op_type)
        node.domain, node.op_type = ACME, "Acme" + node.op_type
    model.opset_import.append(h.make_opsetid(ACME, 1))
    return model, [reference("Acme" + op, [h.make_node(op, ["X"], ["Y"])]) for op in sorted(ops)]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SWEEP_BEFORE))
def test_shared_models_with_custom_activations(name, tmp_path):
    """Every shared model with such activations: no node goes to the fallback for a segment parse any more (only
    the custom nodes and --min-segment-size merges do), and the segments reproduce the original model."""
    from trtlab.inputs import plan_inputs, random_feeds
    from trtlab.partition.folder import write_dir
    from trtlab.partition.plan import isolate

    original = onnx.load(str(shared_model(f"{name}.onnx")))
    model, functions = customize(original)
    part = isolate(model)
    info = write_dir(tmp_path / "seg", model, part)
    why = {u["source"] for u in info["unsupported"]}
    assert why <= {"parser", "min-segment-size"}, info["unsupported"]
    trt, _fallback = _counts(info)
    assert trt >= SWEEP_BEFORE[name]
    assert not any("could not be typed" in n for n in info["notes"]), info["notes"]
    feeds = random_feeds(plan_inputs(original.graph, {}, {}, None), 1, 0)
    got = run_partition(tmp_path / "seg", functions, feeds)
    for out, value in ort_outputs(original, feeds).items():
        np.testing.assert_allclose(got[out], value, rtol=1e-4, atol=1e-4, err_msg=out)
