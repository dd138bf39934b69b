"""Building engines (capability): the engine, its provenance, the optional Triton layout, and the build result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from trtlab.results import Result
from trtlab.trt.build import PRECISIONS, BuildOptions, build_engine
from trtlab.trt.module import TrtModule

SCHEMA = "trtlab.build/1"


@dataclass
class BuildResult(Result):
    schema: str
    command: str
    argv: list[str]
    model: dict
    module: dict
    engine: dict
    provenance: dict
    options: dict
    profiles: list[dict]
    layers: dict
    timing: dict
    passed: bool
    triton: str | None = None
    failure: dict | None = None  # passed false: {"stage": "parse"|"build", "error", "hint", "messages"}
    nodes: list = field(default_factory=list)  # parse failure: the refused nodes, as in trtlab check
    errors: list[dict] = field(default_factory=list)  # parse failure: parser errors tied to no node
    notes: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    error = None  # the BuildFailure of a failed build (not a field: it is not written to results.json)
    report = None  # where report.html went, when one was written


def build_options(*, precision: str = "fp32", keep_fp32=(), tf32=None, strongly_typed: bool = False, profile=None,
                  workspace=None, pool_limit=(), opt_level=None, timing_cache=None, version_compatible: bool = False,
                  hardware_compatibility=None, compute_capability=(), mark: str = "none") -> BuildOptions:
    """BuildOptions from the build flags (sizes like ``1G``, pools as ``POOL:SIZE``, profiles as text)."""
    from trtlab.errors import TrtlabError
    from trtlab.trt.build import POOLS, parse_size
    from trtlab.trt.profiles import parse_profiles

    if precision not in PRECISIONS:
        raise TrtlabError(f"precision {precision!r}", "unknown precision", f"choose from: {', '.join(PRECISIONS)}")
    if mark not in ("none", "all", "debug-unfused"):
        raise TrtlabError(f"mark {mark!r}", "unknown marking", "choose none, all or debug-unfused")
    pools = {"workspace": parse_size(workspace)} if workspace else {}
    for item in pool_limit or []:
        name, _, size = item.partition(":")
        if name not in POOLS or not size:
            raise TrtlabError(f"--pool-limit {item}", "not POOL:SIZE with a known pool", f"pools: {', '.join(POOLS)}")
        pools[name] = parse_size(size)
    profiles = [profile] if isinstance(profile, str) else profile
    return BuildOptions(precision=precision, keep_fp32=list(keep_fp32), tf32=tf32, profiles=parse_profiles(profiles),
                        pool_limits=pools, opt_level=opt_level, timing_cache=timing_cache,
                        version_compatible=version_compatible, hardware_compatibility=hardware_compatibility,
                        compute_capabilities=list(compute_capability), strongly_typed=strongly_typed,
                        mark_all=mark == "all", debug_unfused=mark == "debug-unfused")


def layer_info(trt: TrtModule, built) -> dict:
    """Engine-inspector layers when this machine can deserialize the engine, else the network's layers."""
    from trtlab.backends.trt import can_execute

    ok, why = can_execute(trt.name)
    if ok:
        from trtlab.trt.layers import engine_layers, summarize
        from trtlab.trt.runner import TrtRunner

        with TrtRunner(trt, built.engine) as runner:
            items = summarize(engine_layers(runner.engine, trt))
        return {"source": "engine_inspector", "count": len(items), "items": items}
    return {"source": "network", "count": len(built.network_layers), "items": built.network_layers,
            "note": f"layers of the parsed network, before fusion; the engine inspector needs an engine loaded on "
                    f"a GPU ({why})"}


def first_gpu() -> dict | None:
    from trtlab.trt.cuda import device_info

    gpus = device_info().gpus
    return gpus[0] if gpus else None


def build_to_files(trt: TrtModule, model, opts: BuildOptions, engine_path: Path, bar=None, triton_repo=None,
                   triton_name=None) -> BuildResult:
    from trtlab.model import model_summary
    from trtlab.rundir import atomic_write_bytes, atomic_write_json, check_output_path
    from trtlab.trt import provenance

    for path in (engine_path, provenance.path_for(engine_path)):  # before the build: never over the model
        check_output_path(path, inputs=(model.path,), flag="engine output")
    start = time.perf_counter()
    task = bar.add_task(f"building {model.name} with {trt.name}", total=None) if bar is not None else None
    built = build_engine(trt, model, opts, bar if bar is not None and hasattr(bar, "tasks") else None)
    if task is not None:
        bar.update(task, visible=False)
    layers = layer_info(trt, built)
    prov = provenance.make(trt, model, built, opts, engine_path, first_gpu(), layers)
    atomic_write_bytes(engine_path, built.engine)
    prov_path = atomic_write_json(provenance.path_for(engine_path), prov)
    warnings = list(model.warnings) + built.warnings
    if opts.mark_all:
        warnings.append(f"--mark all: {len(built.marked)} tensors marked as outputs; fusions disabled, this is not "
                        "the engine that would ship")
    triton_dir = None
    if triton_repo:
        from trtlab.trt.triton import write_repo

        triton_dir = write_repo(triton_repo, triton_name or model.name, engine_path, built.inputs, built.outputs,
                                prov["profiles"])
        if trt.name == "tensorrt_rtx":
            warnings.append("Triton's TensorRT backend loads engines of full TensorRT; this engine was built with "
                            "tensorrt_rtx and needs a TensorRT for RTX runtime")
    return BuildResult(
        schema=SCHEMA, command="build", argv=[], model=model_summary(model), module=trt.summary(),
        engine={"path": str(engine_path), "bytes": len(built.engine), "sha256": prov["engine"]["sha256"],
                "provenance": str(prov_path)},
        provenance=prov, options=opts.to_json(), profiles=prov["profiles"], layers=layers,
        timing={"convert_s": round(built.convert_s, 6), "parse_s": round(built.parse_s, 6),
                "build_s": round(built.build_s, 6), "total_s": round(time.perf_counter() - start, 6)},
        passed=True, triton=str(triton_dir) if triton_dir else None, notes=built.notes, warnings=warnings)


def failed_result(trt: TrtModule, model, opts: BuildOptions, exc) -> BuildResult:
    """results.json for a build that did not produce an engine (a ``BuildFailure``): no engine, no provenance."""
    from trtlab.model import model_summary

    return BuildResult(
        schema=SCHEMA, command="build", argv=[], model=model_summary(model), module=trt.summary(), engine=None,
        provenance={}, options=opts.to_json(), profiles=[p.to_json() for p in opts.profiles], layers={}, timing={},
        passed=False, failure={"stage": exc.stage, "error": exc.problem, "hint": exc.hint, "messages": exc.messages},
        nodes=exc.nodes, errors=exc.errors, warnings=list(model.warnings) + exc.notes)
