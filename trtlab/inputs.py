"""Input data for a model: shape overrides, value ranges, seeded random feeds, npz files, loader scripts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from trtlab.errors import TrtlabError
from trtlab.model import real_inputs
from trtlab.userfile import import_user_file

Dim = int | str | None  # int: fixed, str: symbolic name, None: unknown / -1


@dataclass
class InputSpec:
    name: str
    dtype: np.dtype | None  # None: not a tensor numpy can hold (string is np.str_)
    shape: list[Dim] | None  # None: unknown rank
    onnx_type: str

    @property
    def is_dynamic(self) -> bool:
        return self.shape is None or any(not isinstance(d, int) or d < 0 for d in self.shape)


def tensor_dtype(elem_type: int) -> np.dtype | None:
    if elem_type == TensorProto.STRING:
        return np.dtype(np.str_)
    if elem_type == TensorProto.BFLOAT16:
        return None
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None


def dims_of(type_proto: onnx.TypeProto) -> list[Dim] | None:
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def input_specs(graph: onnx.GraphProto) -> list[InputSpec]:
    specs = []
    for vi in real_inputs(graph):
        t = vi.type
        if t.HasField("tensor_type"):
            specs.append(InputSpec(vi.name, tensor_dtype(t.tensor_type.elem_type), dims_of(t),
                                   TensorProto.DataType.Name(t.tensor_type.elem_type).lower()))
        else:
            specs.append(InputSpec(vi.name, None, None, t.WhichOneof("value") or "unknown"))
    return specs


# --- command-line parsing ----------------------------------------------------------------------------------

_SHAPE_RE = re.compile(r"^(?P<name>.+?):(?P<shape>\[[0-9,\s]*\]|[0-9]+(?:x[0-9]+)*|)$")


def parse_shape_args(items: list[str] | None) -> dict[str, list[int]]:
    """``name:1x3x224x224`` or ``name:[1,3,224,224]`` (``name:[]`` or ``name:`` for a scalar)."""
    shapes: dict[str, list[int]] = {}
    for item in items or []:
        m = _SHAPE_RE.match(item.strip())
        if not m:
            raise TrtlabError(f"--input-shapes {item}", "not of the form name:1x3x224x224 or name:[1,3,224,224]",
                              "write one name:shape per input, e.g. --input-shapes input:1x3x224x224")
        text = m.group("shape").strip("[]").replace(" ", "")
        dims = [int(d) for d in re.split(r"[x,]", text) if d] if text else []
        if 0 in dims:
            raise TrtlabError(f"--input-shapes {item}", "a dimension of 0 makes an empty tensor",
                              "give every dimension at least 1")
        shapes[m.group("name")] = dims
    return shapes


def parse_range_args(items: list[str] | None) -> tuple[dict[str, tuple[float, float]], tuple[float, float] | None]:
    """``name:[lo,hi]`` per input, or ``[lo,hi]`` for every input."""
    per_input: dict[str, tuple[float, float]] = {}
    default = None
    for item in items or []:
        m = re.match(r"^(?:(?P<name>.+):)?\[\s*(?P<lo>[-+.\deE]+)\s*,\s*(?P<hi>[-+.\deE]+)\s*\]$", item.strip())
        if not m:
            raise TrtlabError(f"--val-range {item}", "not of the form name:[lo,hi] or [lo,hi]",
                              "e.g. --val-range input_ids:[0,30521]")
        try:
            lo, hi = float(m.group("lo")), float(m.group("hi"))
        except ValueError:
            raise TrtlabError(f"--val-range {item}", "the bounds are not numbers", "e.g. [0,1]") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(hi - lo)):
            raise TrtlabError(f"--val-range {item}", "the bounds and their difference must be finite (at most "
                              "about 1e308 apart)", "e.g. --val-range [-1e30,1e30]")
        if hi < lo:
            raise TrtlabError(f"--val-range {item}", "the upper bound is below the lower bound", "write [lo,hi]")
        if m.group("name"):
            per_input[m.group("name")] = (lo, hi)
        else:
            default = (lo, hi)
    return per_input, default


# --- feeds --------------------------------------------------------------------------------------------------

@dataclass
class InputPlan:
    """Everything needed to produce feeds: resolved shapes and value ranges, and the warnings on the way."""

    specs: list[InputSpec]
    shapes: dict[str, list[int]]
    ranges: dict[str, tuple[float, float]]
    warnings: list[str]


def plan_inputs(graph: onnx.GraphProto, shapes: dict[str, list[int]] | None = None,
                ranges: dict[str, tuple[float, float]] | None = None,
                default_range: tuple[float, float] | None = None) -> InputPlan:
    specs = input_specs(graph)
    by_name = {s.name: s for s in specs}
    shapes = dict(shapes or {})
    ranges = dict(ranges or {})
    for name, origin in [(n, "--input-shapes") for n in shapes] + [(n, "--val-range") for n in ranges]:
        if name not in by_name:
            raise TrtlabError(f"{origin} {name}", "the model has no input of that name",
                              f"inputs are: {', '.join(by_name) or '(none)'}")
    warnings: list[str] = []
    resolved: dict[str, list[int]] = {}
    gather_ranges = _index_ranges(graph)
    for spec in specs:
        resolved[spec.name] = _resolve_shape(spec, shapes.get(spec.name), warnings)
        if spec.name not in ranges:
            if spec.name in gather_ranges and spec.dtype is not None and spec.dtype.kind in "iu":
                ranges[spec.name] = gather_ranges[spec.name]
            elif default_range is not None:
                ranges[spec.name] = default_range
    return InputPlan(specs, resolved, ranges, warnings)


def _resolve_shape(spec: InputSpec, override: list[int] | None, warnings: list[str]) -> list[int]:
    if override is not None:
        if spec.shape is not None:
            if len(override) != len(spec.shape):
                raise TrtlabError(f"--input-shapes {spec.name}", f"rank {len(override)} does not fit the model's "
                                  f"rank-{len(spec.shape)} input {_fmt(spec.shape)}",
                                  f"give {len(spec.shape)} dims, e.g. {spec.name}:{_example(spec.shape)}")
            for want, got in zip(spec.shape, override):
                if isinstance(want, int) and want >= 0 and want != got:
                    raise TrtlabError(f"--input-shapes {spec.name}", f"shape {_fmt(override)} does not fit the model's "
                                      f"input {_fmt(spec.shape)} (fixed dims must match)",
                                      f"e.g. {spec.name}:{_example(spec.shape)}")
        return list(override)
    if spec.shape is None:
        if spec.dtype is not None:
            warnings.append(f"input '{spec.name}' has unknown rank: using a scalar; set it with --input-shapes")
        return []
    dims = []
    defaulted = []
    for d in spec.shape:
        if isinstance(d, int) and d >= 0:
            dims.append(d)
        else:
            dims.append(1)
            defaulted.append(str(d) if d is not None else "?")
    if defaulted:
        warnings.append(f"input '{spec.name}' {_fmt(spec.shape)}: dynamic dim(s) {', '.join(defaulted)} set to 1; "
                        f"use --input-shapes {spec.name}:{_example(spec.shape)} to choose")
    return dims


def _fmt(shape: list[Dim]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _example(shape: list[Dim]) -> str:
    return "x".join(str(d) if isinstance(d, int) and d >= 0 else "1" for d in shape) or "[]"


_PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity"}


def _index_ranges(graph: onnx.GraphProto) -> dict[str, tuple[float, float]]:
    """Integer inputs used as indices into a constant table (embeddings) get [0, rows-1]."""
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    out: dict[str, tuple[float, float]] = {}
    for spec_input in real_inputs(graph):
        frontier, seen = [spec_input.name], set()
        limit = None
        while frontier:
            t = frontier.pop()
            if t in seen:
                continue
            seen.add(t)
            for node in consumers.get(t, []):
                if node.op_type in _PASS_THROUGH:
                    frontier.extend(o for o in node.output if o)
                elif node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == t and node.input[0] in inits:
                    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                    dims = list(inits[node.input[0]].dims)
                    if dims:
                        rows = dims[axis % len(dims)]
                        limit = rows if limit is None else min(limit, rows)
        if limit:
            out[spec_input.name] = (0, limit - 1)
    return out


def random_feeds(plan: InputPlan, seed: int, sample: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, sample])
    feeds: dict[str, np.ndarray] = {}
    for spec in plan.specs:
        shape = plan.shapes[spec.name]
        if spec.dtype is None:
            raise TrtlabError(f"input '{spec.name}'", f"trtlab cannot generate data of type {spec.onnx_type}",
                              "provide the data with --load-inputs feeds.npz or --data-loader-script")
        lo, hi = plan.ranges.get(spec.name, (0.0, 1.0))
        kind = spec.dtype.kind
        if kind == "b":  # --val-range cond:[1,1] makes every element True
            feeds[spec.name] = rng.integers(int(lo > 0), int(hi > 0) + 1, size=shape).astype(bool)
        elif kind in "iu":
            info = np.iinfo(spec.dtype)
            ilo, ihi = int(np.ceil(lo)), int(np.floor(hi))
            if ilo < info.min or ihi > info.max or ilo > ihi:
                raise TrtlabError(f"--val-range {spec.name}:[{lo:g},{hi:g}]", f"holds no {spec.onnx_type} value "
                                  f"(the type spans [{info.min},{info.max}])",
                                  f"give a range inside it, e.g. --val-range {spec.name}:[0,100]")
            feeds[spec.name] = rng.integers(ilo, ihi, size=shape, endpoint=True, dtype=spec.dtype)
        elif kind == "f":
            finfo = np.finfo(spec.dtype)
            if max(abs(lo), abs(hi)) > finfo.max:
                raise TrtlabError(f"--val-range {spec.name}:[{lo:g},{hi:g}]", f"reaches beyond {spec.onnx_type}'s "
                                  f"largest value {float(finfo.max):g}", f"give a range inside +-{float(finfo.max):g}")
            feeds[spec.name] = rng.uniform(lo, hi, size=shape).astype(spec.dtype)
        elif kind == "U":  # fixed-width unicode: saves and loads without pickles
            feeds[spec.name] = np.full(shape, "trtlab", dtype="<U6")
        else:
            raise TrtlabError(f"input '{spec.name}'", f"trtlab cannot generate data of type {spec.onnx_type}",
                              "provide the data with --load-inputs feeds.npz")
    return feeds


def check_feeds(plan: InputPlan, feeds: dict[str, np.ndarray], origin: str) -> dict[str, np.ndarray]:
    """Validate feeds from a file or a script against the model's inputs."""
    names = [s.name for s in plan.specs]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise TrtlabError(origin, f"no data for input(s) {', '.join(missing)}",
                          f"the file/loader must provide every input: {', '.join(names)}")
    out = {}
    for spec in plan.specs:
        arr = np.asarray(feeds[spec.name])
        if spec.shape is not None:
            ok = len(arr.shape) == len(spec.shape) and all(
                not (isinstance(w, int) and w >= 0) or w == g for w, g in zip(spec.shape, arr.shape))
            if not ok:
                raise TrtlabError(origin, f"input '{spec.name}' has shape {list(arr.shape)}, the model expects "
                                  f"{_fmt(spec.shape)}", "fix the data or the model's input shape")
        if spec.dtype is not None and not _castable(arr.dtype, spec.dtype):
            raise TrtlabError(origin, f"input '{spec.name}' holds {arr.dtype.name or arr.dtype.str} data, the model "
                              f"expects {spec.onnx_type}", f"save {spec.onnx_type} data for it")
        if spec.dtype is not None and spec.dtype.kind == "U" and arr.dtype.kind != "U":
            arr = arr.astype(str)
        elif spec.dtype is not None and spec.dtype.kind != "U" and arr.dtype != spec.dtype:
            with np.errstate(all="ignore"):
                arr = arr.astype(spec.dtype)
        out[spec.name] = arr
    return out


def _castable(have: np.dtype, want: np.dtype) -> bool:
    """Numbers to numbers (complex only to complex: a cast would drop the imaginary part), text to text."""
    if want.kind == "U":
        return have.kind in "US"
    if have.kind == "c":
        return want.kind == "c"
    return have.kind in "biuf" and want.kind in "biufc"


def feeds_bytes(plan: InputPlan, samples: int = 1) -> int:
    """Bytes the generated or loaded feeds take (what a run allocates before any backend starts)."""
    import math

    total = 0
    for spec in plan.specs:
        size = spec.dtype.itemsize if spec.dtype is not None and spec.dtype.kind != "U" else 8
        total += math.prod(plan.shapes.get(spec.name, [])) * max(size, 1)
    return total * samples


def available_memory() -> int:
    """Memory this process may use: physical memory, or an address-space rlimit (``ulimit -v``) when smaller."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else 1 << 62


def require_memory(need: int, subject: str, what: str, hint: str) -> None:
    """Refuse (exit 2) a run whose estimate exceeds what this machine has, before anything is allocated."""
    have = available_memory()
    if need > have:
        raise TrtlabError(subject, f"needs ~{fmt_bytes(need)} ({what}), this machine has {fmt_bytes(have)}", hint)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def load_npz(path: str | Path, plan: InputPlan) -> list[dict[str, np.ndarray]]:
    """Feeds saved by --save-inputs: keys ``name`` (one sample) or ``<sample>/name`` (several)."""
    p = Path(path)
    if not p.exists():
        raise TrtlabError(p, "file not found", "pass a .npz written by --save-inputs or numpy.savez")
    _check_npz_sizes(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except TrtlabError:
        raise
    except Exception as exc:
        raise TrtlabError(p, f"not a readable .npz file ({type(exc).__name__})", "write it with numpy.savez") from None
    if not data:
        raise TrtlabError(p, "holds no arrays", "save one array per model input, e.g. numpy.savez(f, input=x)")
    samples: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in data.items():
        idx, _, name = key.partition("/") if "/" in key and key.split("/", 1)[0].isdigit() else ("0", "", key)
        samples.setdefault(idx, {})[name] = arr
    return [check_feeds(plan, samples[k], str(p)) for k in sorted(samples, key=int)]


def _check_npz_sizes(p: Path) -> None:
    """Each member's header (shape, dtype) against the bytes it holds, before numpy allocates the array."""
    import math
    import zipfile

    if not p.is_file():
        raise TrtlabError(p, "not a regular file", "pass a .npz file written by --save-inputs or numpy.savez")
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    fmt = np.lib.format
                    version = fmt.read_magic(f)
                    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                    shape, _order, dtype = read(f, max_header_size=100000)
                    if dtype.hasobject:
                        raise TrtlabError(p, f"array '{info.filename[:-4]}' holds Python objects (a pickle)",
                                          "save numbers or fixed-width strings (numpy.str_), not object arrays")
                    need = math.prod(shape) * dtype.itemsize
                    if need > info.file_size:
                        raise TrtlabError(p, f"array '{info.filename[:-4]}' declares shape {list(shape)} "
                                          f"({need:,} bytes) but holds {info.file_size:,}",
                                          "the file is truncated or was edited; save it again")
    except TrtlabError:
        raise
    except Exception as exc:
        raise TrtlabError(p, f"not a readable .npz file ({type(exc).__name__})", "write it with numpy.savez") from None


def save_npz(path: str | Path, samples: list[dict[str, np.ndarray]]) -> None:
    from trtlab.rundir import atomic_savez

    def plain(v):  # strings as fixed-width unicode: np.load(allow_pickle=False) reads them back
        v = np.asarray(v)
        return v.astype(str) if v.dtype == object else v

    if len(samples) == 1:
        atomic_savez(path, {k: plain(v) for k, v in samples[0].items()})
    else:
        atomic_savez(path, {f"{i}/{k}": plain(v) for i, s in enumerate(samples) for k, v in s.items()})


def loader_samples(spec: str, plan: InputPlan, limit: int = 1000,
                   timeout: float | None = None) -> list[dict[str, np.ndarray]]:
    """``file.py:function`` yielding dicts of arrays (or a list of them). ``timeout``: seconds the whole loader
    may take (import included), enforced with SIGALRM on the main thread."""
    with _deadline(timeout, f"--data-loader-script {spec}"):
        return _loader_samples(spec, plan, limit)


class _LoaderTimeout(BaseException):  # BaseException: user code catching Exception cannot swallow it
    pass


@contextmanager
def _deadline(seconds: float | None, subject: str):
    import signal
    import threading

    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum, frame):
        raise _LoaderTimeout()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _LoaderTimeout:
        raise TrtlabError(subject, f"the loader did not finish within {seconds:g} s (--loader-timeout)",
                          "make it yield faster, or raise --loader-timeout") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _loader_samples(spec: str, plan: InputPlan, limit: int) -> list[dict[str, np.ndarray]]:
    path_text, _, func_name = spec.rpartition(":")
    if not path_text:
        path_text, func_name = spec, "load_data"
    path = Path(path_text)
    if not path.is_file() or path.suffix != ".py":
        raise TrtlabError(f"--data-loader-script {spec}", "not a Python file (.py)" if path.exists() else
                          "script not found", "pass file.py:function")
    module = import_user_file(path, f"--data-loader-script {spec}", "trtlab_user_loader")
    func = getattr(module, func_name, None)
    if not callable(func):
        raise TrtlabError(f"--data-loader-script {spec}", f"the script has no function '{func_name}'",
                          "name a function that yields dicts of arrays: file.py:function")
    samples = []
    try:
        for i, item in enumerate(_as_iter(func())):
            if i >= limit:
                break
            if not isinstance(item, dict):
                raise TrtlabError(f"--data-loader-script {spec}", f"sample {i} is a {type(item).__name__}, not a dict",
                                  "yield {input_name: array}")
            samples.append(check_feeds(plan, item, f"--data-loader-script {spec} (sample {i})"))
    except (TrtlabError, KeyboardInterrupt, _LoaderTimeout):
        raise
    except BaseException as exc:  # SystemExit and GeneratorExit too: user code must not end trtlab silently
        text = " ".join(str(exc).split())[:200]
        raise TrtlabError(f"--data-loader-script {spec}", f"the loader raised {type(exc).__name__}"
                          + (f": {text}" if text else ""), "run the function by hand to see the error") from None
    if not samples:
        raise TrtlabError(f"--data-loader-script {spec}", "the loader yielded no samples", "yield at least one dict")
    return samples


def _as_iter(obj) -> Iterator:
    if isinstance(obj, dict):
        return iter([obj])
    return iter(obj)


# --- options: what the CLI's input flags (and the Python API's keywords) ask for ----------------------------

@dataclass
class InputOptions:
    """How to make a model's input samples. Fields mirror the CLI flags (``--input-shapes`` is ``input_shapes``);
    ``feeds`` holds in-memory samples given to the Python API (an array for a one-input model, a dict
    ``{input_name: array}`` for one sample, or a list of such dicts)."""

    input_shapes: list[str] | dict[str, list[int]] | None = None
    val_range: list[str] | None = None
    seed: int = 1
    samples: int = 1
    load_inputs: str | Path | None = None
    data_loader_script: str | None = None
    save_inputs: str | Path | None = None
    feeds: object = None
    loader_timeout: float | None = None  # seconds a --data-loader-script may take (None: no limit)

    def shapes(self) -> dict[str, list[int]]:
        """The shape overrides as ``{name: dims}`` (CLI strings are parsed; a dict is taken as it is)."""
        if isinstance(self.input_shapes, dict):
            return {str(k): [int(d) for d in v] for k, v in self.input_shapes.items()}
        return parse_shape_args(self.input_shapes)


def _given_samples(feeds, plan: InputPlan) -> list[dict[str, np.ndarray]]:
    """In-memory feeds (Python API) as checked samples."""
    if isinstance(feeds, np.ndarray) or np.isscalar(feeds):
        if len(plan.specs) != 1:
            raise TrtlabError("inputs", f"one array given, the model has {len(plan.specs)} inputs",
                              f"pass a dict {{name: array}} with: {', '.join(s.name for s in plan.specs)}")
        feeds = {plan.specs[0].name: feeds}
    items = [feeds] if isinstance(feeds, dict) else list(feeds)
    if not items or not all(isinstance(item, dict) for item in items):
        raise TrtlabError("inputs", "not an array, a dict {name: array} or a list of such dicts",
                          "e.g. inputs={'x': numpy.zeros((1, 3), numpy.float32)}")
    return [check_feeds(plan, item, f"inputs (sample {i})") for i, item in enumerate(items)]


def make_samples(opts: InputOptions, model) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """Feeds for every sample of ``model`` (a LoadedModel), and the warnings produced on the way."""
    ranges, default_range = parse_range_args(opts.val_range)
    plan = plan_inputs(model.proto.graph, opts.shapes(), ranges, default_range)
    if opts.samples < 1:
        raise TrtlabError("--samples", "must be at least 1", "e.g. --samples 4")
    if opts.seed < 0:
        raise TrtlabError(f"--seed {opts.seed}", "must be 0 or more", "e.g. --seed 1")
    given = [x is not None for x in (opts.feeds, opts.load_inputs, opts.data_loader_script)]
    if sum(given) > 1:
        raise TrtlabError("inputs", "more than one source of input data given",
                          "give one of: inputs, --load-inputs, --data-loader-script")
    if opts.feeds is not None:
        samples = _given_samples(opts.feeds, plan)
    elif opts.load_inputs:
        samples = load_npz(opts.load_inputs, plan)
    elif opts.data_loader_script:
        samples = loader_samples(opts.data_loader_script, plan, timeout=opts.loader_timeout)
    else:
        require_run_memory(model, feeds_bytes(plan, opts.samples), "random inputs")
        samples = [random_feeds(plan, opts.seed, i) for i in range(opts.samples)]
    if any(given):
        plan.warnings = [w for w in plan.warnings if "dynamic dim" not in w]
    if opts.save_inputs:
        save_npz(opts.save_inputs, samples)
    return samples, plan.warnings


def require_run_memory(model, feed_bytes: int, what: str) -> None:
    """Estimate what a run holds at once (inputs, both sides' outputs and intermediates of the same order, the
    weights twice: the model and a backend's copy) and refuse, exit 2, what this machine cannot hold."""
    from trtlab.model import approx_size

    need = 4 * feed_bytes + 2 * approx_size(model.proto)
    require_memory(need, "inputs", f"{what} of {feed_bytes:,} bytes, 4x for inputs, outputs and intermediates, "
                   "plus the weights twice", "use --input-shapes to choose smaller shapes for dynamic dims, or fix "
                   "the model's declared input shapes")
