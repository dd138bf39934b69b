import pytest

from trtlab.errors import TrtlabError
from trtlab.trt import module


def test_load_reports_name_version_and_features(trt):
    assert trt.name in module.MODULES
    assert trt.version and trt.version != "unknown"
    assert {"fp16_flag", "tf32_flag", "supports_model_v2", "progress_monitor"} <= set(trt.features)


def test_rtx_has_no_weak_typing_flags(trt):
    if trt.name != "tensorrt_rtx":
        pytest.skip("facts about tensorrt_rtx")
    assert not trt.features["fp16_flag"] and not trt.features["int8_flag"] and not trt.features["bf16_flag"]
    assert trt.features["supports_model_v2"] and trt.features["tf32_flag"]


def test_unknown_module_name_is_a_usage_error():
    with pytest.raises(TrtlabError) as exc:
        module.load("tensorrt_nope")
    assert exc.value.code == 2 and "tensorrt_rtx" in exc.value.hint


def test_env_var_forces_module(monkeypatch, trt):
    monkeypatch.setenv(module.ENV_VAR, trt.name)
    assert module.load().name == trt.name


def test_capturing_logger_keeps_parser_errors(trt):
    logger = module.CapturingLogger.create(trt)
    builder = trt.mod.Builder(logger)
    network = builder.create_network(0)
    parser = trt.mod.OnnxParser(network, logger)
    assert not parser.parse(b"not onnx")
    assert logger.errors()
