"""Provenance checks, the Triton layout and the pure parts of layers and timing."""

import json

import pytest

from tests.conftest import shared_model
from trtlab.building import build_to_files
from trtlab.errors import TrtlabError
from trtlab.model import load_model
from trtlab.trt import provenance
from trtlab.trt.build import BuildOptions
from trtlab.trt.layers import summarize, surviving_tensors
from trtlab.trt.profiles import parse_profiles
from trtlab.trt.timing import summarize as timing_summary
from trtlab.trt.triton import config_pbtxt, max_batch


@pytest.fixture(scope="module")
def built(trt, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prov")
    model = load_model(shared_model("super_resolution.onnx"))
    opts = BuildOptions(profiles=parse_profiles(["input:1x1x224x224:4x1x224x224:8x1x224x224"]))
    result = build_to_files(trt, model, opts, tmp / "sr.engine", triton_repo=tmp / "repo", triton_name="sr")
    return tmp, result


def test_provenance_matches_installed_module(trt, built):
    tmp, _ = built
    prov = provenance.read(tmp / "sr.engine")
    assert provenance.verify(prov, (tmp / "sr.engine").read_bytes(), trt, None) == []
    assert prov["profiles"][0]["input"]["max"] == [8, 1, 224, 224]
    assert prov["bindings"]["inputs"][0] == {"name": "input", "dtype": "FLOAT", "shape": [-1, 1, 224, 224]}


def test_other_version_is_refused(trt, built):
    tmp, _ = built
    prov = provenance.read(tmp / "sr.engine")
    prov["module"] = {"name": trt.name, "version": "0.0.1"}
    with pytest.raises(TrtlabError) as exc:
        provenance.verify(prov, (tmp / "sr.engine").read_bytes(), trt, None)
    assert "not portable" in str(exc.value) and exc.value.code == 3


def test_other_gpu_is_refused_and_edited_engine_detected(trt, built):
    tmp, _ = built
    data = (tmp / "sr.engine").read_bytes()
    prov = provenance.read(tmp / "sr.engine")
    prov["gpu"] = {"name": "GPU A", "compute_capability": "8.9"}
    with pytest.raises(TrtlabError, match="compute capability 8.9"):
        provenance.verify(prov, data, trt, {"name": "GPU B", "compute_capability": "9.0"})
    with pytest.raises(TrtlabError, match="sha256"):
        provenance.verify(provenance.read(tmp / "sr.engine"), data + b"x", trt, None)
    assert provenance.verify(None, data, trt, None)  # a warning, not a refusal


def test_bad_provenance_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.engine.json").write_text("{nope")
    with pytest.raises(TrtlabError, match="not valid JSON"):
        provenance.read(tmp_path / "x.engine")


def test_triton_layout(built):
    tmp, result = built
    model_dir = tmp / "repo" / "sr"
    assert (model_dir / "1" / "model.plan").read_bytes() == (tmp / "sr.engine").read_bytes()
    text = (model_dir / "config.pbtxt").read_text()
    assert 'platform: "tensorrt_plan"' in text and "max_batch_size: 8" in text
    assert "dims: [ 1, 224, 224 ]" in text and "dims: [ 1, 672, 672 ]" in text and "TYPE_FP32" in text
    assert result.triton == str(model_dir)


def test_triton_without_batch_dim():
    inputs = [{"name": "a", "dtype": "INT64", "shape": [1, 16]}]
    outputs = [{"name": "b", "dtype": "HALF", "shape": [1, 16, 8]}]
    assert max_batch(inputs, outputs, []) == 0
    text = config_pbtxt("m", inputs, outputs, [])
    assert "max_batch_size: 0" in text and "dims: [ 1, 16 ]" in text and "TYPE_FP16" in text
    with pytest.raises(TrtlabError, match="no Triton equivalent"):
        config_pbtxt("m", [{"name": "s", "dtype": "FP8", "shape": [1]}], outputs, [])


def test_build_result_has_the_schema_fields(built):
    _tmp, result = built
    from trtlab.rundir import jsonable

    data = json.loads(json.dumps(jsonable(result)))
    for key in ("schema", "command", "argv", "model", "module", "engine", "provenance", "options", "profiles",
                "layers", "timing", "passed", "environment", "warnings"):
        assert key in data
    assert data["schema"] == "trtlab.build/1" and set(data["timing"]) >= {"parse_s", "build_s"}


def test_inspector_json_and_surviving_tensors():
    info = {"Layers": [{"Name": "conv+relu", "LayerType": "CaskConvolution", "Inputs": [{"Name": "x"}],
                        "Outputs": [{"Name": "relu_out"}], "TacticName": "t1"},
                       {"Name": "fc", "LayerType": "Gemm", "Inputs": [{"Name": "relu_out"}],
                        "Outputs": [{"Name": "y"}]}]}
    layers = summarize(info)
    assert layers[0]["outputs"] == ["relu_out"] and layers[0]["tactic"] == "t1"
    assert surviving_tensors(layers, ["conv_out", "relu_out", "y"]) == ["relu_out", "y"]
    assert summarize({"Layers": ["a", "b"]})[1]["name"] == "b"


def test_timing_stats_like_trtexec():
    samples = [{"h2d_ms": 0.1, "compute_ms": float(i), "d2h_ms": 0.2, "wall_ms": i + 1.0} for i in range(1, 101)]
    stats = timing_summary(samples)
    assert stats["compute_ms"]["mean"] == pytest.approx(50.5)
    assert stats["compute_ms"]["p50"] == pytest.approx(50.5) and stats["compute_ms"]["p99"] == pytest.approx(99.01)
    assert stats["host_ms"]["min"] == pytest.approx(1.3)
    assert set(stats) == {"h2d_ms", "compute_ms", "d2h_ms", "host_ms", "wall_ms"}
