"""Execution on a GPU: skipped with the reason wherever no TensorRT runtime can execute engines.

Run on a GPU machine: ``python -m pytest -q -m gpu tests/trt tests/cli`` (see docs/gpu.md).
"""

import json

import numpy as np
import pytest

from tests.conftest import shared_model
from trtlab.model import load_model
from trtlab.trt.build import BuildOptions, build_engine
from trtlab.trt.profiles import parse_profiles

pytestmark = pytest.mark.gpu


def _ort(path, feeds):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def test_cuda_buffers_streams_events_roundtrip(cuda_device):
    from trtlab.trt import cuda

    host = np.arange(1 << 20, dtype=np.float32)
    back = np.empty_like(host)
    buf, stream, e0, e1 = cuda.DeviceBuffer(host.nbytes), cuda.Stream(), cuda.Event(), cuda.Event()
    e0.record(stream)
    stream.h2d(buf.ptr, host, host.nbytes)
    stream.d2h(back, buf.ptr, host.nbytes)
    e1.record(stream)
    stream.synchronize()
    assert np.array_equal(host, back) and e1.elapsed_ms(e0) > 0
    print(f"\n{cuda_device.gpus[0]['name']}: 4 MiB H2D+D2H round trip {e1.elapsed_ms(e0):.3f} ms (CUDA events)")
    buf.free(), stream.close(), e0.close(), e1.close()


def test_runner_matches_onnxruntime(executes):
    from trtlab.trt.runner import TrtRunner

    path = shared_model("mnist_opt.onnx")
    feeds = {"Input3": np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)}
    built = build_engine(executes, load_model(path), BuildOptions(tf32=False) if executes.features["tf32_flag"]
                         else BuildOptions())
    with TrtRunner(executes, built.engine) as runner:
        out = runner.infer(feeds)
        assert runner.last["compute_ms"] > 0 and runner.last["h2d_ms"] >= 0
    ref = _ort(path, feeds)
    for name, value in ref.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-3, atol=1e-3)


def test_dynamic_shapes_and_profiles(executes):
    from trtlab.trt.runner import TrtRunner

    path = shared_model("super_resolution.onnx")
    opts = BuildOptions(profiles=parse_profiles(["input:1x1x224x224:2x1x224x224:4x1x224x224"]))
    built = build_engine(executes, load_model(path), opts)
    with TrtRunner(executes, built.engine) as runner:
        for batch in (1, 3):
            x = np.random.default_rng(batch).random((batch, 1, 224, 224), dtype=np.float32)
            assert runner.infer({"input": x})["output"].shape == (batch, 1, 672, 672)


def test_data_dependent_output_shape(executes):
    from trtlab.trt.runner import TrtRunner

    path = shared_model("poly_unbounded_dds.onnx")
    feeds = {"Input": np.random.default_rng(0).random((1, 3, 10, 10), dtype=np.float32) * 4}
    built = build_engine(executes, load_model(path), BuildOptions())
    with TrtRunner(executes, built.engine) as runner:
        out = runner.infer(feeds)
    ref = _ort(path, feeds)
    for name, value in ref.items():
        assert out[name].shape == value.shape
        np.testing.assert_allclose(out[name], value, rtol=1e-3, atol=1e-3)


def test_timing_report(executes):
    from trtlab.trt.runner import TrtRunner
    from trtlab.trt.timing import benchmark

    built = build_engine(executes, load_model(shared_model("mnist_opt.onnx")), BuildOptions())
    feeds = {"Input3": np.zeros((1, 1, 28, 28), np.float32)}
    with TrtRunner(executes, built.engine) as runner:
        report = benchmark(runner, feeds, warmup_s=0.05, iterations=20, duration_s=0.2)
    assert report.iterations >= 20 and report.throughput_qps > 0
    s = report.stats["compute_ms"]
    assert 0 < s["min"] <= s["p50"] <= s["p90"] <= s["p95"] <= s["p99"] <= s["max"]


def test_run_cli_timing_json(executes, cli, tmp_path):
    r = cli("build", str(shared_model("mnist_opt.onnx")), "-o", "m.engine", "-q")
    assert r.code == 0, r
    r = cli("run", "m.engine", "--duration", "0.2", "--timing-json", "t.json", "--out", "run")
    assert r.code == 0, r
    timing = json.loads((tmp_path / "t.json").read_text())
    assert {"h2d_ms", "compute_ms", "d2h_ms", "host_ms"} <= set(timing["stats"])


@pytest.mark.parametrize("mark", ["fused", "all"])
def test_compare_target_trt_layerwise(executes, cli, tmp_path, mark):
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", f"trt:mark={mark}", "--layerwise",
            "--atol", "1e-3", "--rtol", "1e-3", "--out", "run", "--no-report")
    assert r.code == 0, r
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["target"]["module"] == executes.name and data["outputs"][0]["passed"]
    if mark == "all":
        assert data["target"]["label"] == "fusions disabled"
    else:
        assert any("survive fusion" in n for n in data["target"]["notes"])
