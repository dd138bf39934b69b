"""A sweep spec: which models, which trtlab commands, which axes to cross, what each task needs to run.

YAML form (every key but ``models`` and ``tasks`` optional)::

    models: [models/*.onnx, example:tinycnn]
    axes: {target: [onnxrt:fp16, onnxrt:bf16]}        # crossed with every task that names {target}
    tasks:
      - compare --target {target} --layerwise           # a command, or a mapping:
      - name: check
        command: check
        resources: {cpus: 1, gpus: 0, gpu_type: H100, custom: {my_gpu: 1}}
        env: {TRTLAB_TRT_MODULE: tensorrt_rtx}
        axes: {trt_module: [tensorrt_rtx]}              # axes of this task only
    timeout: 3600                                       # seconds per cell

A command is a trtlab command line without ``trtlab`` and without the model: the model goes after the verb (or
where ``{model}`` stands). ``{axis}`` placeholders are filled from the axes; an axis crosses only the tasks that
name it, except ``gpu_type``, which sets the resource a cell needs instead of a flag.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from trtlab.errors import TrtlabError

TWO_WORD_VERBS = {"debug"}  # `debug reduce`
RUN_DIR_FLAG = {"compare": "--out", "check": "--out", "build": "--out", "run": "--out", "debug": "--out",
                "surgeon": "--run-dir"}
VERBS = ("inspect", "compare", "surgeon", "doctor", "check", "build", "run", "debug", "report")
RESOURCE_AXES = ("gpu_type",)


@dataclass
class Resources:
    """What one cell needs: CPUs, GPUs, a GPU type (Ray ``accelerator_type``) and custom resources."""

    cpus: float = 1.0
    gpus: float = 0.0
    gpu_type: str | None = None
    custom: dict[str, float] = field(default_factory=dict)


@dataclass
class Task:
    name: str
    command: str
    resources: Resources = field(default_factory=Resources)
    env: dict[str, str] = field(default_factory=dict)
    axes: dict[str, list] = field(default_factory=dict)


@dataclass
class Model:
    arg: str  # what trtlab is given: a path or example:NAME
    sha256: str
    files: list[str] = field(default_factory=list)  # the .onnx and its external data files (shipped to Ray nodes)

    @property
    def stem(self) -> str:
        return Path(self.arg.replace("example:", "")).stem


@dataclass
class Cell:
    """One self-contained unit of work: a model, a full command, what it needs."""

    key: str
    id: str
    model: Model
    task: str
    argv: list[str]  # trtlab arguments with {model}/{run_dir} still as placeholders
    axes: dict[str, str]
    resources: Resources
    env: dict[str, str]

    def command(self, model_arg: str, run_dir: str) -> list[str]:
        return [a.replace("{model}", model_arg).replace("{run_dir}", run_dir) for a in self.argv]


@dataclass
class Spec:
    models: list[Model]
    tasks: list[Task]
    axes: dict[str, list] = field(default_factory=dict)
    timeout: float = 3600.0

    def __post_init__(self):
        self.tasks = distinct_names(self.tasks)

    def cells(self) -> list[Cell]:
        out = []
        for model in self.models:
            for task in self.tasks:
                out.extend(_task_cells(model, task, {**self.axes, **task.axes}))
        return out


def _task_cells(model: Model, task: Task, axes: dict[str, list]) -> list[Cell]:
    used = [a for a in axes if "{" + a + "}" in task.command or a in RESOURCE_AXES]
    cells = []
    for values in itertools.product(*(axes[a] for a in used)):
        chosen = dict(zip(used, (str(v) for v in values)))
        argv = command_argv(task.command, {k: v for k, v in chosen.items() if k not in RESOURCE_AXES})
        res = Resources(task.resources.cpus, task.resources.gpus, chosen.get("gpu_type", task.resources.gpu_type),
                        dict(task.resources.custom))
        ident = {"model": model.sha256, "argv": argv, "env": task.env, "gpu_type": res.gpu_type,
                 "custom": res.custom}
        key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
        label = "-".join([model.stem, task.name, *chosen.values()])
        cid = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:80] + "-" + key[:6]
        cells.append(Cell(key, cid, model, task.name, argv, chosen, res, dict(task.env)))
    return cells


def command_argv(template: str, values: dict[str, str]) -> list[str]:
    """The trtlab arguments of a task: axes filled in, the model placed, the run directory flag added."""
    try:
        argv = [tok.format_map(_Keep(values)) for tok in shlex.split(template)]
    except ValueError as exc:
        raise TrtlabError(f"task '{template}'", f"cannot split the command ({exc})", "check its quotes") from None
    if argv and argv[0] == "trtlab":
        argv = argv[1:]
    if not argv or argv[0] not in VERBS:
        raise TrtlabError(f"task '{template}'", "does not start with a trtlab command",
                          f"start it with one of: {', '.join(VERBS)}")
    n_verb = 2 if argv[0] in TWO_WORD_VERBS and len(argv) > 1 else 1
    if "{model}" not in argv:
        argv = argv[:n_verb] + ["{model}"] + argv[n_verb:]
    flag = RUN_DIR_FLAG.get(argv[0])
    if flag and flag not in argv and "{run_dir}" not in argv:
        argv += [flag, "{run_dir}"]
    if argv[0] == "surgeon" and not {"-o", "--output"} & set(argv):
        argv += ["-o", "{run_dir}/model.onnx"]
    return argv


class _Keep(dict):
    """format_map that leaves {model}/{run_dir} for later and refuses an unknown axis."""

    def __missing__(self, key):
        if key in ("model", "run_dir"):
            return "{" + key + "}"
        raise TrtlabError(f"{{{key}}}", "names no axis", "add it under axes: in the spec, or remove it")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_models(patterns: list[str], base: Path) -> list[Model]:
    """Paths, globs (relative to the spec's folder) and example:NAME, each once, in the order given."""
    models, seen = [], set()
    for pat in patterns:
        pat = str(pat)
        if pat.startswith("example:"):
            found = [pat]
        else:
            p = Path(pat).expanduser()
            p = p if p.is_absolute() else base / p
            found = sorted(glob.glob(str(p), recursive=True)) if glob.has_magic(str(p)) else [str(p)]
            if not found:
                raise TrtlabError(f"models: {pat}", "matches no file", "check the path or glob")
        for arg in found:
            if arg in seen:
                continue
            seen.add(arg)
            models.append(_model(arg))
    if not models:
        raise TrtlabError("sweep", "no models", "name models in the spec or on the command line")
    return models


def _model(arg: str) -> Model:
    if arg.startswith("example:"):
        import trtlab

        return Model(arg, hashlib.sha256(f"{arg}@{trtlab.__version__}".encode()).hexdigest())
    path = Path(arg)
    if not path.is_file():
        raise TrtlabError(arg, "is not a file", "give .onnx files, globs or example:NAME")
    return Model(str(path.resolve()), file_sha256(path), [str(path.resolve()), *_external_files(path)])


def _external_files(path: Path) -> list[str]:
    """External data files a model names (shipped with it to another node); unreadable models name none."""
    try:
        import onnx

        proto = onnx.load(str(path), load_external_data=False)
    except Exception:
        return []
    names = set()
    from trtlab.model import walk_graphs

    for g in walk_graphs(proto.graph):
        for t in g.initializer:
            for e in t.external_data:
                if e.key == "location":
                    names.add(e.value)
    return [str((path.parent / n).resolve()) for n in sorted(names) if (path.parent / n).is_file()]


def parse_task(item, where: str) -> Task:
    if isinstance(item, str):
        return Task(name=_task_name(item), command=item)
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        raise TrtlabError(where, "a task is a command string or a mapping with 'command'",
                          "e.g. - compare --target onnxrt:fp16")
    r = item.get("resources") or {}
    if not isinstance(r, dict):
        raise TrtlabError(where, "resources must be a mapping", "e.g. resources: {cpus: 1, gpus: 1}")
    try:
        res = Resources(float(r.get("cpus", 1)), float(r.get("gpus", 0)), r.get("gpu_type"),
                        {str(k): float(v) for k, v in (r.get("custom") or {}).items()})
    except (TypeError, ValueError) as exc:
        raise TrtlabError(where, f"bad resources ({exc})", "numbers for cpus, gpus and custom amounts") from None
    return Task(name=str(item.get("name") or _task_name(item["command"])), command=item["command"], resources=res,
                env={str(k): str(v) for k, v in (item.get("env") or {}).items()}, axes=_axes(item.get("axes"), where))


def _task_name(command: str) -> str:
    toks = [t for t in command.split() if not t.startswith("{")]
    return "-".join(toks[:2] if toks and toks[0] in TWO_WORD_VERBS else toks[:1]) or "task"


def distinct_names(tasks: list[Task]) -> list[Task]:
    """Tasks named after their command's verb alone ("compare") that share it get names from their whole
    command ("compare-target-onnxrt:fp16", "compare-target-onnxrt:bf16"): the matrix's columns and the cell ids
    must tell them apart. Names that still collide are numbered."""
    import dataclasses
    from collections import Counter

    counts = Counter(t.name for t in tasks)
    out = []
    for t in tasks:
        if counts[t.name] > 1 and t.name == _task_name(t.command):
            words = [w.lstrip("-") for w in t.command.split() if not w.startswith("{") and w != "trtlab"]
            t = dataclasses.replace(t, name="-".join(w for w in words if w)[:60] or t.name)
        out.append(t)
    counts, seen = Counter(t.name for t in out), Counter()
    for i, t in enumerate(out):
        if counts[t.name] > 1:
            seen[t.name] += 1
            out[i] = dataclasses.replace(t, name=f"{t.name}#{seen[t.name]}")
    return out


def _axes(raw, where: str) -> dict[str, list]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        raise TrtlabError(where, "axes must map names to non-empty lists", "e.g. axes: {target: [onnxrt:fp16]}")
    return {str(k): list(v) for k, v in raw.items()}


def load_spec(path: str | Path) -> Spec:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise TrtlabError(path, f"cannot read the spec ({exc.strerror or exc})", "check the path") from None
    except yaml.YAMLError as exc:
        raise TrtlabError(path, f"not valid YAML ({' '.join(str(exc).split())[:200]})", "fix the spec") from None
    if not isinstance(raw, dict) or not raw.get("models") or not raw.get("tasks"):
        raise TrtlabError(path, "a sweep spec needs 'models' and 'tasks' lists", "see README: trtlab sweep")
    models = raw["models"] if isinstance(raw["models"], list) else [raw["models"]]
    tasks = [parse_task(t, f"{path}: tasks[{i}]") for i, t in enumerate(raw["tasks"])]
    return Spec(resolve_models(models, path.parent), tasks, _axes(raw.get("axes"), f"{path}: axes"),
                float(raw.get("timeout", 3600)))
