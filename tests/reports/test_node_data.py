"""Layer-wise results as Model Explorer node data: one file per metric, loadable by the package's own classes."""

import json

import onnx
import pytest

from tests.models.graphs import transformer_block


def _load_with_model_explorer(path):
    """Parse a node-data file into model_explorer.node_data_builder.GraphNodeData, strictly typed (dacite, which
    the package itself depends on): unknown keys or wrong types fail."""
    ndb = pytest.importorskip("model_explorer.node_data_builder",
                              reason="ai-edge-model-explorer is not installed (pip install ai-edge-model-explorer)")
    import dacite

    data = json.loads(path.read_text())
    return dacite.from_dict(ndb.GraphNodeData, data, config=dacite.Config(strict=True)), ndb


def test_node_data_files_load_with_model_explorer_classes(cli, tmp_path):
    run_dir = tmp_path / "run"
    model = tmp_path / "block.onnx"
    onnx.save(transformer_block(seq=8, hidden=16), model)
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--attribute", "--attribute-top", "2",
            "--atol", "1e-5", "--rtol", "1e-5", "--out", str(run_dir))  # FP32 tolerances: FP16 rounding fails them
    assert r.code == 1, r
    res = json.loads((run_dir / "results.json").read_text())
    files = res["files"]["model_explorer"].split(",")
    assert {"me_max_abs.json", "me_one_minus_cosine.json", "me_introduced.json",
            "me_first_divergence.json"} <= set(files)
    nodes = {m["node"] for m in res["layers"]}
    for name in files:
        data, ndb = _load_with_model_explorer(run_dir / name)
        assert isinstance(data, ndb.GraphNodeData) and data.results and data.gradient
        assert set(data.results) <= nodes | {m["node"] for m in res["outputs"]}
        assert all(isinstance(v, ndb.NodeDataResult) for v in data.results.values())
        assert data.to_json_string()  # the package serialises it back
    first = json.loads((run_dir / "me_first_divergence.json").read_text())["results"]
    assert first[res["first_divergence"]["node"]]["value"] == 1.0
    html = (run_dir / "report.html").read_text()
    assert f"model-explorer {model} --node_data_paths=me_max_abs.json," in html
    assert f"--node_data_paths={run_dir / 'me_max_abs.json'}," in r.out.replace("\n", "")
