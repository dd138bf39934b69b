"""Engine builds on this machine with the installed module (tensorrt_rtx builds on CPU)."""

import json

import numpy as np
import pytest

from tests.conftest import shared_model
from tests.trt.conftest import dynamic_relu_model, loaded
from trtlab.building import build_to_files
from trtlab.errors import TrtlabError
from trtlab.model import load_model
from trtlab.trt.build import BuildOptions, build_engine, parse_size
from trtlab.trt.profiles import parse_profiles

FAST = ["mnist_opt", "gs_shape_cast_elision", "poly_add_infinity", "poly_const_foldable", "poly_constant_fold_bloater",
        "poly_reducable", "poly_reduce_example", "poly_scan", "poly_unbounded_dds", "poly_needs_constraints",
        "tbefn_lowlight_180x320", "yunet_face_120x160"]
SLOW = ["fastestdet", "deeplab_v3_tflite", "road_segmentation_adas", "light_densenet121"]
DYNAMIC = {"super_resolution": "input:1x1x224x224:2x1x224x224:4x1x224x224",
           "poly_residual_block": "gpu_0/data_0:1x3x224x224:2x3x224x224:2x3x224x224",
           "poly_dynamic_identity": "X:1x2x1x1:1x2x4x4:1x2x8x8"}


def _build(trt, name, tmp_path, profile=None):
    model = load_model(shared_model(f"{name}.onnx") if "/" not in name else name)
    opts = BuildOptions(profiles=parse_profiles([profile] if profile else None))
    return build_to_files(trt, model, opts, tmp_path / "model.engine")


@pytest.mark.parametrize("name", FAST)
def test_public_model_builds_with_provenance(trt, tmp_path, name):
    result = _build(trt, name, tmp_path)
    engine = (tmp_path / "model.engine").read_bytes()
    prov = json.loads((tmp_path / "model.engine.json").read_text())
    assert len(engine) == result.engine["bytes"] > 0
    assert prov["schema"] == "trtlab.engine/1" and prov["module"] == trt.summary()
    assert prov["engine"]["sha256"] == result.engine["sha256"]
    assert len(prov["onnx"]["sha256"]) == 64 and prov["bindings"]["outputs"]
    assert len(prov["bindings"]["inputs"]) == len(result.provenance["bindings"]["inputs"])
    assert result.layers["count"] > 0 and result.timing["build_s"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_larger_public_model_builds(trt, tmp_path, name):
    assert _build(trt, name, tmp_path).engine["bytes"] > 0


@pytest.mark.parametrize("name", sorted(DYNAMIC))
def test_dynamic_public_model_builds_with_profile(trt, tmp_path, name):
    result = _build(trt, name, tmp_path, DYNAMIC[name])
    assert len(result.profiles) == 1


def test_ext_weights_model_builds(trt, tmp_path, model_copy):
    result = _build(trt, str(model_copy("poly_ext_weights/ext_weights.onnx")), tmp_path)
    assert result.engine["bytes"] > 0


def test_conditionally_invalid_model_fails_with_builder_message(trt, tmp_path):
    with pytest.raises(TrtlabError) as exc:
        _build(trt, "poly_if_conditionally_invalid", tmp_path)
    assert "engine build failed" in str(exc.value) and "If_Node_OutputLayer" in str(exc.value)
    assert not (tmp_path / "model.engine").exists()


def test_unparseable_model_refused_with_first_node(trt, tmp_path):
    with pytest.raises(TrtlabError) as exc:
        _build(trt, "poly_capability", tmp_path)
    assert "Fake1" in str(exc.value) and "trtlab check" in exc.value.hint and exc.value.code == 1


def test_several_profiles(trt):
    opts = BuildOptions(profiles=parse_profiles(["x:1x3:2x3:4x3", "x:8x3:16x3:32x3"]))
    built = build_engine(trt, loaded(dynamic_relu_model()), opts)
    assert built.engine and built.inputs[0]["shape"] == [-1, 3]


def test_int8_refused_with_module_named(trt):
    with pytest.raises(TrtlabError) as exc:
        build_engine(trt, loaded(dynamic_relu_model()), BuildOptions(precision="int8"))
    assert trt.name in str(exc.value) and "QuantizeLinear" in exc.value.hint and exc.value.code == 3


def test_half_precision_goes_through_the_graph_pass(trt):
    opts = BuildOptions(precision="fp16", profiles=parse_profiles(["x:1x3"]))
    try:
        import trtlab.passes.to_half  # noqa: F401
    except ImportError:
        with pytest.raises(TrtlabError, match="to-half graph pass is not available"):
            build_engine(trt, loaded(dynamic_relu_model()), opts)
        return
    built = build_engine(trt, loaded(dynamic_relu_model()), opts)
    assert built.engine and "graph edits" in built.notes[0]
    assert built.half_fraction == 1.0 and "float compute node(s) converted" in built.notes[1]


def test_missing_builder_features_are_refused(trt):
    model = loaded(dynamic_relu_model())
    profiles = parse_profiles(["x:1x3"])
    if trt.name == "tensorrt_rtx":
        with pytest.raises(TrtlabError, match="hardware compatibility"):
            build_engine(trt, model, BuildOptions(hardware_compatibility="ampere_plus", profiles=profiles))


def test_builder_options_are_applied(trt):
    opts = BuildOptions(profiles=parse_profiles(["x:1x3:2x3:4x3"]), tf32=False, opt_level=1,
                        pool_limits={"workspace": parse_size("64M"), "tactic_shared_memory": parse_size("48K")})
    assert build_engine(trt, loaded(dynamic_relu_model()), opts).engine


def test_timing_cache_saved_and_reloaded_or_refused(trt, tmp_path):
    cache = tmp_path / "timing.cache"
    opts = BuildOptions(profiles=parse_profiles(["x:1x3:2x3:4x3"]), timing_cache=str(cache))
    if not trt.features["timing_cache"]:
        with pytest.raises(TrtlabError, match="timing cache") as exc:
            build_engine(trt, loaded(dynamic_relu_model()), opts)
        assert exc.value.code == 3 and not cache.exists()
        return
    assert build_engine(trt, loaded(dynamic_relu_model()), opts).engine
    assert cache.stat().st_size > 0
    assert build_engine(trt, loaded(dynamic_relu_model()), opts).engine  # loads the saved cache
    cache.write_bytes(b"garbage" * 10)
    with pytest.raises(TrtlabError, match="timing cache"):
        build_engine(trt, loaded(dynamic_relu_model()), opts)


def test_compute_capability_targets_where_supported(trt):
    opts = BuildOptions(profiles=parse_profiles(["x:1x3"]), compute_capabilities=["SM89"])
    if not trt.features["compute_capability_targets"]:
        with pytest.raises(TrtlabError):
            build_engine(trt, loaded(dynamic_relu_model()), opts)
        return
    assert build_engine(trt, loaded(dynamic_relu_model()), opts).engine
    with pytest.raises(TrtlabError, match="unknown to"):
        build_engine(trt, loaded(dynamic_relu_model()), BuildOptions(profiles=opts.profiles,
                                                                     compute_capabilities=["SM1"]))


def test_marking_layer_outputs(trt):
    from trtlab.trt.layers import network_layers

    model = load_model(shared_model("mnist_opt.onnx"))
    built = build_engine(trt, model, BuildOptions(mark_all=True))
    tensors = [o for layer in network_layers_of(trt, model) for o in layer["outputs"]]
    assert set(built.marked) <= set(tensors) and len(built.marked) >= 5
    assert len(built.outputs) == 1 + len(built.marked)
    assert network_layers  # imported for the helper below


def network_layers_of(trt, model):
    from trtlab.trt.check import parse_network
    from trtlab.trt.layers import network_layers

    _b, network, *_ = parse_network(trt, model)
    return network_layers(network)


@pytest.mark.parametrize("text, size", [("1G", 2**30), ("512M", 512 * 2**20), ("64KiB", 64 * 1024), ("100", 100)])
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_fp16_build_folds_first_so_a_large_variance_is_not_clipped():
    """Converted first, a BatchNormalization variance above 65504 is clipped to 65504 and the engine's output is
    off by up to 1.0; TensorRT folds and fuses in FP32 before it picks precisions, and so must the graph edit that
    build --precision fp16 hands it."""
    import onnxruntime as ort

    from tests.passes.test_to_half import _conv_bn_big_variance
    from trtlab.model import LoadedModel
    from trtlab.trt import module
    from trtlab.trt.build import BuildOptions, convert_precision

    pytest.importorskip("tensorrt_rtx")
    model = _conv_bn_big_variance()
    converted, notes, warnings, frac = convert_precision(LoadedModel(proto=model, path=None),
                                                         BuildOptions(precision="fp16"), module.load("tensorrt_rtx"))
    assert "BatchNormalization" not in {n.op_type for n in converted.proto.graph.node}
    assert any("fused in FP32 before the conversion" in n for n in notes)
    assert not any("clipped" in w for w in warnings) and frac == 1.0
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)

    def run(proto):
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"x": x})[0].astype(np.float32)

    np.testing.assert_allclose(run(converted.proto), run(model), atol=5e-3, rtol=1e-2)
