"""`trtlab compare ORIGINAL --target-model OTHER.onnx`: two models, each on its own backend, matched by name."""

import json

import onnx
from onnx import helper

from tests.mixed_precision.hazards import harmless_model, planted_hazard_model


def _renamed_output_copy(model):
    """The same graph with one more node and its output under another name (as surgeon/exporters do)."""
    other = onnx.ModelProto()
    other.CopyFrom(model)
    other.graph.node.append(helper.make_node("Identity", ["y"], ["y_renamed"], name="extra"))
    other.graph.output[0].name = "y_renamed"
    return other


def test_target_model_matches_tensors_by_name_and_outputs_by_position(cli, tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    model = harmless_model(12)
    onnx.save(model, str(a))
    onnx.save(_renamed_output_copy(model), str(b))
    r = cli("compare", str(a), "--target-model", str(b), "--layerwise", "--out", str(tmp_path / "run"),
            "--no-report", "--json")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert res["passed"] and res["outputs"][0]["name"] == "y"
    assert res["target"]["outputs_by_position"] == {"y_renamed": "y"}
    assert len(res["layers"]) == 13  # every tensor of the original exists in the copy
    assert {"tensor": "y_renamed", "reason": "only in the target model"} not in res["unmatched"]  # it is "y"


def test_target_model_checks_a_mixed_precision_model(cli, tmp_path):
    src, mixed = tmp_path / "m.onnx", tmp_path / "mixed.onnx"
    onnx.save(planted_hazard_model(harmless=16), str(src))
    assert cli("debug", "precision", str(src), "-o", str(mixed), "--samples", "3", "--no-report",
               "--out", str(tmp_path / "p")).code == 0
    r = cli("compare", str(src), "--target-model", str(mixed), "--layerwise", "--atol", "1e-3", "--rtol", "1e-2",
            "--out", str(tmp_path / "run"), "--no-report", "--json")
    res = json.loads(r.out)
    assert r.code == 0 and res["passed"], r.err
    only = {u["tensor"] for u in res["unmatched"] if u["reason"] == "only in the target model"}
    assert only and all("__trtlab_" in t for t in only)  # the Casts the conversion added
    assert cli("compare", str(src), "--target-model", str(mixed), "--attribute", "--layerwise",
               "--out", str(tmp_path / "r2")).code == 2
