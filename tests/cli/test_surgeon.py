"""``trtlab surgeon`` end to end: outputs, results.json, ordering, dumps, exit codes, no output on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnx
import pytest

from tests.conftest import shared_model


def _results(out_text: str) -> dict:
    return json.loads(out_text)


def test_fold_cleanup_writes_model_and_results(cli, tmp_path):
    src = shared_model("road_segmentation_adas.onnx")
    r = cli("surgeon", str(src), "--fold-constants", "--cleanup", "-o", "out.onnx", "--json", "--run-dir", "run")
    assert r.code == 0, r
    data = _results(r.out)
    assert data["schema"] == "trtlab.surgeon/1" and data["passed"] is True
    assert [p["name"] for p in data["passes"]] == ["fold-constants", "cleanup"]
    p = data["passes"][0]
    for key in ("options", "seconds", "nodes_before", "nodes_after", "ops_before", "ops_after", "initializers_before",
                "initializers_after", "bytes_before", "bytes_after", "verified", "max_abs_error", "status",
                "skipped", "notes"):
        assert key in p
    assert (p["nodes_before"], p["nodes_after"], p["verified"]) == (375, 320, True)  # 40 Pads merged into Convs
    assert onnx.load(tmp_path / "out.onnx").graph.node
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["output"].endswith("out.onnx") and "environment" in saved


def test_table_output_and_pass_order(cli, tmp_path):
    src = shared_model("gs_shape_cast_elision.onnx")
    r = cli("surgeon", str(src), "--cleanup", "-p", "fold-constants:size_threshold=16M", "--toposort", "-o", "o.onnx")
    assert r.code == 0, r
    assert r.out.index("cleanup") < r.out.index("fold-constants") < r.out.index("toposort")
    assert "8 -> 1" in r.out and "op types that changed" in r.out


def test_list_passes(cli):
    r = cli("surgeon", "--list")
    assert r.code == 0 and "fold-constants" in r.out and "to-fp16" in r.out


def test_dump_after_all_and_default_output_in_run_dir(cli, tmp_path):
    src = shared_model("poly_const_foldable.onnx")
    r = cli("surgeon", str(src), "--fold-constants", "--cleanup", "--dump-after", "all", "--run-dir", "run")
    assert r.code == 0, r
    dumps = sorted(p.name for p in (tmp_path / "run" / "dumps").iterdir())
    assert dumps == ["01-fold-constants.onnx", "02-cleanup.onnx"]
    assert (tmp_path / "run" / "poly_const_foldable.surgeon.onnx").exists()


def test_never_overwrites_input_unless_in_place(cli, model_copy):
    src = model_copy("poly_const_foldable.onnx")
    before = src.read_bytes()
    r = cli("surgeon", str(src), "--fold-constants", "-o", str(src))
    assert r.code == 2 and "--in-place" in r.err and src.read_bytes() == before
    r = cli("surgeon", str(src), "--fold-constants", "--in-place")
    assert r.code == 0 and len(onnx.load(src).graph.node) == 1


def test_external_data_is_read_and_written(cli, model_copy, tmp_path):
    src = model_copy("poly_ext_weights/ext_weights.onnx")
    r = cli("surgeon", str(src), "--cleanup", "--external-data", "-o", "ext_out.onnx")
    assert r.code == 0, r
    assert onnx.load(tmp_path / "ext_out.onnx").graph.node
    r = cli("surgeon", str(shared_model("poly_reduce_example.onnx")), "--cleanup", "--external-data", "-o", "big.onnx")
    assert r.code == 0, r
    assert (tmp_path / "big.onnx.data").stat().st_size > 500_000
    assert (tmp_path / "big.onnx").stat().st_size < 100_000


def test_fp16_pass_verified_with_half_tolerances(cli, tmp_path):
    src = shared_model("mnist_opt.onnx")
    r = cli("surgeon", str(src), "--to-fp16", "-o", "half.onnx", "--json")
    assert r.code in (0, 1), r
    p = _results(r.out)["passes"][0]
    assert p["verified"] is not False or "changed the outputs" in " ".join(p["notes"])


def test_pass_that_changes_outputs_undoes_the_offending_rewrites(cli, tmp_path):
    src = shared_model("super_resolution.onnx")
    # tolerances below FP16 rounding of some layers: verification (half storage kept) undoes those, keeps the rest;
    # at 0 every node would have to stay FP32 and the pass fails
    r = cli("surgeon", str(src), "--to-fp16", "--atol", "1e-4", "--rtol", "1e-3", "-o", "out.onnx", "--json")
    assert r.code == 0, r
    data = _results(r.out)
    rec = data["passes"][0]
    assert data["passed"] and rec["verified"] and rec["undone"]
    assert all("changed the outputs" in u["reason"] for u in rec["undone"])
    assert any("rewrite(s) undone" in w for w in data["warnings"])


def test_pass_that_changes_outputs_exits_1_and_writes_nothing(cli, tmp_path):
    from onnx import helper

    from tests.passes.helpers import const, make_model, tensor

    model = make_model([helper.make_node("Mul", ["x", "big"], ["y"])], [tensor("x", [2, 3])], [tensor("y", [2, 3])],
                       [const("big", 1e5)])
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("surgeon", "m.onnx", "--to-fp16", "-o", "never.onnx", "--json")
    assert r.code == 1, r
    data = _results(r.out)
    assert data["passed"] is False and "to-fp16" in data["failure"] and "output" in data["failure"]
    assert not (tmp_path / "never.onnx").exists()


@pytest.mark.parametrize("args,expected", [
    (["--fold-constants", "-p", "no-such-pass"], "unknown pass"),
    (["--override-input-shapes", "nope:1x2"], "no input of that name"),
    (["--extract-inputs", "a", "--extract-outputs", "b"], "no tensor of that name"),
    (["-p", "cleanup:bogus=1"], "unknown option"),
    ([], "no passes given"),
])
def test_bad_input_is_one_line_exit_2_no_output(cli, tmp_path, args, expected):
    src = shared_model("poly_reducable.onnx")
    r = cli("surgeon", str(src), *args, "-o", "out.onnx")
    assert r.code == 2, r
    assert expected in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "out.onnx").exists()
    assert not (tmp_path / "trtlab-runs").exists() or not any((tmp_path / "trtlab-runs").iterdir())


def test_corrupt_model_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    r = cli("surgeon", str(bad), "--fold-constants", "-o", "out.onnx")
    assert r.code == 2 and "not a readable ONNX model" in r.err
    assert not Path(tmp_path / "out.onnx").exists()


def test_extract_bad_boundary_exit_2(cli, tmp_path):
    src = shared_model("poly_reducable.onnx")
    model = onnx.load(src)
    out_name = model.graph.output[0].name
    r = cli("surgeon", str(src), "--extract-outputs", out_name, "--extract-inputs", model.graph.output[1].name,
            "-o", "x.onnx")
    assert r.code == 2 and not (tmp_path / "x.onnx").exists(), r


def test_override_input_shapes_verifies_at_the_overridden_shapes(cli, tmp_path):
    # the README example with a batch other than 1: verification feeds follow the override
    r = cli("surgeon", str(shared_model("super_resolution.onnx")), "--override-input-shapes", "input:4x1x224x224",
            "--fold-constants", "-o", "o.onnx", "--json")
    assert r.code == 0, r
    assert [p["verified"] for p in _results(r.out)["passes"]] == [True, True]
    dims = [d.dim_value for d in onnx.load(tmp_path / "o.onnx").graph.input[0].type.tensor_type.shape.dim]
    assert dims == [4, 1, 224, 224]
    r = cli("surgeon", str(shared_model("poly_dynamic_identity.onnx")), "--override-input-shapes", "X:1x2x5x5",
            "-o", "p.onnx", "--json")
    assert r.code == 0 and _results(r.out)["passes"][0]["verified"] is True, r
    # a fixed dim is refused up front: exit 2, one line, nothing written
    r = cli("surgeon", str(shared_model("mnist_opt.onnx")), "--override-input-shapes", "Input3:2x1x28x28",
            "-o", "m.onnx")
    assert r.code == 2 and "dim 0 is fixed at 1" in r.err and "Traceback" not in r.err, r
    assert not (tmp_path / "m.onnx").exists()


def test_bf16_below_opset_13_exits_2_in_surgeon_and_build(cli, tmp_path):
    r = cli("surgeon", str(shared_model("yunet_face_120x160.onnx")), "--to-bf16", "-o", "y.onnx")
    assert r.code == 2 and "bfloat16 needs opset 13" in r.err and "--opset 13" in r.err, r
    assert len(r.err.strip().splitlines()) == 1 and not (tmp_path / "y.onnx").exists()
    # build used to write a plain FP32 engine whose provenance said bf16
    r = cli("build", str(shared_model("mnist_opt.onnx")), "--precision", "bf16", "-o", "m.engine")
    assert r.code == 2 and "bfloat16 needs opset 13" in r.err, r
    assert not list(tmp_path.glob("m.engine*"))


def test_json_stdout_stays_json_when_graphsurgeon_logs(tmp_path):
    # a subprocess: graphsurgeon's logger printed "[W] ..." lines to stdout, before the JSON
    from tests.conftest import run_subprocess

    r = run_subprocess(["trtlab", "surgeon", str(shared_model("mnist_opt.onnx")), "--opset", "13", "--to-bf16",
                        "-o", "m.onnx", "--json"], cwd=tmp_path)
    assert r.code == 0, r
    data = _results(r.out)
    assert data["passed"] is True and "[W]" not in r.out
    assert not any("could not normalise" in n for p in data["passes"] for n in p["notes"])  # graphsurgeon did run


def test_opset_target_checked_up_front_and_unrunnable_result_is_a_failure(cli, tmp_path):
    src = str(shared_model("mnist_opt.onnx"))
    for target in ("99", "0", "abc"):
        r = cli("surgeon", src, "--opset", target, "-o", "x.onnx")
        assert r.code == 2 and "1 to " in r.err and "Assertion" not in r.err, r
        assert len(r.err.strip().splitlines()) == 1
    # onnxruntime ran the input model but has no kernel for Relu(1): the pass failed, nothing written
    r = cli("surgeon", src, "--opset", "1", "-o", "x1.onnx", "--json")
    assert r.code == 1, r
    data = _results(r.out)
    assert data["passed"] is False and "unrunnable by onnxruntime" in data["failure"]
    assert not (tmp_path / "x1.onnx").exists()


def test_accepts_bundled_examples(cli, tmp_path):
    r = cli("surgeon", "example:tinycnn", "--fold-constants", "-o", "x.onnx", "--json")
    assert r.code == 0, r
    data = _results(r.out)
    assert data["model"] == "example:tinycnn" and data["passes"][0]["verified"] is True
    assert onnx.load(tmp_path / "x.onnx").graph.node
    r = cli("surgeon", "example:tinycnn", "--fold-constants", "--in-place")
    assert r.code == 2 and "bundled example" in r.err, r


def test_typos_in_keep_fp32_warn_and_in_dump_after_are_errors(cli, tmp_path):
    src = str(shared_model("mnist_opt.onnx"))
    r = cli("surgeon", src, "--to-fp16", "--keep-fp32", "NoSuch", "Relu", "-o", "h.onnx", "--json")
    assert r.code == 0, r
    warnings = _results(r.out)["warnings"]
    assert any("--keep-fp32 NoSuch:" in w and "matches no node" in w for w in warnings), warnings
    unmatched = [m for w in warnings for m in re.findall(r"--keep-fp32 ([^:]*):", w)]
    assert unmatched == ["NoSuch"], warnings  # Relu matched; the warning may list it among the op types that do
    r = cli("build", src, "--precision", "fp16", "--keep-fp32", "NoSuchThing", "-o", "m.engine")
    assert r.code in (0, 3), r  # 3: no TensorRT module here
    if r.code == 0:
        assert "--keep-fp32 NoSuchThing" in r.err + r.out
    r = cli("surgeon", src, "--fold-constants", "--dump-after", "nosuch", "-o", "d.onnx")
    assert r.code == 2 and "--dump-after nosuch" in r.err and "fold-constants" in r.err, r
    assert not (tmp_path / "d.onnx").exists()


def test_ir3_model_outputs_pass_the_checker(cli, tmp_path):
    # mnist_opt is IR 3 (initializers must be graph inputs): extract and to-fp16 left initializers outside
    src = str(shared_model("mnist_opt.onnx"))
    r = cli("surgeon", src, "--extract-inputs", "Pooling66_Output_0", "--extract-outputs", "ReLU114_Output_0",
            "-o", "ex.onnx")
    assert r.code == 0, r
    r = cli("surgeon", src, "--to-fp16", "-o", "h.onnx")
    assert r.code == 0, r
    for name in ("ex.onnx", "h.onnx"):
        model = onnx.load(tmp_path / name)
        assert model.ir_version >= 4
        onnx.checker.check_model(model, full_check=True)


def test_output_path_checked_before_any_work(cli, tmp_path):
    import os

    src = str(shared_model("mnist_opt.onnx"))
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = [("adir", "is a folder"), ("afile/x.onnx", "is a file, not a folder")]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append(("locked/x.onnx", "cannot write in"))
    for out, message in cases:
        r = cli("surgeon", src, "--fold-constants", "-o", out)
        assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1, r
    assert not (tmp_path / "trtlab-runs").exists()  # refused before a run directory was made


def test_out_names_the_run_directory_as_for_every_command(cli, tmp_path):
    src = shared_model("mnist_opt.onnx")
    r = cli("surgeon", str(src), "--cleanup", "-o", "o.onnx", "--out", "s", "-q")
    assert r.code == 0, r
    assert json.loads((tmp_path / "s" / "results.json").read_text())["command"] == "surgeon"
    here = cli("surgeon", str(src), "--cleanup", "-o", "o2.onnx", "--out", str(src.parent))
    assert here.code == 2 and "--out" in here.err, here
