"""`trtlab check` on a model with many refused nodes: one row per op type, and a summary that is what isolation
builds."""

from __future__ import annotations

import onnx
from onnx import helper

from tests.passes.helpers import make_model, tensor


def _many_refused():
    nodes, prev = [], "x"
    for i in range(12):
        op = "Fake" if i % 3 == 0 else "Other"
        nodes.append(helper.make_node("Relu", [prev], [f"r{i}"], name=f"relu{i}"))
        nodes.append(helper.make_node(op, [f"r{i}"], [f"o{i}"], name=f"{op.lower()}{i}", domain="com.acme"))
        prev = f"o{i}"
    model = make_model(nodes, [tensor("x", [2, 3])], [tensor(prev, [2, 3])])
    model.opset_import.append(helper.make_opsetid("com.acme", 1))
    return model


def test_refused_nodes_grouped_by_op(cli, tmp_path):
    onnx.save(_many_refused(), tmp_path / "m.onnx")
    r = cli("check", "m.onnx")
    assert r.code == 1
    text = " ".join(r.out.split())
    # each Relu sits alone between refused nodes: isolation runs it on the fallback (--min-segment-size 3), so the
    # summary does not say the 12 supported nodes run in TensorRT
    assert "12 of 24 nodes refused" in text
    assert ("builds 0 TensorRT segments (0 nodes), 24 nodes on the fallback (12 refused by the parser, 12 in "
            "TensorRT segments under 3 nodes)") in text
    assert "com.acme::Fake" in r.out and "relu0" not in r.out.split("Isolating them")[0]
    rows = [line for line in r.out.splitlines() if "│ com.acme::Other" in line or "│ com.acme::Fake" in line]
    assert len(rows) == 2, r.out
    assert "│ 8 " in r.out and "│ 4 " in r.out  # counts per op
