"""doctor / check / build / run from the command line: exit codes, run directories, one-line errors."""

import json

import pytest

from tests.conftest import shared_model

pytest.importorskip("tensorrt_rtx", reason="the TensorRT CLI tests use tensorrt_rtx (pip install 'trtlab[rtx]')")


def test_doctor_json_and_exit_code(cli):
    r = cli("doctor", "--json", "--for", "build")
    data = json.loads(r.out)
    names = {c["name"] for c in data["checks"]}
    assert {"python", "onnx", "onnxruntime", "tensorrt", "builder", "gpu", "execute", "cuda runtime"} <= names
    assert r.code == 0 and data["ready"] and data["module"]["name"]
    run = cli("doctor", "--json", "--for", "run")
    run_data = json.loads(run.out)
    assert (run.code == 0) == run_data["ready"]
    for check in run_data["checks"]:
        if not check["ok"] and check["name"] in run_data["missing"]:
            assert check["hint"]


def test_check_parseable_writes_run_dir(cli, tmp_path):
    r = cli("check", str(shared_model("mnist_opt.onnx")), "--out", "run", "--json")
    assert r.code == 0, r
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["schema"] == "trtlab.check/1" and data["parseable"] and data["module"]["version"]
    for key in ("command", "argv", "model", "nodes", "partitions", "environment", "warnings", "passed"):
        assert key in data
    assert set(data["nodes"][0]) >= {"index", "name", "op", "domain", "supported", "error", "hint"}


def test_check_unparseable_names_nodes(cli):
    r = cli("check", str(shared_model("poly_capability.onnx")))
    assert r.code == 1
    assert "Fake1" in r.out and "FAKER!" in r.out and "not parseable" in r.out


def test_check_keeps_what_the_parser_prints_off_stderr(tmp_path):
    """QA: tensorrt_rtx prints 'Unsupported ONNX data type: STRING (8)' straight to fd 2 (twice: parse and the
    capability query). A real process, since only fd 2 shows it: stderr holds trtlab's lines only, and the text
    is kept in results.json."""
    from tests.conftest import run_subprocess

    r = run_subprocess(["trtlab", "check", str(shared_model("ortx_bert_tokenizer.onnx")), "--out", "run"], tmp_path)
    assert r.code == 1, r
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert lines and all(line.startswith("warning: ") for line in lines), r.err
    assert sum("STRING (8)" in line for line in lines) == 1
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["parser_output"] == ["Unsupported ONNX data type: STRING (8)"]


def test_check_bad_input_is_exit_2(cli, tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x00garbage")
    r = cli("check", "junk.onnx")
    assert r.code == 2 and r.err.startswith("error: ") and r.err.count("\n") == 1
    assert not (tmp_path / "trtlab-runs").exists() or not any((tmp_path / "trtlab-runs").iterdir())


def test_build_cli_engine_provenance_and_results(cli, tmp_path):
    r = cli("build", str(shared_model("super_resolution.onnx")), "-o", "sr.engine", "--out", "run",
            "--profile", "input:1x1x224x224:2x1x224x224:4x1x224x224", "--triton-repo", "repo", "-q")
    assert r.code == 0, r
    assert (tmp_path / "sr.engine").stat().st_size > 0 and (tmp_path / "sr.engine.json").exists()
    assert (tmp_path / "repo" / "super_resolution" / "1" / "model.plan").exists()
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["schema"] == "trtlab.build/1" and data["passed"] and data["argv"][:2] == ["trtlab", "build"]
    assert "max 4x1x224x224" not in r.err and "profile 0" in r.out


def test_build_dynamic_without_profile_names_input(cli, tmp_path):
    r = cli("build", str(shared_model("super_resolution.onnx")), "-o", "sr.engine")
    assert r.code == 2 and "input 'input'" in r.err and "--profile input:" in r.err
    assert not (tmp_path / "sr.engine").exists()
    assert not (tmp_path / "trtlab-runs").exists() or not any((tmp_path / "trtlab-runs").iterdir())


def test_build_refusals_are_one_line(cli):
    r = cli("build", str(shared_model("mnist_opt.onnx")), "--precision", "int8")
    assert r.code == 3 and "INT8" in r.err and r.err.count("\n") == 1


def test_failed_build_keeps_a_run_dir_with_the_refused_nodes(cli, tmp_path):
    """QA: a parser refusal left nothing in --out, so `trtlab report` had nothing to show. Now: results.json
    (passed false, the refused nodes with the parser's message and a hint), report.html, no engine; still exit 1
    with one line."""
    import onnx

    from tests.trt.conftest import conv_integer_model

    onnx.save(conv_integer_model(), tmp_path / "convint.onnx")
    r = cli("build", "convint.onnx", "-o", "ci.engine", "--out", "r_build", "--report")
    assert r.code == 1 and r.err.startswith("error: ") and r.err.count("\n") == 1, r
    assert "conv_int" in r.err and "r_build/results.json" in r.err
    assert not (tmp_path / "ci.engine").exists() and not (tmp_path / "ci.engine.json").exists()
    data = json.loads((tmp_path / "r_build" / "results.json").read_text())
    assert data["schema"] == "trtlab.build/1" and data["passed"] is False and data["engine"] is None
    assert data["failure"]["stage"] == "parse" and "ConvInteger" in data["failure"]["error"]
    [node] = data["nodes"]
    assert node["name"] == "conv_int" and not node["supported"] and "checkConvInteger" in node["error"]
    assert "QDQ" in node["hint"]
    html = (tmp_path / "r_build" / "report.html").read_text()
    assert "NOT BUILT" in html and "1 unsupported node(s)" in html and "QDQ" in html
    again = cli("report", "r_build")
    assert again.code == 0, again


def test_run_missing_file_then_unavailable(cli):
    assert cli("run", "nope.engine").code == 2
    from trtlab.backends.trt import can_execute

    ok, _why = can_execute()
    if not ok:
        r = cli("run", str(shared_model("mnist_opt.onnx")))
        assert r.code == 3 and "doctor --for run" in r.err


def test_build_mark_all_is_labelled(cli, tmp_path):
    r = cli("build", str(shared_model("mnist_opt.onnx")), "--mark", "all", "--out", "run", "--json")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert len(data["provenance"]["marked"]) >= 5 and any("fusions disabled" in w for w in data["warnings"])


@pytest.mark.parametrize("output, problem", [("x.onnx", "would overwrite the input"), (".", "is a folder"),
                                             ("x.onnx/e.engine", "is a file, not a folder")])
def test_build_output_validated_before_building(cli, tmp_path, model_copy, output, problem):
    model = model_copy("super_resolution.onnx")
    (tmp_path / "x.onnx").write_bytes(model.read_bytes())
    before = (tmp_path / "x.onnx").read_bytes()
    r = cli("build", "x.onnx", "-o", output, "--profile", "input:1x1x224x224")
    assert r.code == 2 and problem in r.err and r.err.count("\n") == 1, r
    assert (tmp_path / "x.onnx").read_bytes() == before and not (tmp_path / "x.onnx.json").exists()
    assert not (tmp_path / "trtlab-runs").exists()


def test_run_refuses_bad_arguments_and_files_before_looking_for_a_gpu(cli, tmp_path):
    assert cli("build", str(shared_model("mnist_opt.onnx")), "-o", "m.engine", "-q").code == 0
    (tmp_path / "garbage.engine").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "text.onnx").write_text("not a model\n")
    (tmp_path / "onnx.engine").write_bytes(shared_model("mnist_opt.onnx").read_bytes())
    cases = [(["m.engine", "--iterations", "0"], "--iterations 0"), (["m.engine", "--duration", "-1"], "--duration"),
             (["m.engine", "--warmup", "inf"], "--warmup"), (["garbage.engine"], "not a TensorRT engine"),
             (["onnx.engine", "--model", str(shared_model("mnist_opt.onnx"))], "not a TensorRT engine"),
             (["text.onnx"], "not a readable ONNX model"), (["m.engine", "--save-outputs", "m.engine"], "overwrite"),
             (["m.engine", "--timing-json", "."], "is a folder")]
    for args, needle in cases:
        r = cli("run", *args)
        assert r.code == 2 and needle in r.err and r.err.count("\n") == 1, (args, r)
    assert [p.name.split("-")[0] for p in (tmp_path / "trtlab-runs").iterdir()] == ["build"]


def test_build_surfaces_what_the_to_half_pass_warns_or_refuses(cli, tmp_path, monkeypatch):
    """The to-half pass reports --keep-fp32 entries that match nothing (warning or ValueError); build shows either.
    The pass is wrapped here so the test holds whichever way passes/to_half.py reports it; the build is real."""
    import warnings

    from trtlab.passes import to_half

    real = to_half.convert_with_report

    def warns(proto, precision, keep_fp32=(), keep_io_types=True):
        warnings.warn(f"--keep-fp32: {', '.join(keep_fp32)} matches no node or op type", stacklevel=2)
        return real(proto, precision, keep_fp32=keep_fp32, keep_io_types=keep_io_types)

    monkeypatch.setattr(to_half, "convert_with_report", warns)
    r = cli("build", str(shared_model("mnist_opt.onnx")), "--precision", "fp16", "--keep-fp32", "NoSuchThing",
            "--out", "run")
    assert r.code == 0, r
    assert "NoSuchThing matches no node" in r.err
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert any("NoSuchThing matches no node" in w for w in data["warnings"])

    def refuses(proto, precision, keep_fp32=(), keep_io_types=True):
        raise ValueError("keep_fp32 entry 'NoSuchThing' matches no node or op type")

    monkeypatch.setattr(to_half, "convert_with_report", refuses)
    r = cli("build", str(shared_model("mnist_opt.onnx")), "--precision", "fp16", "--keep-fp32", "NoSuchThing",
            "-o", "m.engine")
    assert r.code == 2 and "NoSuchThing" in r.err and r.err.count("\n") == 1 and not (tmp_path / "m.engine").exists()
