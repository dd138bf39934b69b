"""`trtlab check`'s summary is the partition `surgeon --isolate-unsupported` builds (issue 11, class 8): a quantized
CRNN was reported as "88 partitions (0 supported)" (the capability query's node ranges) while isolation built 23
TensorRT segments. Check now records and prints "N TensorRT segments (M nodes), K nodes on the fallback", from the
same labelling and planner; these tests hold it to isolation's own result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.conftest import shared_model
from tests.models.graphs import quantized_convnet

pytest.importorskip("tensorrt_rtx", reason="the rtx extra (tensorrt_rtx parser) is not installed")

# the shared models the parser refuses (tests/trt/test_check.py names their refused nodes)
REFUSED = ["ortx_bert_tokenizer", "poly_bad_graph", "poly_capability", "poly_custom_op_node", "poly_loop",
           "poly_nested_local_function", "poly_nonzero", "poly_qdq_conv", "poly_toy_subgraph"]


def _c(name, value, dtype=np.float32):
    return nh.from_array(np.asarray(value, dtype=dtype), name)


def quantized_crnn(blocks: int = 3) -> onnx.ModelProto:
    """Float Conv/Relu, then a dynamically quantized 1x1 ConvInteger (DynamicQuantizeLinear -> ConvInteger -> Cast
    -> scale Mul -> bias -> Relu), then two custom-domain ops around a one-node Sigmoid island, per block; a
    MatMulInteger head. Refused nodes interleave with supported runs of 1 to 7 nodes, so the capability query's
    ranges, the supported-node count and isolation's segments all differ."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for b in range(blocks):
        p = f"b{b}_"
        inits += [_c(p + "w", rng.normal(size=(4, 4 if b else 1, 3, 3)) * 0.2),
                  _c(p + "wq", rng.integers(0, 255, (4, 4, 1, 1)), np.uint8), _c(p + "ws", 0.01),
                  _c(p + "bias", rng.normal(size=(1, 4, 1, 1)))]
        nodes += [h.make_node("Conv", [prev, p + "w"], [p + "conv"], name=p + "conv", pads=[1, 1, 1, 1]),
                  h.make_node("Relu", [p + "conv"], [p + "relu"], name=p + "relu"),
                  h.make_node("DynamicQuantizeLinear", [p + "relu"], [p + "xq", p + "xs", p + "xzp"], name=p + "dql"),
                  h.make_node("ConvInteger", [p + "xq", p + "wq", p + "xzp"], [p + "ci"], name=p + "convint"),
                  h.make_node("Cast", [p + "ci"], [p + "cf"], name=p + "cast", to=T.FLOAT),
                  h.make_node("Mul", [p + "xs", p + "ws"], [p + "scale"], name=p + "scale"),
                  h.make_node("Mul", [p + "cf", p + "scale"], [p + "deq"], name=p + "deq"),
                  h.make_node("Add", [p + "deq", p + "bias"], [p + "biased"], name=p + "bias"),
                  h.make_node("Relu", [p + "biased"], [p + "out"], name=p + "relu2"),
                  h.make_node("Swizzle", [p + "out"], [p + "sw"], name=p + "swizzle", domain="com.acme"),
                  h.make_node("Sigmoid", [p + "sw"], [p + "sig"], name=p + "sig"),
                  h.make_node("Unswizzle", [p + "sig"], [p + "usw"], name=p + "unswizzle", domain="com.acme")]
        prev = p + "usw"
    inits += [_c("shape", [1, -1], np.int64), _c("fcq", rng.integers(0, 255, (4 * 8 * 16, 10)), np.uint8),
              _c("fcs", 0.001)]
    nodes += [h.make_node("Reshape", [prev, "shape"], ["flat"], name="flatten"),
              h.make_node("DynamicQuantizeLinear", ["flat"], ["fq", "fs", "fzp"], name="fc_dql"),
              h.make_node("MatMulInteger", ["fq", "fcq", "fzp"], ["fi"], name="fc_mmi"),
              h.make_node("Cast", ["fi"], ["ff"], name="fc_cast", to=T.FLOAT),
              h.make_node("Mul", ["fs", "fcs"], ["fscale"], name="fc_scale"),
              h.make_node("Mul", ["ff", "fscale"], ["y"], name="fc_deq")]
    graph = h.make_graph(nodes, "qcrnn", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 8, 16])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 10])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.acme", 1)])
    model.ir_version = 8
    return model


def _isolation(cli, model_path, out_dir) -> dict:
    r = cli("surgeon", str(model_path), "--isolate-unsupported", "-o", str(out_dir), "--no-verify", "--json",
            "--out", str(out_dir.parent / (out_dir.name + "-run")))
    assert r.code == 0, r
    return json.loads(r.out)


def _agree(check: dict, iso: dict) -> None:
    """Check's isolation summary is isolation's partition: the same segments, backends and nodes."""
    got = [(s["backend"], sorted(s["node_ids"])) for s in check["isolation"]["segments"]]
    partition = json.loads((Path(iso["output"]) / "partition.json").read_text())
    want = [(s["backend"], sorted(s["node_ids"])) for s in partition["segments"]]
    assert got == want
    summary = {k: v for k, v in check["isolation"].items() if k not in ("segments", "notes")}
    assert summary == iso["summary"]


def test_check_summary_is_isolations_partition(cli, tmp_path):
    onnx.save(quantized_crnn(), tmp_path / "qcrnn.onnx")
    r = cli("check", "qcrnn.onnx", "--json", "--out", str(tmp_path / "check"))
    assert r.code == 1
    check = json.loads(r.out)
    iso = _isolation(cli, tmp_path / "qcrnn.onnx", tmp_path / "parts")
    _agree(check, iso)
    s = check["isolation"]
    assert (s["trt_segments"], s["trt_nodes"], s["fallback_nodes"]) == (4, 18, 24)
    assert s["fallback_why"] == {"parser": 14, "min-segment-size": 10}
    text = " ".join(cli("check", "qcrnn.onnx").out.split())  # the terminal says the same, in the same words
    assert ("builds 4 TensorRT segments (18 nodes), 24 nodes on the fallback (14 refused by the parser, 10 in "
            "TensorRT segments under 3 nodes)") in text
    assert "the other 28 can run in TensorRT" not in text  # the old claim: 28 supported nodes are not 28 in TensorRT
    html = (tmp_path / "check" / "report.html")
    cli("report", str(tmp_path / "check"))
    assert "4 TensorRT segments (18 nodes), 24 nodes on the fallback" in html.read_text()


def test_parseable_model_has_no_isolation(cli, tmp_path):
    onnx.save(_float_chain(), tmp_path / "f.onnx")
    check = json.loads(cli("check", "f.onnx", "--json").out)
    assert check["parseable"] and check["isolation"] == {}


def _float_chain() -> onnx.ModelProto:
    nodes = [h.make_node("Relu", ["x"], ["a"]), h.make_node("Sigmoid", ["a"], ["y"])]
    graph = h.make_graph(nodes, "f", [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
                         [h.make_tensor_value_info("y", T.FLOAT, [2, 3])])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


@pytest.mark.parametrize("name", REFUSED + ["quantized_convnet"])
def test_refused_models_check_agrees_with_isolation(cli, tmp_path, name):
    """Every shared model the parser refuses (about 0.3 s each), and the quantized convnet of the partition tests."""
    if name == "quantized_convnet":
        path = tmp_path / "qconv.onnx"
        onnx.save(quantized_convnet(), path)
    else:
        path = shared_model(f"{name}.onnx")
    r = cli("check", str(path), "--json", "--out", str(tmp_path / "check"))
    assert r.code == 1
    _agree(json.loads(r.out), _isolation(cli, path, tmp_path / "parts"))
