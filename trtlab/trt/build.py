"""Build a serialized TensorRT engine from an ONNX model.

Precision is a graph edit (``trtlab.passes.to_half``): TensorRT 11 and TensorRT for RTX are strongly typed and have
no FP16/BF16/INT8 builder flags. Where the installed module still has such a flag (TensorRT 10) it is set as well.
Every option the module lacks is refused with the module named, never silently dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from trtlab.errors import TrtlabError, UnavailableError
from trtlab.model import LoadedModel
from trtlab.trt.module import TrtModule
from trtlab.trt.profiles import Profile

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
HW_COMPAT = {"none": "NONE", "ampere_plus": "AMPERE_PLUS", "same_cc": "SAME_COMPUTE_CAPABILITY"}
POOLS = {"workspace": "WORKSPACE", "tactic_shared_memory": "TACTIC_SHARED_MEMORY", "tactic_dram": "TACTIC_DRAM"}
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


@dataclass
class BuildOptions:
    precision: str = "fp32"
    keep_fp32: list[str] = field(default_factory=list)
    tf32: bool | None = None
    profiles: list[Profile] = field(default_factory=list)
    pool_limits: dict[str, int] = field(default_factory=dict)  # POOLS key -> bytes
    opt_level: int | None = None
    timing_cache: str | None = None
    version_compatible: bool = False
    hardware_compatibility: str | None = None
    compute_capabilities: list[str] = field(default_factory=list)
    strongly_typed: bool = False
    mark: list[str] = field(default_factory=list)  # extra tensors to mark as outputs (layer-wise comparison)
    mark_all: bool = False
    debug_unfused: bool = False  # tensors that survive fusion become debug tensors (read by an IDebugListener)

    def to_json(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["profiles"] = [p.to_json() for p in self.profiles]
        d["mark"] = len(self.mark)
        return d


@dataclass
class Built:
    """A serialized engine and what was learnt while building it."""

    engine: bytes
    inputs: list[dict]
    outputs: list[dict]
    network_layers: list[dict]
    marked: list[str]
    parse_s: float
    build_s: float
    convert_s: float
    notes: list[str]
    warnings: list[str]
    half_fraction: float | None = None  # float compute nodes converted by --precision fp16/bf16
    debug: dict = field(default_factory=dict)  # debug tensors asked for (layers.mark_debug_unfused)


class BuildFailure(TrtlabError):
    """The parser refused the model (``stage`` "parse": ``nodes``/``errors`` as in ``trtlab check``) or the
    builder returned no engine (``stage`` "build": ``messages`` are its errors). Exit code 1."""

    def __init__(self, subject, problem: str, hint: str, *, stage: str, nodes=(), errors=(), messages=(),
                 notes=()):
        super().__init__(subject, problem, hint, code=1)
        self.stage, self.nodes, self.errors = stage, list(nodes), list(errors)
        self.messages, self.notes = list(messages), list(notes)


def parse_size(text: str) -> int:
    t = text.strip().upper().rstrip("B").replace("I", "")
    unit = t[-1] if t and t[-1] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)] if unit else t)
    except ValueError:
        raise TrtlabError(f"size '{text}'", "not a size", "write bytes or a size with a unit: 512M, 2G") from None
    return int(value * _UNITS[unit])


def convert_precision(model: LoadedModel, opts: BuildOptions,
                      trt: TrtModule) -> tuple[LoadedModel, list[str], list[str], float | None]:
    """FP16/BF16 as graph edits through the surgeon's to-half pass; INT8 refused. Returns the model, notes, the
    pass's warnings (e.g. a --keep-fp32 entry that matches nothing, a model mostly left in FP32) and the converted
    fraction of the float compute nodes (None for fp32)."""
    if opts.precision == "int8":
        raise UnavailableError(
            "--precision int8", f"implicit INT8 (calibration) is not supported by trtlab with {trt.name} {trt.version}"
            + ("" if trt.features.get("int8_calibration") else " (this module has no INT8 calibrator API)"),
            "quantize explicitly (QuantizeLinear/DequantizeLinear nodes, e.g. from NVIDIA ModelOpt) and build the "
            "quantized model with --precision fp32 or fp16")
    if opts.precision == "fp32":
        if opts.keep_fp32:
            raise TrtlabError("--keep-fp32", "only means something with --precision fp16 or bf16",
                              "add --precision fp16")
        return model, [], [], None
    try:
        from trtlab.passes.to_half import convert_with_report
    except ImportError as exc:
        raise TrtlabError(f"--precision {opts.precision}", f"the to-half graph pass is not available ({exc})",
                          "install a trtlab that includes trtlab.passes.to_half (the surgeon passes), or build fp32",
                          code=3) from None
    from onnx import ModelProto

    work = ModelProto()
    work.CopyFrom(model.proto)
    work, fold_notes = fold_first(work, opts.keep_fp32)
    converted, warnings = _run_pass(convert_with_report, work, opts)
    proto, pass_notes, frac, low = converted
    kept = f", kept in FP32: {', '.join(opts.keep_fp32)}" if opts.keep_fp32 else ""
    notes = fold_notes + [f"precision {opts.precision}: weights and activations converted by graph edits (to-half "
                          f"pass), graph inputs/outputs kept in their original types{kept}"] + pass_notes[:1]
    return (LoadedModel(proto=proto, path=model.path, warnings=list(model.warnings), label=model.label), notes,
            list(dict.fromkeys(warnings + low)), frac)


def fold_first(work, keep=()) -> tuple[object, list[str]]:
    """Fold constants and fuse Conv+BatchNormalization/scale in FP32 before a half-precision conversion, as
    TensorRT does before it picks precisions: converted first, a BatchNormalization variance above 65504 would be
    clipped and the engine computes something else. A model with nothing to fold, or one the fold pass fails on,
    is converted as it is (the pass then names any weight it clips)."""
    from trtlab.passes.fold_constants import run as fold_constants
    from trtlab.passes.to_half import foldable

    if not foldable(work):
        return work, []
    before = len(work.graph.node)
    trial = type(work)()
    trial.CopyFrom(work)  # the pass edits in place: a failure half-way must leave ``work`` whole
    try:
        folded = fold_constants(trial, fuse=True, keep=list(keep)).model
    except Exception as exc:  # noqa: BLE001 (folding is a fidelity step; the conversion still runs without it)
        return work, [f"fold before conversion skipped ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"]
    return folded, [f"constants folded and Conv+BatchNormalization fused in FP32 before the conversion, as "
                    f"TensorRT does ({before} -> {len(folded.graph.node)} nodes)"]


def _run_pass(convert_to_half, work, opts: BuildOptions):
    """Run the to-half pass, keeping what it warns about (Python warnings or a result's ``warnings``); a
    ValueError from it (a --keep-fp32 entry it refuses) is a usage error."""
    import warnings as pywarnings

    from trtlab.passes.to_half import keep_names_text

    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        try:
            converted = convert_to_half(work, opts.precision, keep_fp32=list(opts.keep_fp32), keep_io_types=True)
        except ValueError as exc:
            flags = f"--precision {opts.precision}" + (f" --keep-fp32 {' '.join(opts.keep_fp32)}" if opts.keep_fp32
                                                       else "")
            raise TrtlabError(flags, str(exc).rstrip("."), "check the names: " + keep_names_text(
                work, list(opts.keep_fp32))) from None
    found = [str(w.message) for w in caught] + [str(w) for w in getattr(converted, "warnings", None) or []]
    return converted, list(dict.fromkeys(found))


def _keep_fp32_warnings(model: LoadedModel, opts: BuildOptions) -> list[str]:
    """A warning naming the --keep-fp32 entries that match no node name or op type (typos keep nothing)."""
    if opts.precision not in ("fp16", "bf16") or not opts.keep_fp32:
        return []
    from trtlab.passes.to_half import keep_warning, unmatched_keep

    unmatched = unmatched_keep(model.proto, opts.keep_fp32)
    return [keep_warning(unmatched, model.proto)] if unmatched else []


def _flag(trt: TrtModule, name: str, option: str):
    flag = getattr(trt.mod.BuilderFlag, name, None)
    if flag is None:
        raise UnavailableError(option, f"{trt.name} {trt.version} has no BuilderFlag.{name}",
                               "drop the option, or use a TensorRT module that has it (--trt-module)")
    return flag


def configure(trt: TrtModule, builder, network, opts: BuildOptions, monitor=None):
    """A builder config for ``opts``; every unsupported option raises UnavailableError naming the module."""
    from trtlab.trt.profiles import apply

    mod, config = trt.mod, builder.create_builder_config()
    if opts.precision in ("fp16", "bf16") and trt.features.get(f"{opts.precision}_flag") and not opts.strongly_typed:
        config.set_flag(_flag(trt, opts.precision.upper(), "--precision"))
    if opts.tf32 is not None:
        flag = _flag(trt, "TF32", "--tf32/--no-tf32")
        config.set_flag(flag) if opts.tf32 else config.clear_flag(flag)
    for pool, size in opts.pool_limits.items():
        config.set_memory_pool_limit(getattr(mod.MemoryPoolType, POOLS[pool]), size)
    if opts.opt_level is not None:
        if not trt.features.get("builder_optimization_level"):
            raise UnavailableError("--opt-level", f"{trt.name} {trt.version} has no builder optimisation level")
        config.builder_optimization_level = opts.opt_level
    if opts.version_compatible:
        config.set_flag(_flag(trt, "VERSION_COMPATIBLE", "--version-compatible"))
    if opts.hardware_compatibility:
        if not trt.features.get("hardware_compatibility") or trt.name == "tensorrt_rtx":
            raise UnavailableError("--hardware-compatibility", f"{trt.name} {trt.version} does not support hardware "
                                   "compatibility levels", "TensorRT for RTX targets GPUs with --compute-capability")
        config.hardware_compatibility_level = getattr(mod.HardwareCompatibilityLevel,
                                                      HW_COMPAT[opts.hardware_compatibility])
    if opts.compute_capabilities:
        if not trt.features.get("compute_capability_targets"):
            raise UnavailableError("--compute-capability",
                                   f"{trt.name} {trt.version} builds for the GPU it runs on only")
        config.num_compute_capabilities = len(opts.compute_capabilities)
        for i, cc in enumerate(opts.compute_capabilities):
            value = getattr(mod.ComputeCapability, cc.upper(), None)
            if value is None:
                known = [n for n in dir(mod.ComputeCapability) if n.startswith("SM") or n == "CURRENT"]
                raise TrtlabError(f"--compute-capability {cc}", f"unknown to {trt.name}", f"one of {', '.join(known)}")
            config.set_compute_capability(value, i)
    if hasattr(mod, "ProfilingVerbosity"):
        config.profiling_verbosity = mod.ProfilingVerbosity.DETAILED  # layer info for the engine inspector
    if monitor is not None:
        config.progress_monitor = monitor
    apply(opts.profiles, builder, config, network)
    return config


def load_timing_cache(trt: TrtModule, config, path: str | None):
    if not path:
        return None
    if not trt.features.get("timing_cache"):
        raise UnavailableError("--timing-cache", f"{trt.name} {trt.version} has no working timing cache (in TensorRT "
                               "for RTX timing-cache operations are no-ops)", "drop --timing-cache with this module")
    data = Path(path).read_bytes() if Path(path).exists() else b""
    cache = config.create_timing_cache(data)
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        raise TrtlabError(path, "timing cache could not be loaded (written by another TensorRT version or device?)",
                          "delete the file or pass another --timing-cache path; it is rewritten after the build")
    return cache


def save_timing_cache(config, path: str | None) -> None:
    if not path:
        return
    from trtlab.rundir import atomic_write_bytes

    cache = config.get_timing_cache()
    if cache is not None:
        atomic_write_bytes(path, bytes(cache.serialize()))


def _io(network) -> tuple[list[dict], list[dict]]:
    def desc(t):
        return {"name": t.name, "dtype": str(t.dtype).rsplit(".", 1)[-1], "shape": list(t.shape)}

    return ([desc(network.get_input(i)) for i in range(network.num_inputs)],
            [desc(network.get_output(i)) for i in range(network.num_outputs)])


def build_engine(trt: TrtModule, model: LoadedModel, opts: BuildOptions, bar=None) -> Built:
    """Parse, configure, build, in a forked child (``contain.run``) so that a native crash in the parser or the
    builder raises ``TrtCrash`` naming the stage. Raises TrtlabError with the parser's or builder's own words on
    failure. ``bar``: a rich progress bar for the builder's phases."""
    from trtlab.trt.contain import run
    from trtlab.trt.progress import monitor_factory

    return run(model.path or model.name, "parsing",
               lambda relay: _build(trt, model, opts, monitor_factory(relay) if relay is not None else None), bar)


def _build(trt: TrtModule, model: LoadedModel, opts: BuildOptions, progress_cb=None) -> Built:
    from trtlab.trt.check import parse_network, parser_errors
    from trtlab.trt.layers import mark_debug_unfused, mark_outputs, network_layers
    from trtlab.trt.profiles import validate

    t0 = time.perf_counter()
    keep_warnings = _keep_fp32_warnings(model, opts)
    model, notes, pass_warnings, half_fraction = convert_precision(model, opts, trt)
    convert_s = time.perf_counter() - t0
    flags = 0
    if opts.strongly_typed:
        flags |= 1 << int(_flag_net(trt))
    builder, network, parser, logger, ok, parse_s = parse_network(trt, model, flags)
    if not ok:
        from trtlab.trt.check import explain

        errs = parser_errors(parser)
        messages = logger.errors()
        first = errs[0] if errs else {"node_name": "?", "op": "?", "message": "; ".join(messages)}
        nodes, _parts, model_errors, check_notes = explain(trt, model, builder, parser, logger, ok)
        raise BuildFailure(model.path or model.name, f"TensorRT's ONNX parser refused the model: node "
                           f"'{first['node_name']}' ({first['op']}): {first['message']}"
                           + (f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""),
                           f"run `trtlab check {model.path or 'MODEL'}` for every failing node and what to do",
                           stage="parse", nodes=[n for n in nodes if not n.supported], errors=model_errors,
                           messages=messages, notes=check_notes)
    warnings = list(dict.fromkeys(keep_warnings + pass_warnings)) + validate(opts.profiles, network)
    marked = mark_outputs(network, opts.mark, opts.mark_all)
    debug = mark_debug_unfused(trt, network, model.proto) if opts.debug_unfused else {}
    inputs, outputs = _io(network)
    layers = network_layers(network)
    monitor = progress_cb(trt) if progress_cb else None
    config = configure(trt, builder, network, opts, monitor)
    load_timing_cache(trt, config, opts.timing_cache)
    del logger.messages[:]
    start = time.perf_counter()
    from trtlab.trt.contain import held_signals, stage

    stage("building")
    with held_signals():  # Ctrl-C inside the build: cancel it and exit 130, never a swallowed interrupt
        engine = builder.build_serialized_network(network, config)
    build_s = time.perf_counter() - start
    if engine is None:
        why = " | ".join(logger.errors()) or "the builder returned no engine and logged no error"
        hint = _build_hint(why, model)
        raise BuildFailure(model.path or model.name, f"engine build failed: {why}", hint, stage="build",
                           messages=logger.errors(), notes=[f"{trt.name} printed: {x}" for x in logger.native()])
    save_timing_cache(config, opts.timing_cache)
    warnings += [w for w in logger.warnings() if "Thread context" not in w]
    return Built(bytes(engine), inputs, outputs, layers, marked, parse_s, build_s, convert_s, notes, warnings,
                 half_fraction, debug)


def _build_hint(why: str, model: LoadedModel) -> str:
    """What to do about a builder failure: memory, an internal error (a TensorRT bug: find the smallest model that
    shows it), or the layer it names."""
    path = model.path or "MODEL"
    if "OutOfMemory" in why:
        return "raise the memory pool limit (--workspace 2G) or lower the profiles' max shapes"
    low = why.lower()
    if "internal error" in low or "assertion" in low or "error code 2" in low:
        return (f"an internal builder error (a TensorRT bug, not the model's): find the smallest model that shows it "
                f"with `trtlab debug reduce {path} --fails build -o min.onnx` and report it, or isolate that part")
    return ("the builder's message names the layer; `trtlab check` the model, fold constants (`trtlab surgeon "
            "MODEL --fold-constants -o folded.onnx`) or fix the shapes it names")


def _flag_net(trt: TrtModule):
    flag = getattr(trt.mod.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if flag is None:
        raise UnavailableError("--strongly-typed", f"{trt.name} {trt.version} has no strongly typed networks")
    return flag
