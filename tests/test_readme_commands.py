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


def static_tinycnn():
    """tinycnn with batch 1: `trtlab build` without --profile needs static shapes."""
    model = tinycnn()
    for value in [*model.graph.input, *model.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.dim_value:
            dim.dim_value = 1
    return model


def sr_like():
    """The interface of super_resolution.onnx (input 'input' [N,1,224,224], dynamic batch) on two small convs, so
    shape sweeps up to 16x1x224x224 take a second, not a minute."""
    rng = np.random.default_rng(0)
    w1 = nh.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.3, "w1")
    w2 = nh.from_array(rng.standard_normal((1, 4, 3, 3)).astype(np.float32) * 0.3, "w2")
    nodes = [h.make_node("Conv", ["input", "w1"], ["c"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["c"], ["r"]),
             h.make_node("Conv", ["r", "w2"], ["output"], pads=[1, 1, 1, 1])]
    return _model(nodes, [_vi("input", ["batch_size", 1, 224, 224])], [_vi("output", ["batch_size", 1, 224, 224])],
                  [w1, w2])


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


def fp16_overflow(scale=1e5):
    """x * 1e5 overflows FP16 storage: `--fails compare --target onnxrt:fp16` reduces to the Mul."""
    big = nh.from_array(np.array(scale, np.float32), "big")
    nodes = [h.make_node("Relu", ["x"], ["r"]), h.make_node("Mul", ["r", "big"], ["m"], name="overflow"),
             h.make_node("Neg", ["x"], ["n"]), h.make_node("Add", ["m", "n"], ["y"])]
    return _model(nodes, [_vi("x", [4])], [_vi("y", [4])], [big])


def fp16_inf():
    """(x * 1000)^2 in half precision: Inf wherever |x| > 0.26 (the reference stays finite), a LayerNorm-like
    `Mul(d, d)` overflow for `--fails nonfinite`; the weight itself fits FP16."""
    k = nh.from_array(np.array(1000.0, np.float32), "k")
    nodes = [h.make_node("Relu", ["x"], ["r"]), h.make_node("Mul", ["r", "k"], ["d"]),
             h.make_node("Mul", ["d", "d"], ["sq"], name="square"), h.make_node("Sqrt", ["sq"], ["y"])]
    return _model(nodes, [_vi("x", [16])], [_vi("y", [16])], [k])


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


def parser_crashes():
    """A Loop whose body reads an outer-scope tensor: TensorRT-RTX's parser segfaults on it (tests/adversarial)."""
    from tests.adversarial.models import STRUCTURAL

    return STRUCTURAL["loop_outer_read"][0]()


def quantized_tinycnn():
    """tinycnn through onnxruntime.quantization.quantize_static (QDQ format), calibrated on 4 random samples."""
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.feeds = iter([{"input": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "f.onnx", Path(tmp) / "q.onnx"
        onnx.save(tinycnn(), src)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ)
        return onnx.load(dst)


LOADER_PY = """import numpy as np


def load():
    rng = np.random.default_rng(0)
    for n in (1, 2, 2, 2, 4):
        yield {"input": rng.standard_normal((n, 3, 32, 32)).astype(np.float32)}
"""

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
    says: str | None = None  # a text the output (stdout + stderr) must hold
    cwd: str = "."  # folder (under the test's tmp folder) the commands run in


M = "model.onnx"
SR = "sr.onnx"
NO_CUDA = "CUDA execution provider is not available"  # `--backend onnxrt:cuda` without onnxruntime-gpu: exit 3
SWEEP = ("trtlab sweep ../shared/models/mnist_opt.onnx example:tinycnn --task 'compare --target {target}' --task check "
         "--axis target=onnxrt:fp16,onnxrt:bf16 --out sweep-fp16")
MNIST = "../shared/models/mnist_opt.onnx"
SETUP = "a setup line: CI installs the package the same way (.ci/run); it needs the registry"
PYTEST = "pytest inside pytest: the adversarial suite runs in this same test session (tests/adversarial)"
COVERED = "the test suite itself / tests/test_lint.py run this; CI runs it (.ci/run)"
CASES: dict[str, Case] = {
    # Quick start: setup and tests are CI's own steps (tests/test_readme.py checks .ci/run matches them)
    "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install -e '.[cpu,dev,rtx]'": Case(skip=SETUP),
    "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install -e '.[gpu,dev,rtx]'": Case(
        skip=SETUP + " and a GPU"),
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
    "trtlab compare bert.onnx --target onnxrt:fp16 --layerwise --max-memory 512M --input-shapes input_ids:1x128":
        Case(files={"bert.onnx": bert_embedding}, says="512"),
    # task metrics
    "trtlab compare example:tinydetector --target onnxrt:fp16 --task detection": Case(says="detection"),
    "trtlab compare example:tinydetector --target onnxrt:fp16 --task detection --detection "
    "boxes=boxes,scores=scores,labels=labels,match=hungarian --iou 0.7": Case(says="detection"),
    "trtlab compare example:tinycnn --target onnxrt:fp16 --task classification --samples 8 --input-shapes "
    "input:4x3x32x32": Case(says="classification"),
    # build, inspect, diff (tensorrt_rtx's parser and builder run on the CPU)
    "trtlab build model.onnx -o a.engine '&&' trtlab build model.onnx --precision fp16 -o b.engine": Case(
        files={M: static_tinycnn}, creates=["a.engine", "b.engine"]),
    "trtlab inspect a.engine": Case(files={M: static_tinycnn}, before=["trtlab build model.onnx -o a.engine"],
                                    says="engine"),
    "trtlab diff a.engine b.engine": Case(
        files={M: static_tinycnn}, code=1,  # exit 1: different (fp32 vs fp16)
        before=["trtlab build model.onnx -o a.engine", "trtlab build model.onnx --precision fp16 -o b.engine"]),
    # run --backend onnxrt
    "trtlab run model.onnx --backend onnxrt --profile-nodes --top 10 --timing-json t.json": Case(
        files={M: tinycnn}, creates=["t.json"], says="Conv"),
    "trtlab run model.onnx --backend onnxrt:cuda,tf32=0 --iterations 100 --duration 5": Case(
        files={M: tinycnn}, code=3, says=NO_CUDA),
    "trtlab run sr.onnx --backend onnxrt:cuda --sweep-shapes input:1x1x224x224:16x1x224x224 --sweep-points 5": Case(
        files={SR: sr_like}, code=3, says=NO_CUDA),
    "trtlab run sr.onnx --backend onnxrt --profile input:1x1x224x224:4x1x224x224:8x1x224x224": Case(
        files={SR: sr_like}, says="8x1x224x224", slow=True),
    "trtlab run model.onnx --backend onnxrt --data-loader-script loader.py:load --suggest-profile": Case(
        files={M: dynamic_cnn, "loader.py": LOADER_PY}, says="--profile"),
    "trtlab compare sr.onnx --target onnxrt:fp16 --sweep-shapes input:1x1x224x224:16x1x224x224": Case(
        files={SR: sr_like}, says="16x1x224x224"),
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
    "trtlab debug reduce model.onnx -o min.onnx --fails crash": Case(
        files={M: parser_crashes}, creates=["min.onnx"], says="TensorRT crashed"),
    "trtlab debug reduce model.onnx -o min.onnx --fails nonfinite --target onnxrt:fp16": Case(
        files={M: fp16_inf}, creates=["min.onnx"]),
    "trtlab debug reduce model.onnx -o min.onnx --fails compare --metric cosine:0.99 --target onnxrt:fp16": Case(
        files={M: fp16_inf}, creates=["min.onnx"], says="--min-cosine 0.99"),
    "trtlab debug reduce model.onnx -o min.onnx --check 'trtexec --onnx={model}' --fail-regex 'Plugin not found'":
        Case(files={M: parser_refuses}, creates=["min.onnx"], slow=True),
    "trtlab debug reduce model.onnx -o min.onnx --fails check --replay trtlab-runs/reduce-.../reduce.jsonl": Case(
        files={M: parser_refuses}, creates=["min.onnx"], slow=True,
        before=["trtlab debug reduce model.onnx -o first.onnx --fails check --out trtlab-runs/reduce-..."]),
    # debug precision, two models
    "trtlab debug precision model.onnx -o mixed.onnx --samples 6": Case(files={M: fp16_overflow},
                                                                        creates=["mixed.onnx"], says="overflow"),
    "trtlab debug precision model.onnx -o mixed.onnx --samples 6 --min-snr 50": Case(
        files={M: fp16_overflow}, creates=["mixed.onnx"], says="overflow"),
    "trtlab debug precision model.onnx --risk-only --samples 3": Case(files={M: fp16_overflow}, says="overflow"),
    "trtlab compare model.onnx --target onnxrt:fp16 --fp16-risk": Case(files={M: fp16_overflow}, code=1,
                                                                       says="overflow"),
    "trtlab compare model.onnx --target-model mixed.onnx --layerwise --atol 1e-3 --rtol 1e-2": Case(
        files={M: fp16_overflow}, before=["trtlab debug precision model.onnx -o mixed.onnx --samples 6"]),
    "trtlab compare model.onnx --target-model qdq.onnx --layerwise --atol 0.1 --rtol 0.1": Case(
        files={M: tinycnn, "qdq.onnx": quantized_tinycnn}, says="SQNR"),
    # sweep (run from a folder beside ../shared/models, as in the checkout)
    SWEEP: Case(files={MNIST: shared("mnist_opt.onnx")}, cwd="work", creates=["sweep-fp16/journal.jsonl"], slow=True),
    SWEEP + " --resume": Case(files={MNIST: shared("mnist_opt.onnx")}, cwd="work", before=[SWEEP], slow=True,
                              says="(6 from the journal)"),
    "trtlab report sweep-fp16": Case(files={MNIST: shared("mnist_opt.onnx")}, cwd="work", before=[SWEEP],
                                     slow=True),
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
    "python -m pytest -q tests/adversarial -k 'fast or regressions'": Case(skip=PYTEST),
    "python -m pytest -q tests/adversarial": Case(skip=PYTEST),
    "python -m pytest -q -m slow": Case(skip=PYTEST),
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
    """Run a trtlab command line (or `A && B`, stopping at the first non-zero exit); one result, outputs joined."""
    words, results = shlex.split(command), []
    while words:
        cut = words.index("&&") if "&&" in words else len(words)
        part, words = words[:cut], words[cut + 1:]
        assert part[0] == "trtlab"
        results.append(cli(*part[1:], cwd=cwd))
        if results[-1].code != 0:
            break
    return type(results[-1])(results[-1].code, "".join(r.out for r in results), "".join(r.err for r in results))


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


def _has_cuda_provider() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def _params():
    for command, case in CASES.items():
        if not command.startswith("trtlab "):
            continue
        marks = [pytest.mark.slow] if case.slow else []
        yield pytest.param(command, case, marks=marks, id=command[7:60])


def _state_key(case: Case, steps) -> tuple:
    """What a folder holds after `steps` ran on the case's files (so another case can start from a copy)."""
    files = tuple(sorted((name, make if isinstance(make, str) else make.__qualname__)
                         for name, make in case.files.items()))
    return files, case.cwd, tuple(steps)


_NEEDED = {_state_key(c, c.before) for c in CASES.values() if c.before}
_SNAPSHOTS: dict[tuple, object] = {}  # state key -> a folder holding that state (runs of minutes, e.g. sweeps, once)


def _snapshot(key, src, tmp_path_factory):
    if key in _NEEDED and key not in _SNAPSHOTS:
        dst = tmp_path_factory.mktemp("readme-state")
        shutil.copytree(src, dst, dirs_exist_ok=True, symlinks=True)
        _SNAPSHOTS[key] = dst


@pytest.mark.parametrize("command, case", list(_params()))
def test_readme_command_runs(cli, tmp_path, tmp_path_factory, monkeypatch, command, case):
    monkeypatch.setenv("COLUMNS", "200")
    if case.says == NO_CUDA and _has_cuda_provider():
        pytest.skip("onnxruntime's CUDA provider is installed: the documented exit 3 is for a CPU-only install")
    cwd = (tmp_path / case.cwd).resolve()
    cwd.mkdir(parents=True, exist_ok=True)
    for name, make in case.files.items():
        (cwd / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(make, str):
            (cwd / name).write_text(make)
        else:
            onnx.save(make(), cwd / name)
    if "trtexec" in command:
        _with_trtexec_stand_in(tmp_path, monkeypatch)
    prepared = _SNAPSHOTS.get(_state_key(case, case.before))
    if prepared is not None:
        shutil.copytree(prepared, tmp_path, dirs_exist_ok=True, symlinks=True)
    else:
        for step in case.before:
            r = _trtlab(cli, step, cwd)
            assert r.code == 0, (step, r)
        _snapshot(_state_key(case, case.before), tmp_path, tmp_path_factory)
    r = _trtlab(cli, command, cwd)
    assert r.code == case.code, r
    if r.code == 0:
        _snapshot(_state_key(case, [*case.before, command]), tmp_path, tmp_path_factory)
    for path in case.creates:
        assert (cwd / path).exists(), f"{command} did not write {path}: {r}"
    if case.says:
        assert case.says in r.out + r.err, r
    if case.code == 3:
        assert len([x for x in r.err.splitlines() if x.strip()]) == 1, r  # one line, no traceback
