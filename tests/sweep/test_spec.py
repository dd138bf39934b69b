"""Sweep specs expand into self-contained cells: axes cross only the tasks that name them, keys are stable."""

import pytest

from tests.conftest import shared_model
from trtlab.errors import TrtlabError
from trtlab.sweep.spec import Spec, command_argv, load_spec, parse_task, resolve_models


def test_model_goes_after_the_verb_and_run_dir_flag_is_added():
    assert command_argv("compare --target {t} --layerwise", {"t": "onnxrt:fp16"}) == [
        "compare", "{model}", "--target", "onnxrt:fp16", "--layerwise", "--out", "{run_dir}"]
    assert command_argv("debug reduce --fails check", {})[:3] == ["debug", "reduce", "{model}"]
    argv = command_argv("surgeon --fold-constants", {})
    assert argv[-4:] == ["--run-dir", "{run_dir}", "-o", "{run_dir}/model.onnx"]
    assert command_argv("inspect --json", {}) == ["inspect", "{model}", "--json"]
    assert command_argv("trtlab check {model} --out {run_dir}", {}) == ["check", "{model}", "--out", "{run_dir}"]


@pytest.mark.parametrize("bad,why", [("frobnicate x", "does not start with a trtlab command"),
                                     ("compare --target {nope}", "names no axis"),
                                     ("compare --target 'x", "cannot split")])
def test_bad_commands_are_one_line_errors(bad, why):
    with pytest.raises(TrtlabError, match=why):
        command_argv(bad, {})


def test_axes_cross_only_tasks_that_name_them():
    models = resolve_models([shared_model("mnist_opt.onnx"), "example:tinycnn"], shared_model(".").parent)
    spec = Spec(models, [parse_task("compare --target {target}", "t"), parse_task("check", "t")],
                axes={"target": ["onnxrt:fp16", "onnxrt:bf16"], "shape": ["a", "b"]})
    cells = spec.cells()
    assert len(cells) == 2 * (2 + 1)
    assert len({c.key for c in cells}) == len(cells) and len({c.id for c in cells}) == len(cells)
    assert [c.key for c in cells] == [c.key for c in spec.cells()]  # stable
    check = [c for c in cells if c.task == "check"]
    assert all(c.axes == {} for c in check)


def test_gpu_type_axis_sets_the_resource_not_a_flag():
    models = resolve_models(["example:tinycnn"], shared_model(".").parent)
    task = parse_task({"command": "check", "resources": {"gpus": 1}}, "t")
    cells = Spec(models, [task], axes={"gpu_type": ["H100", "A10G"]}).cells()
    assert [c.resources.gpu_type for c in cells] == ["H100", "A10G"]
    assert all("H100" not in " ".join(c.argv) for c in cells) and cells[0].key != cells[1].key


def test_spec_file_with_globs_and_task_mappings(tmp_path):
    (tmp_path / "m").mkdir()
    for name in ("mnist_opt.onnx", "poly_const_foldable.onnx"):
        (tmp_path / "m" / name).write_bytes(shared_model(name).read_bytes())
    spec_path = tmp_path / "sweep.yaml"
    spec_path.write_text("models: [m/*.onnx, example:tinycnn]\n"
                         "tasks:\n  - check\n  - name: fp16\n    command: compare --target onnxrt:fp16\n"
                         "    env: {OMP_NUM_THREADS: '1'}\n    resources: {cpus: 2, custom: {big: 1}}\n")
    spec = load_spec(spec_path)
    assert [m.stem for m in spec.models] == ["mnist_opt", "poly_const_foldable", "tinycnn"]
    cells = spec.cells()
    assert len(cells) == 6
    fp16 = next(c for c in cells if c.task == "fp16")
    assert fp16.env == {"OMP_NUM_THREADS": "1"} and fp16.resources.custom == {"big": 1.0}


def test_a_model_with_external_data_ships_its_data_file():
    model = resolve_models([shared_model("poly_ext_weights/ext_weights.onnx")], shared_model(".").parent)[0]
    assert [p.split("/")[-1] for p in model.files] == ["ext_weights.onnx", "ext_weights.data"]


@pytest.mark.parametrize("text,why", [("models: []\ntasks: [check]\n", "needs 'models' and 'tasks'"),
                                      ("models: [nope/*.onnx]\ntasks: [check]\n", "matches no file"),
                                      ("models: [example:tinycnn]\ntasks: [{cmd: x}]\n", "mapping with 'command'"),
                                      (": : :\n", "not valid YAML")])
def test_bad_specs_are_one_line_errors(tmp_path, text, why):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(TrtlabError, match=why):
        load_spec(p)


def test_tasks_that_share_a_verb_get_names_from_their_commands():
    from trtlab.sweep.spec import Spec, parse_task

    spec = Spec([], [parse_task(c, "--task") for c in ("compare --target onnxrt:fp16", "compare --target onnxrt:bf16",
                                                       "check", "check")])
    assert [t.name for t in spec.tasks] == ["compare-target-onnxrt:fp16", "compare-target-onnxrt:bf16", "check#1",
                                            "check#2"]
    named = Spec([], [parse_task({"command": "compare --target onnxrt:fp16", "name": "half"}, "spec"),
                      parse_task("compare --target onnxrt:bf16", "--task")])
    assert [t.name for t in named.tasks] == ["half", "compare"]
