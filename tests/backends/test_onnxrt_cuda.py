"""`onnxrt:cuda` on a real GPU (onnxruntime-gpu): skipped with the reason where the CUDA provider is absent."""

import json

import pytest

from tests.conftest import shared_model

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda_provider():
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"onnxruntime has no CUDA provider here (providers: {ort.get_available_providers()})")


@pytest.mark.parametrize("name,extra", [("mnist_opt.onnx", []), ("fastestdet.onnx", []),
                                        ("super_resolution.onnx", ["--input-shapes", "input:2x1x224x224"])])
def test_layerwise_cpu_vs_cuda(cuda_provider, cli, tmp_path, name, extra):
    r = cli("compare", str(shared_model(name)), "--target", "onnxrt:cuda", "--layerwise", "--out",
            str(tmp_path / "run"), "--no-report", "--json", *extra)
    res = json.loads(r.out)
    assert res["target"]["provider"] == "CUDAExecutionProvider"
    assert all(m["cosine"] > 0.9999 for m in res["outputs"]), res["outputs"]
    worst = max(res["layers"], key=lambda m: m["max_abs"] or 0)
    print(f"\n{name}: {len(res['layers'])} layers, CPU vs CUDA verdict {res['passed']}, worst layer "
          f"{worst['name']} ({worst['op']}) max_abs={worst['max_abs']:.3g}, target median "
          f"{res['timing']['target']['median_ms']:.2f} ms vs CPU {res['timing']['ref']['median_ms']:.2f} ms")


def test_fp16_on_cuda(cuda_provider, cli, tmp_path):
    r = cli("compare", str(shared_model("fastestdet.onnx")), "--ref", "onnxrt:cuda", "--target", "onnxrt:cuda,fp16",
            "--layerwise", "--out", str(tmp_path / "run"), "--no-report", "--json")
    res = json.loads(r.out)
    assert res["ref"]["provider"] == res["target"]["provider"] == "CUDAExecutionProvider"
    assert res["layers"]


def test_tf32_off_brings_cuda_close_to_cpu(cuda_provider, cli, tmp_path):
    """ORT's CUDA provider uses TF32 by default; tf32=0 gives FP32 that agrees with the CPU far more closely."""
    model = str(shared_model("fastestdet.onnx"))
    runs = {}
    for spec in ("onnxrt:cuda", "onnxrt:cuda,tf32=0"):
        r = cli("compare", model, "--target", spec, "--out", str(tmp_path / spec.replace(",", "_").replace(":", "_")),
                "--no-report", "--json", "--atol", "1e-3", "--rtol", "1e-3")
        runs[spec] = json.loads(r.out)
    tf32, fp32 = (runs[s]["outputs"][0] for s in ("onnxrt:cuda", "onnxrt:cuda,tf32=0"))
    print(f"\nfastestdet output max_abs CPU vs CUDA: TF32 {tf32['max_abs']:.3g}, FP32 {fp32['max_abs']:.3g}")
    assert runs["onnxrt:cuda,tf32=0"]["target"]["tf32"] is False
    assert fp32["max_abs"] < tf32["max_abs"] / 10 and runs["onnxrt:cuda,tf32=0"]["passed"]
