import json

from tests.conftest import shared_model


def test_inspect_counts_subgraph_ops_and_dynamic_dims(cli):
    r = cli("inspect", str(shared_model("poly_loop.onnx")), "--json")
    s = json.loads(r.out)
    assert r.code == 0 and s["nodes_in_subgraphs"] > 0 and "Loop" in s["op_counts"]


def test_inspect_reports_custom_ops_and_missing_domain(cli):
    s = json.loads(cli("inspect", str(shared_model("poly_custom_op_node.onnx")), "--json").out)
    assert s["custom_ops"] == {"ai.onnx.contrib::NegPos": 1}
    assert s["domains_without_opset_import"] == ["ai.onnx.contrib"]


def test_inspect_weights_in_constant_nodes_and_external_data(cli, model_copy):
    s = json.loads(cli("inspect", str(shared_model("light_densenet121.onnx")), "--json").out)
    assert s["nodes"] == 1746 and s["op_counts"]["ConstantOfShape"] == 836
    s = json.loads(cli("inspect", str(model_copy("poly_ext_weights/ext_weights.onnx")), "--json").out)
    assert s["initializers"]["bytes"] > 0


def test_inspect_table_output(cli):
    r = cli("inspect", str(shared_model("super_resolution.onnx")))
    assert r.code == 0 and "batch_size" in r.out and "DepthToSpace" in r.out


def test_inspect_non_onnx_file(cli, tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("hello")
    r = cli("inspect", str(p))
    assert r.code == 2 and r.err.startswith("error: ")
