"""`trtlab compare` end to end on real models: layer-wise onnxrt vs onnxrt:fp16 and vs reference."""

import json

import numpy as np
import pytest

from tests.conftest import shared_model

# (model, extra args): a CNN, a model with Loop, integer inputs (Loop trip count), dynamic dims, If, Scan.
REAL = [
    ("mnist_opt.onnx", []),
    ("super_resolution.onnx", ["--input-shapes", "input:1x1x224x224"]),
    ("poly_loop.onnx", []),
    ("poly_scan.onnx", []),
    ("poly_dynamic_identity.onnx", ["--input-shapes", "X:1x2x5x7"]),
    ("poly_residual_block.onnx", ["--input-shapes", "gpu_0/data_0:2x3x224x224"]),
    ("gs_shape_cast_elision.onnx", []),
]


def _results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.parametrize("name,extra", REAL)
@pytest.mark.parametrize("target", ["onnxrt:fp16", "reference"])
def test_layerwise_compare_on_real_models(cli, tmp_path, name, extra, target):
    run_dir = tmp_path / "run"
    r = cli("compare", str(shared_model(name)), "--target", target, "--layerwise", "--out", str(run_dir),
            "--no-report", *extra)
    assert r.code in (0, 1), r
    res = _results(run_dir)
    assert res["schema"] == "trtlab.compare/1"
    assert res["target"]["spec"] == target and res["ref"]["backend"] == "onnxrt"
    assert res["ref"]["version"] and res["ref"]["provider"] == "CPUExecutionProvider"
    assert res["outputs"] and res["layers"] is not None
    assert (r.code == 0) == res["passed"]
    for m in res["outputs"] + res["layers"]:
        assert {"name", "node", "op", "shape", "dtype", "max_abs", "mean_abs", "max_rel", "cosine", "snr_db", "nan",
                "inf", "mismatch_fraction", "passed"} <= set(m)
    if target == "reference" and name == "poly_residual_block.onnx":
        # onnx.reference and ORT disagree on this model's BatchNormalization (batch 2): the layer-wise run pins it.
        assert res["first_divergence"]["op"] == "BatchNormalization"
    elif target == "reference":  # two FP32 implementations of the ONNX spec agree closely
        assert all(m["cosine"] is None or m["cosine"] > 0.99999 for m in res["outputs"]), res["outputs"]
    assert (run_dir / "inputs.npz").exists()
    if not res["passed"]:
        assert res["first_divergence"]["tensor"] and res["first_divergence"]["op"]


def test_fp16_overflow_is_found_at_the_first_layer_that_overflows(cli, tmp_path):
    """poly_needs_constraints: FP16 storage breaks it; the first divergence names a node, metrics show Inf."""
    run_dir = tmp_path / "run"
    r = cli("compare", str(shared_model("poly_needs_constraints.onnx")), "--target", "onnxrt:fp16", "--layerwise",
            "--out", str(run_dir), "--no-report", "--json")
    res = json.loads(r.out)
    assert r.code == 1 and res["passed"] is False
    fd = res["first_divergence"]
    assert fd and fd["node"] and fd["op"]
    names = [m["name"] for m in res["layers"]]
    assert names.index(fd["tensor"]) == min(names.index(m["name"]) for m in res["layers"] if not m["passed"])


def test_keep_list_fixes_the_fp16_model(cli, tmp_path):
    model = str(shared_model("poly_needs_constraints.onnx"))
    cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "plain"), "--no-report")
    cli("compare", model, "--target", "onnxrt:fp16,keep=Add+Sub", "--out", str(tmp_path / "kept"), "--no-report")
    plain, kept = (_results(tmp_path / d)["outputs"][0] for d in ("plain", "kept"))
    assert plain["cosine"] < 0.9 and kept["cosine"] > 0.9999
    assert "kept in FP32 (keep-list)" in _results(tmp_path / "kept")["target"]["notes"][-1]


def test_outputs_and_inputs_saved_and_reloaded(cli, tmp_path):
    model = str(shared_model("mnist_opt.onnx"))
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "a"), "--save-outputs",
            "--save-inputs", str(tmp_path / "feeds.npz"), "--samples", "2", "--no-report")
    assert r.code in (0, 1), r
    res = _results(tmp_path / "a")
    assert res["samples"] == 2 and res["files"]["ref_outputs"] == "ref_outputs.npz"
    with np.load(tmp_path / "a" / "ref_outputs.npz") as z:
        assert len(z.files) == 2  # one output, two samples
    r2 = cli("compare", model, "--target", "onnxrt:fp16", "--out", str(tmp_path / "b"), "--no-report",
             "--load-inputs", str(tmp_path / "feeds.npz"))
    assert _results(tmp_path / "b")["outputs"][0]["max_abs"] == res["outputs"][0]["max_abs"]
    assert r2.code == r.code


def test_per_output_tolerance_override(cli, tmp_path):
    model = str(shared_model("mnist_opt.onnx"))
    strict = cli("compare", model, "--target", "onnxrt:fp16", "--atol", "0", "--rtol", "0", "--out",
                 str(tmp_path / "s"), "--no-report")
    out_name = _results(tmp_path / "s")["outputs"][0]["name"]
    loose = cli("compare", model, "--target", "onnxrt:fp16", "--atol", "0", "--rtol", "0", "--atol",
                f"{out_name}:1", "--out", str(tmp_path / "l"), "--no-report")
    assert strict.code == 1 and loose.code == 0


def test_trt_default_target_unavailable_exits_3_with_cpu_hint(cli, tmp_path):
    from trtlab.backends.trt import can_execute

    if can_execute()[0]:
        pytest.skip("TensorRT can execute here")
    r = cli("compare", "example:tinycnn")
    assert r.code == 3 and "onnxrt:fp16" in r.err and r.err.count("\n") == 1
    assert not (tmp_path / "trtlab-runs").exists() or not any((tmp_path / "trtlab-runs").iterdir())


def test_custom_domain_op_is_reported_not_crashed(cli):
    r = cli("compare", str(shared_model("ortx_bert_tokenizer.onnx")), "--target", "onnxrt:fp16")
    assert r.code == 3 and "BertTokenizer" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize("args,needle", [
    (["--input-shapes", "nope:1x1x28x28"], "no input of that name"),
    (["--input-shapes", "Input3:1x1x28"], "rank"),
    (["--input-shapes", "Input3:1x2x28x28"], "does not fit"),
    (["--target", "tensorflow"], "unknown backend"),
    (["--target", "onnxrt:fp17"], "unknown option"),
    (["--atol", "abc"], "--atol"),
])
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, needle):
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:fp16", *args)
    assert r.code == 2, r
    assert needle in r.err and r.err.strip().count("\n") == 0 and "Traceback" not in r.err


def test_corrupt_model_and_missing_npz_key(cli, tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(shared_model("mnist_opt.onnx").read_bytes()[:3000])
    r = cli("compare", str(bad), "--target", "onnxrt:fp16")
    assert r.code == 2 and "corrupt.onnx |" in r.err
    np.savez(tmp_path / "wrong.npz", other=np.zeros((1, 1, 28, 28), np.float32))
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:fp16", "--load-inputs",
            str(tmp_path / "wrong.npz"))
    assert r.code == 2 and "no data for input" in r.err


def test_integer_outputs_compare_exactly(cli, tmp_path):
    r = cli("compare", str(shared_model("poly_nonzero.onnx")), "--target", "onnxrt:fp16", "--out",
            str(tmp_path / "r"), "--no-report", "--json")
    res = json.loads(r.out)
    assert r.code == 0 and res["outputs"][0]["exact"] is True


def test_bf16_on_an_old_opset_runs_by_splitting(cli, tmp_path):
    """Cast to bfloat16 needs opset 13: older models are rounded by Veltkamp splitting instead of refused."""
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:bf16", "--no-report", "--json",
            "--out", str(tmp_path / "run"))
    assert r.code in (0, 1), r
    assert any("Veltkamp" in n for n in json.loads(r.out)["target"]["notes"])


def test_if_model_with_the_valid_branch_chosen_by_val_range(cli, tmp_path):
    """poly_if_conditionally_invalid: only cond=True is valid; --val-range pins a bool input."""
    model = str(shared_model("poly_if_conditionally_invalid.onnx"))
    ok = cli("compare", model, "--target", "onnxrt:fp16", "--val-range", "cond:[1,1]", "--layerwise", "--no-report",
             "--out", str(tmp_path / "ok"))
    assert ok.code == 0, ok
    bad = cli("compare", model, "--target", "onnxrt:fp16", "--val-range", "cond:[0,0]", "--no-report")
    assert bad.code == 2 and "inference failed" in bad.err and "--val-range" in bad.err


def test_loader_and_npz_edge_cases_are_exit_2(cli, tmp_path):
    model = str(shared_model("mnist_opt.onnx"))
    (tmp_path / "dl.txt").write_text("x")
    np.savez(tmp_path / "empty.npz")
    for args, needle in ((["--data-loader-script", f"{tmp_path / 'dl.txt'}:f"], "not a Python file"),
                         (["--data-loader-script", f"{tmp_path}:f"], "not a Python file"),
                         (["--load-inputs", str(tmp_path / "empty.npz")], "holds no arrays"),
                         (["--input-shapes", "Input3:0x1x28x28"], "dimension of 0"),
                         (["--target", "onnxrt:fp16,bf16"], "both given")):
        r = cli("compare", model, "--target", "onnxrt:fp16", *args)
        assert r.code == 2 and needle in r.err, r


def test_onnxruntime_logs_stay_out_of_error_lines(cli):
    r = cli("compare", str(shared_model("poly_if_conditionally_invalid.onnx")), "--target", "onnxrt:fp16",
            "--val-range", "cond:[0,0]")
    assert r.code == 2 and r.err.count("\n") == 1 and "\x1b[" not in r.err


def test_output_dir_errors(cli, tmp_path):
    model = str(shared_model("mnist_opt.onnx"))
    r = cli("compare", model, "--target", "onnxrt:fp16", "--out", model)
    assert r.code == 2 and "is a file" in r.err
    (tmp_path / "adir").mkdir()
    r = cli("compare", model, "--target", "onnxrt:fp16", "--save-inputs", str(tmp_path / "adir"))
    assert r.code == 2 and "is a folder" in r.err


def test_example_json_and_bad_output(cli, tmp_path):
    r = cli("example", "--list", "--json")
    assert r.code == 0 and "tinycnn" in json.loads(r.out)["examples"]
    (tmp_path / "adir").mkdir()
    r = cli("example", "tinycnn", "-o", str(tmp_path / "adir"))
    assert r.code == 2 and "is a folder" in r.err


def test_results_name_the_model_file_by_its_sha256_and_latencies_are_warm(cli, tmp_path):
    import hashlib

    path = shared_model("fastestdet.onnx")  # weights over 64 KiB: compare holds them apart (trtlab.weights)
    r = cli("compare", str(path), "--target", "onnxrt:fp16", "--out", str(tmp_path / "r"), "--no-report",
            "--samples", "2", "--json")
    res = json.loads(r.out)
    assert res["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for side in ("ref", "target"):
        assert len(res["timing"][side]["warmup_ms"]) == 1 and len(res["timing"][side]["latency_ms"]) == 2


def test_tolerance_for_an_unknown_tensor_is_warned(cli, tmp_path):
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:fp16", "--atol", "nosuch:1",
            "--out", str(tmp_path / "r"), "--no-report")
    assert "nosuch" in r.err and "not compared" in r.err
