"""Every command in README.md's ```bash blocks runs, as typed, in a folder holding the files it names.

README commands name placeholder files (model.onnx, bert.onnx, feeds.npz, rules.yaml, parts/, run folders); each
case below says which model stands in for them (built in code, or a shared model) and what runs first. A README
command without a case fails ``test_every_readme_command_has_a_case``, so a new README example gets a test.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.conftest import ROOT, SHARED_MODELS


def readme_commands() -> list[str]:
    """Every line of every ```bash block, comments dropped, normalised to single spaces."""
    text = (ROOT / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                cmds.append(shlex.join(words))
    return cmds


# --- stand-in models -------------------------------------------------------------------------------------------

def _model(nodes, inputs, outputs, inits=(), opset=17, domains=()) -> onnx.ModelProto:
    graph = h.make_graph(nodes, "readme", inputs, outputs, list(inits))
    opsets = [h.make_opsetid("", opset)] + [h.make_opsetid(d, 1) for d in domains]
    return h.make_model(graph, opset_imports=opsets)


def _vi(name, shape, dtype=T.FLOAT):
    return h.make_tensor_value_info(name, dtype, shape)


def tinycnn():
    from trtlab.examples import build_example

    return build_example("tinycnn")


def dynamic_cnn():
    """Input 'input' [N,3,H,W] (all dims dynamic but channels), so --override-input-shapes input:1x3x224x224 holds."""
    w = nh.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.2, "w")
    nodes = [h.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["r"]),
             h.make_node("GlobalAveragePool", ["r"], ["g"]), h.make_node("Flatten", ["g"], ["logits"])]
    return _model(nodes, [_vi("input", ["n", 3, "h", "w"])], [_vi("logits", None)], [w])


def bert_embedding():
    """input_ids [batch, seq] into a 30522-row table (BERT's vocabulary), so --val-range input_ids:[0,30521] fits."""
    table = nh.from_array(np.random.default_rng(0).standard_normal((30522, 8)).astype(np.float32), "table")
    nodes = [h.make_node("Gather", ["table", "input_ids"], ["emb"], axis=0),
             h.make_node("ReduceMean", ["emb"], ["pooled"], axes=[1], keepdims=0),
             h.make_node("Softmax", ["pooled"], ["probs"], axis=-1)]
    return _model(nodes, [_vi("input_ids", ["batch", "seq"], T.INT64)], [_vi("probs", None)], [table], opset=13)


def extractable():
    """Tensors a, b and c, as in `--extract-inputs a,b --extract-outputs c`."""
    nodes = [h.make_node("Relu", ["x"], ["a"]), h.make_node("Neg", ["x"], ["b"]), h.make_node("Add", ["a", "b"], ["c"]),
             h.make_node("Mul", ["c", "c"], ["y"])]
    return _model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])])


def manual_sigmoid():
    """1 / (1 + exp(-x)): what the README's rules.yaml (docs/plugins.md's manual-sigmoid rule) replaces."""
    one = nh.from_array(np.array(1.0, np.float32), "one")
    nodes = [h.make_node("MatMul", ["x", "w"], ["t"]), h.make_node("Neg", ["t"], ["n"]),
             h.make_node("Exp", ["n"], ["e"]), h.make_node("Add", ["e", "one"], ["d"]),
             h.make_node("Div", ["one", "d"], ["y"])]
    w = nh.from_array(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32), "w")
    return _model(nodes, [_vi("x", [2, 4])], [_vi("y", [2, 4])], [one, w])


def parser_refuses():
    """A custom-domain op between two Relus: TensorRT's parser refuses it (no plugin), onnx.checker accepts it."""
    nodes = [h.make_node("Relu", ["x"], ["r"]), h.make_node("Relu", ["r"], ["r2"]),
             h.make_node("FancyOp", ["r2"], ["f"], domain="custom.ops", name="fancy"),
             h.make_node("Relu", ["f"], ["y"])]
    return _model(nodes, [_vi("x", [2, 3])], [_vi("y", [2, 3])], domains=["custom.ops"])


def fp16_overflow():
    """x * 1e5 overflows FP16 storage: `--fails compare --target onnxrt:fp16` reduces to the Mul."""
    big = nh.from_array(np.array(1e5, np.float32), "big")
    nodes = [h.make_node("Relu", ["x"], ["r"]), h.make_node("Mul", ["r", "big"], ["m"], name="overflow"),
             h.make_node("Neg", ["x"], ["n"]), h.make_node("Add", ["m", "n"], ["y"])]
    return _model(nodes, [_vi("x", [4])], [_vi("y", [4])], [big])


def isolation_model():
    from tests.models.graphs import quantized_convnet

    return quantized_convnet()


def transformer():
    from tests.models.graphs import transformer_block

    return transformer_block()


def shared(name):
    def _load():
        path = SHARED_MODELS / name
        if not path.exists():
            pytest.skip(f"{path} not present (the shared model set lives next to the checkout)")
        return onnx.load(path)

    return _load


RULES_YAML = re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "plugins.md").read_text(), re.S).group(1)


# --- cases -----------------------------------------------------------------------------------------------------

@dataclass
class Case:
    files: dict = field(default_factory=dict)  # file name -> model builder
    before: list = field(default_factory=list)  # trtlab commands (as typed) run first, each must exit 0
    creates: list = field(default_factory=list)  # paths the command must leave
    code: int = 0
    slow: bool = False
    skip: str | None = None  # why it does not run here (never a trtlab command that could)


M = "model.onnx"
COVERED = "the test suite itself / tests/test_lint.py run this; CI runs it (.ci/run)"
CASES: dict[str, Case] = {
    # Quick start: setup and tests are CI's own steps (tests/test_readme.py checks .ci/run matches them)
    "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install -e '.[dev,rtx]'": Case(skip=COVERED),
    "trtlab compare example:tinycnn --target onnxrt:fp16 --layerwise": Case(creates=["trtlab-runs"], slow=True),
    "python -m pytest -q": Case(skip=COVERED),
    # inspect
    "trtlab inspect model.onnx": Case(files={M: tinycnn}),
    "trtlab inspect example:tinycnn --json": Case(),
    # compare
    "trtlab compare model.onnx --target onnxrt:fp16 --layerwise": Case(files={M: tinycnn}, slow=True),
    "trtlab compare model.onnx --ref onnxrt --target reference --atol 1e-4 --atol logits:1e-3": Case(
        files={M: tinycnn}),
    "trtlab compare bert.onnx --target onnxrt:fp16 --input-shapes input_ids:1x128 --val-range 'input_ids:[0,30521]' "
    "--samples 4": Case(files={"bert.onnx": bert_embedding}),
    "trtlab compare model.onnx --target onnxrt:fp16 --load-inputs feeds.npz --save-outputs --out runs/fp16 --json":
        Case(files={M: tinycnn}, before=["trtlab compare model.onnx --target reference --save-inputs feeds.npz "
                                         "--input-shapes input:2x3x32x32 --no-report"],
             creates=["runs/fp16/target_outputs.npz"]),
    # surgeon
    "trtlab surgeon model.onnx --fold-constants -o folded.onnx": Case(files={M: tinycnn}, creates=["folded.onnx"]),
    "trtlab surgeon model.onnx --override-input-shapes input:1x3x224x224 --fold-constants --cleanup -o static.onnx":
        Case(files={M: dynamic_cnn}, creates=["static.onnx"]),
    "trtlab surgeon model.onnx -p fold-constants:size_threshold=16M -p cleanup -o out.onnx": Case(
        files={M: tinycnn}, creates=["out.onnx"]),
    "trtlab surgeon model.onnx -p fold-constants:fuse=0 -o folded.onnx": Case(files={M: tinycnn},
                                                                              creates=["folded.onnx"]),
    "trtlab surgeon model.onnx --to-fp16 --keep-fp32 Softmax LayerNorm_3 -o half.onnx": Case(
        files={M: tinycnn}, creates=["half.onnx"]),
    "trtlab surgeon model.onnx --extract-inputs a,b --extract-outputs c -o part.onnx": Case(
        files={M: extractable}, creates=["part.onnx"]),
    "trtlab surgeon --list": Case(),
    # isolation and plugins
    "trtlab surgeon model.onnx --isolate-unsupported -o parts/": Case(files={M: isolation_model},
                                                                      creates=["parts/partition.json"], slow=True),
    "trtlab run --hybrid parts/": Case(files={M: isolation_model}, slow=True,
                                       before=["trtlab surgeon model.onnx --isolate-unsupported -o parts/"]),
    "trtlab compare model.onnx --target hybrid:parts/ --layerwise": Case(
        files={M: isolation_model}, slow=True, before=["trtlab surgeon model.onnx --isolate-unsupported -o parts/"]),
    "trtlab surgeon model.onnx --substitute-plugins builtin --dry-run": Case(files={M: transformer}),
    "trtlab surgeon model.onnx --substitute-plugins rules.yaml -o model.plugins.onnx": Case(
        files={M: manual_sigmoid, "rules.yaml": RULES_YAML}, creates=["model.plugins.onnx"]),
    "trtlab compare model.onnx --target hybrid:model.plugins.onnx --layerwise": Case(
        files={M: manual_sigmoid, "rules.yaml": RULES_YAML},
        before=["trtlab surgeon model.onnx --substitute-plugins rules.yaml -o model.plugins.onnx"]),
    # debug reduce
    "trtlab debug reduce model.onnx -o min.onnx --fails check": Case(files={M: parser_refuses}, creates=["min.onnx"]),
    "trtlab debug reduce model.onnx -o min.onnx --fails build": Case(
        files={M: shared("poly_if_conditionally_invalid.onnx")}, creates=["min.onnx"], slow=True),
    "trtlab debug reduce model.onnx -o min.onnx --fails compare --ref onnxrt --target onnxrt:fp16 --atol 1e-3 "
    "--rtol 1e-3": Case(files={M: fp16_overflow}, creates=["min.onnx", "min.inputs.npz"]),
    "trtlab debug reduce model.onnx -o min.onnx --check 'trtexec --onnx={model}' --fail-regex 'Plugin not found'":
        Case(files={M: parser_refuses}, creates=["min.onnx"], slow=True),
    "trtlab debug reduce model.onnx -o min.onnx --fails check --replay trtlab-runs/reduce-.../reduce.jsonl": Case(
        files={M: parser_refuses}, creates=["min.onnx"], slow=True,
        before=["trtlab debug reduce model.onnx -o first.onnx --fails check --out trtlab-runs/reduce-..."]),
    # report
    "trtlab report trtlab-runs/compare-20260101-120000-tinycnn": Case(
        before=["trtlab compare example:tinycnn --target reference --no-report "
                "--out trtlab-runs/compare-20260101-120000-tinycnn"],
        creates=["trtlab-runs/compare-20260101-120000-tinycnn/report.html"], slow=True),
    "trtlab report runs/fp16 -o fp16-report.html": Case(
        before=["trtlab compare example:tinycnn --target onnxrt:fp16 --no-report --out runs/fp16"],
        creates=["fp16-report.html"]),
    # development
    "python -m pytest -q -m gpu": Case(skip=COVERED),
    "python bench/run.py": Case(skip="the benchmarks take minutes and need the bench extra; docs/benchmarks.md"),
    "ruff check .": Case(skip=COVERED),
}


def test_every_readme_command_has_a_case():
    commands = readme_commands()
    missing = [c for c in commands if c not in CASES]
    assert not missing, f"README commands without a test case in {__file__}: {missing}"
    stale = [c for c in CASES if c not in commands]
    assert not stale, f"cases for commands no longer in README.md: {stale}"
    runnable = [c for c in commands if c.startswith("trtlab ")]
    assert all(CASES[c].skip is None for c in runnable), "every trtlab command in README.md must run"


def _trtlab(cli, command: str, cwd):
    words = shlex.split(command)
    assert words[0] == "trtlab"
    return cli(*words[1:], cwd=cwd)


def _with_trtexec_stand_in(tmp_path, monkeypatch):
    """`--check "trtexec --onnx={model}"` with TensorRT's trtexec when installed; otherwise a script named trtexec
    that refuses custom-domain ops the way trtexec does ("Plugin not found"). The test is of debug reduce's
    --check machinery (a shell command, its exit code, --fail-regex), not of TensorRT."""
    if shutil.which("trtexec"):
        return
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "trtexec"
    script.write_text(f"#!{sys.executable}\nimport sys, onnx\npath = sys.argv[1].split('=', 1)[1]\n"
                      "bad = [n for n in onnx.load(path).graph.node if n.domain not in ('', 'ai.onnx')]\n"
                      "if bad:\n    print(f'[E] Plugin not found: {bad[0].op_type}')\n    sys.exit(1)\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")


def _params():
    for command, case in CASES.items():
        if not command.startswith("trtlab "):
            continue
        marks = [pytest.mark.slow] if case.slow else []
        yield pytest.param(command, case, marks=marks, id=command[7:60])


@pytest.mark.parametrize("command, case", list(_params()))
def test_readme_command_runs(cli, tmp_path, monkeypatch, command, case):
    monkeypatch.setenv("COLUMNS", "200")
    for name, make in case.files.items():
        if isinstance(make, str):
            (tmp_path / name).write_text(make)
        else:
            onnx.save(make(), tmp_path / name)
    if "trtexec" in command:
        _with_trtexec_stand_in(tmp_path, monkeypatch)
    for step in case.before:
        r = _trtlab(cli, step, tmp_path)
        assert r.code == 0, (step, r)
    r = _trtlab(cli, command, tmp_path)
    assert r.code == case.code, r
    for path in case.creates:
        assert (tmp_path / path).exists(), f"{command} did not write {path}: {r}"
