"""The Python API: trtlab's verbs as functions, each returning a typed result.

``import trtlab`` stays light; ``trtlab.compare`` and the other verbs import this module on first use. Keyword
arguments mirror the CLI flags (``--input-shapes`` is ``input_shapes=``). A model is a path, ``"example:NAME"``
or an ``onnx.ModelProto`` (never modified). Inputs are random by default; ``inputs=`` takes an array (one-input
models), a dict ``{name: array}`` (one sample) or a list of dicts. Every result is a dataclass with ``.passed``,
its metrics, ``.to_json()``, ``Class.from_json(path_or_dict)`` and ``.run_dir`` (where results.json went:
``out=`` or a new folder under ./trtlab-runs/, as on the command line).

Example::

    import trtlab

    res = trtlab.compare("model.onnx", ref="onnxrt", target="onnxrt:fp16", layerwise=True)
    print(res.passed, res.first_divergence)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import onnx

from trtlab.building import BuildResult
from trtlab.comparison.run import CompareResult
from trtlab.errors import TrtlabError
from trtlab.inputs import InputOptions
from trtlab.inspection import InspectResult
from trtlab.model import LoadedModel
from trtlab.reducer.search import ReduceResult
from trtlab.surgery.pipeline import SurgeonResult
from trtlab.trt.check import CheckResult

__all__ = ["inspect", "compare", "surgeon", "check", "build", "reduce", "InputOptions", "CompareResult",
           "SurgeonResult", "CheckResult", "BuildResult", "ReduceResult", "InspectResult"]

SHARES_WEIGHTS = {"onnxrt", "reference"}  # backends that accept weights held apart by trtlab.weights


def load(model, run_dir: Path | None = None) -> LoadedModel:
    """A LoadedModel from a path, ``"example:NAME"`` (saved into ``run_dir`` when given) or an onnx.ModelProto
    (copied: the caller's proto is never modified)."""
    from trtlab.model import load_model, save_model

    if isinstance(model, LoadedModel):  # the caller may have changed its proto since: not its file's content
        import dataclasses

        return dataclasses.replace(model, file_signature=None)
    if isinstance(model, onnx.ModelProto):
        proto = onnx.ModelProto()
        proto.CopyFrom(model)
        return LoadedModel(proto=proto, path=None, label=model.graph.name or "model")
    text = os.fspath(model)
    if text.startswith("example:"):
        from trtlab.examples import build_example

        proto = build_example(text.split(":", 1)[1])
        path = save_model(proto, Path(run_dir) / "model.onnx") if run_dir is not None else None
        return LoadedModel(proto=proto, path=path, label=text)
    return load_model(text)


def _name(model) -> str:
    """What names the run directory: the file or example name, or the graph name of a ModelProto."""
    if isinstance(model, onnx.ModelProto):
        return model.graph.name or "model"
    if isinstance(model, LoadedModel):
        return model.name
    return os.fspath(model)


def input_options(inputs=None, input_shapes=None, val_range=None, seed: int = 1, samples: int = 1,
                  load_inputs=None, data_loader_script=None, save_inputs=None) -> InputOptions:
    """InputOptions from the API's keywords (the CLI's inputs flags, plus ``inputs`` for in-memory feeds)."""
    return InputOptions(input_shapes=input_shapes, val_range=val_range, seed=seed, samples=samples,
                        load_inputs=load_inputs, data_loader_script=data_loader_script, save_inputs=save_inputs,
                        feeds=inputs)


def _finish(result, run_dir: Path, argv, report: bool, write: bool = True):
    from trtlab.rundir import environment, write_results

    result.argv = list(argv or ["python", "trtlab.api"])
    result.environment = environment()
    if write:
        write_results(run_dir, result)
    result.run_dir = Path(run_dir)
    return result


def write_report(run_dir: Path):
    """report.html into ``run_dir``; a failure to draw it is a warning, never the command's failure."""
    from trtlab.ui import warn

    try:
        from trtlab.reports import write_report as write

        return write(run_dir)
    except Exception as exc:
        warn(f"report.html not written: {type(exc).__name__}: {exc}")
        return None


def inspect(model) -> InspectResult:
    """Summarise a model: inputs/outputs, opsets, op counts, weights, dynamic dims, custom ops (no run dir)."""
    from trtlab.inspection import inspect_model

    return inspect_model(load(model))


def compare(model, *, ref: str = "onnxrt", target: str = "trt", layerwise: bool = False, attribute: bool = False,
            attribute_top: int = 10, atol=None, rtol=None, out=None, warmup: int = 1, save_outputs: bool = False,
            report: bool = False, inputs=None, input_shapes=None, val_range=None, seed: int = 1, samples: int = 1,
            load_inputs=None, data_loader_script=None, save_inputs=None, loader_timeout=None, quiet: bool = True,
            argv=None, min_cosine=None, layerwise_weights: bool = False, task=None, max_memory=None,
            target_model=None, fp16_risk=None, **run_options) -> CompareResult:
    """Run ``target`` against ``ref`` on the same inputs and compare every output (and with ``layerwise`` every
    intermediate tensor). ``atol``/``rtol``: a number, ``"name:tol"`` or a list of them (like repeated --atol);
    default: the target precision's tolerances. ``min_cosine``: the cosine rule (default per precision, 0 off);
    ``task``: a ``trtlab.comparison.task.TaskOptions`` (detection/classification/segmentation);
    ``max_memory``: bytes for a bounded layer-wise run; ``target_model``: the target runs this other model
    (path or ModelProto); ``fp16_risk``: ``"fp16"``/``"bf16"`` adds the half-precision risk ranking. Other
    keyword arguments go to ``trtlab.comparison.run.run_compare``. ``result.passed`` is the element-wise verdict;
    with a task, ``trtlab.comparison.task.overall_passed(result)`` is the CLI's exit 0/1."""
    from trtlab import backends, weights
    from trtlab.comparators.tolerances import for_target
    from trtlab.comparison.run import run_compare
    from trtlab.rundir import fresh_run_dir

    ref_spec, target_spec = backends.parse_spec(ref), backends.parse_spec(target)
    for spec in (ref_spec, target_spec):
        backends.create(spec)  # unknown options and unavailable backends fail here, before any work
    tolerances = for_target(target_spec, _tol_list(atol), _tol_list(rtol))
    if attribute and not layerwise:
        raise TrtlabError("--attribute", "needs --layerwise", "add --layerwise (attribution splits per-layer error)")
    if attribute_top < 1:
        raise TrtlabError("--attribute-top", f"must be at least 1 (got {attribute_top})", "e.g. --attribute-top 10")
    if min_cosine is not None and not 0 <= min_cosine <= 1:
        raise TrtlabError("--min-cosine", f"must be between 0 and 1 (got {min_cosine:g})",
                          "e.g. --min-cosine 0.999, or 0 to turn the rule off")
    if attribute and target_model is not None:
        raise TrtlabError("--attribute", "runs nodes of MODEL alone on the target; with --target-model the target "
                          "runs another model", "drop --attribute, or compare each model against its own backends")
    opts = input_options(inputs, input_shapes, val_range, seed, samples, load_inputs, data_loader_script, save_inputs)
    opts.loader_timeout = loader_timeout
    with fresh_run_dir(_str(out), "compare", _name(model)) as run_dir:
        loaded = load(model, run_dir)
        other = load(target_model) if target_model is not None else None
        from trtlab.inputs import make_samples

        feeds, input_warnings = make_samples(opts, loaded)
        token = None
        if {ref_spec.name, target_spec.name} <= SHARES_WEIGHTS:  # both sides read the same weights, held once
            loaded.proto, token = weights.share_weights(loaded.proto)
            weights.return_freed_memory()  # the parsed proto's pages, else resident for the whole run
        try:
            result, hist = run_compare(loaded, ref_spec, target_spec, feeds, tolerances, layerwise,
                                       run_dir if save_outputs else None, quiet=quiet, warmup=max(warmup, 0),
                                       min_cosine=min_cosine, layerwise_weights=layerwise_weights, task=task,
                                       max_memory=max_memory, target_model=other, **run_options)
            if attribute:
                _attribute(loaded, ref_spec, target_spec, feeds[0], result, tolerances, attribute_top, quiet)
            _extras(result, loaded, other, ref, target_spec, feeds, fp16_risk)
        finally:
            weights.release(token)
        result.warnings.extend(input_warnings + _unknown_tolerance_names(tolerances, result))
        _finish(result, run_dir, argv, report, write=False)
        _write_compare(run_dir, result, hist, feeds)
    if report:
        write_report(run_dir)
    return result


def _extras(result, loaded, other, ref: str, target_spec, feeds, fp16_risk) -> None:
    """--fp16-risk's ranking, and the per-pair table when the target model has Q/DQ pairs."""
    from trtlab import weights

    if fp16_risk:
        from trtlab.mixed_precision.run import risk_table

        result.fp16_risk = risk_table(loaded.proto, fp16_risk, feeds[0], ref)
    if other is not None and any(n.op_type == "DequantizeLinear" for n in other.proto.graph.node):
        from trtlab.mixed_precision.qdq import qdq_table

        result.qdq, result.qdq_exclude = qdq_table(weights.materialize(loaded.proto), other.proto, target_spec,
                                                   feeds)


def _tol_list(value):
    if value is None or isinstance(value, list):
        return value
    return [str(v) for v in value] if isinstance(value, tuple) else [str(value)]


def _str(path) -> str | None:
    return None if path is None else os.fspath(path)


def _attribute(model, ref_spec, target_spec, feeds, result, tolerances, top: int, quiet: bool) -> None:
    from trtlab.comparison.attribution import attribute
    from trtlab.ui import progress

    if not result.layers or all(m.passed for m in result.layers):
        result.warnings.append("--attribute: no layer is out of tolerance, nothing to attribute")
        return
    with progress(quiet) as bar:
        bar.add_task("attributing: running the worst layers alone on the target", total=None)
        result.attribution, result.attribution_skipped = attribute(model.proto, ref_spec, target_spec, feeds,
                                                                   result, tolerances, top)
    for s in result.attribution_skipped:
        result.warnings.append(f"--attribute: skipped {s['tensor']} ({s['op']}): {s['reason']}")


def _unknown_tolerance_names(tolerances, result) -> list[str]:
    """Per-tensor --atol/--rtol that name no compared tensor: almost always a typo."""
    compared = {m.name for m in result.outputs + (result.layers or [])}
    unknown = sorted((set(tolerances.per_atol) | set(tolerances.per_rtol)) - compared)
    if not unknown:
        return []
    return [f"--atol/--rtol name tensors that were not compared: {', '.join(unknown)} (outputs are: "
            f"{', '.join(m.name for m in result.outputs)})"]


def _write_compare(run_dir: Path, result, hist: dict, samples: list[dict]) -> None:
    from trtlab.inputs import save_npz
    from trtlab.rundir import atomic_savez, write_results

    save_npz(run_dir / "inputs.npz", samples)
    result.files["inputs"] = "inputs.npz"
    if hist:
        atomic_savez(run_dir / "histograms.npz", hist)
        result.files["histograms"] = "histograms.npz"
    for side in ("ref", "target"):
        if (run_dir / f"{side}_outputs.npz").exists():
            result.files[f"{side}_outputs"] = f"{side}_outputs.npz"
    if result.layers:  # Model Explorer node-data overlays, one per metric
        from trtlab.reports import node_data
        from trtlab.rundir import jsonable

        written = node_data.write(run_dir, jsonable(result))
        if written:
            result.files["model_explorer"] = ",".join(written.values())
    write_results(run_dir, result)


def surgeon(model, passes, output=None, *, fold_size_threshold: str = "1G", no_fold_shapes: bool = False,
            keep_fp32=(), half_io: bool = False, extract_inputs=None, extract_outputs=None, verify=None,
            atol=None, rtol=None, external_data=None, dump_after=(), run_dir=None, report: bool = False,
            inputs=None, input_shapes=None, val_range=None, seed: int = 1, quiet: bool = True,
            argv=None) -> SurgeonResult:
    """Rewrite ``model`` with ``passes`` (``"fold-constants"``, ``"to-fp16:keep_fp32=Softmax"``,
    ``("opset", {"target": 17})``, ...), in order, verifying after each pass that the outputs hold (``verify``:
    None = on for small models). The model is written to ``output`` (default: in the run dir) only when every
    pass held; ``result.passed`` says so and ``result.failure`` names the pass that did not."""
    from trtlab.rundir import check_output_path, fresh_run_dir
    from trtlab.surgery.session import PassFlags, SurgeonOptions, apply_flags, as_step, run_surgeon

    flags = PassFlags(fold_size_threshold=fold_size_threshold, no_fold_shapes=no_fold_shapes,
                      keep_fp32=list(keep_fp32), half_io=half_io, extract_inputs=extract_inputs,
                      extract_outputs=extract_outputs)
    steps = apply_flags([as_step(p) for p in ([passes] if isinstance(passes, str) else passes)], flags, dump_after)
    src = None if isinstance(model, onnx.ModelProto) or str(model).startswith("example:") else model
    target = check_output_path(output, inputs=(src,), flag="output") if output is not None else None
    opts = SurgeonOptions(verify=verify, atol=atol, rtol=rtol, external_data=external_data,
                          dump_after=list(dump_after or []),
                          inputs=input_options(inputs, input_shapes, val_range, seed))
    with fresh_run_dir(_str(run_dir), "surgeon", _name(model)) as rd:
        loaded = load(model)
        stem = Path(_name(model).replace("example:", "")).stem
        result = run_surgeon(loaded, steps, rd, target or rd / f"{stem}.surgeon.onnx", opts,
                             argv=list(argv or ["python", "trtlab.api"]), quiet=quiet)
    if report:
        write_report(rd)
    return result


def check(model, *, trt_module=None, out=None, report: bool = False, argv=None, quiet: bool = True) -> CheckResult:
    """Parse ``model`` with TensorRT's ONNX parser; ``result.passed`` (= ``parseable``) and, when not, every
    refused node with the parser's message and a hint (``result.failing``), and what isolating them builds
    (``result.isolation``: the partition ``surgeon --isolate-unsupported`` writes, in numbers)."""
    from trtlab.rundir import fresh_run_dir
    from trtlab.trt import module
    from trtlab.trt.check import crashed_result, run_check
    from trtlab.trt.contain import TrtCrash

    trt = module.load(trt_module)
    crash = None
    with fresh_run_dir(_str(out), "check", _name(model)) as run_dir:
        loaded = load(model, run_dir)
        try:
            checked = run_check(trt, loaded)
        except TrtCrash as exc:  # keep the run: results.json says what happened
            crash, checked = exc, crashed_result(trt, loaded, exc)
        if crash is None and not checked.parseable and checked.nodes:
            start = time.perf_counter()
            checked.isolation = _isolation(loaded, checked, trt, quiet)
            checked.timing["isolation_s"] = round(time.perf_counter() - start, 6)
        result = _finish(checked, run_dir, argv, report)
    if report:
        write_report(run_dir)
    if crash is not None:  # a crash is still an error (exit 1), naming where the details went
        crash.note = f"details in {run_dir / 'results.json'}"
        raise crash
    return result


def _isolation(loaded, checked, trt, quiet: bool) -> dict:
    """``trtlab.partition.summary.isolation_preview`` with a progress bar; a failure is a warning, not the check's."""
    from trtlab.errors import TrtlabError
    from trtlab.partition.summary import isolation_preview
    from trtlab.ui import progress

    with progress(quiet) as bar:
        task = bar.add_task("planning the isolation segments", total=None)

        def on_round(seg):
            bar.update(task, description=f"parsing TensorRT segment {seg.index} on its own ({len(seg.node_ids)} nodes)")

        try:
            return isolation_preview(loaded.proto, checked, trt, on_round=on_round)
        except TrtlabError as exc:  # a TensorRT crash (TrtCrash) included
            why = exc.problem
        except Exception as exc:  # the check's verdict stands without the summary; say why it is missing
            why = f"{type(exc).__name__}: {exc}"
    checked.warnings.append(f"no isolation summary: planning the segments failed: {why}")
    return {}


def build(model, output=None, *, precision: str = "fp32", keep_fp32=(), tf32=None, strongly_typed: bool = False,
          profile=None, workspace=None, pool_limit=(), opt_level=None, timing_cache=None,
          version_compatible: bool = False, hardware_compatibility=None, compute_capability=(), mark: str = "none",
          triton_repo=None, triton_name=None, trt_module=None, out=None, report: bool = False, quiet: bool = True,
          argv=None) -> BuildResult:
    """Build a TensorRT engine (``output``, default model.engine in the run dir) with its provenance file.
    A parser or builder refusal is not raised: ``result.passed`` is False, ``result.failure`` says where and why
    (``result.error`` holds the exception the CLI raises)."""
    from trtlab.building import build_options, build_to_files, failed_result
    from trtlab.rundir import check_output_path, fresh_run_dir
    from trtlab.trt import module, provenance
    from trtlab.trt.build import BuildFailure
    from trtlab.trt.contain import TrtCrash
    from trtlab.ui import progress

    src = None if isinstance(model, onnx.ModelProto) else _str(model)
    if output is not None:
        check_output_path(output, inputs=(src,), flag="-o")
        check_output_path(provenance.path_for(output), inputs=(src,), flag="-o (its provenance file)")
    opts = build_options(precision=precision, keep_fp32=keep_fp32, tf32=tf32, strongly_typed=strongly_typed,
                         profile=profile, workspace=workspace, pool_limit=pool_limit, opt_level=opt_level,
                         timing_cache=timing_cache, version_compatible=version_compatible,
                         hardware_compatibility=hardware_compatibility, compute_capability=compute_capability,
                         mark=mark)
    trt = module.load(trt_module)
    with fresh_run_dir(_str(out), "build", _name(model)) as run_dir:
        loaded = load(model, run_dir)
        engine_path = Path(output) if output is not None else run_dir / "model.engine"
        try:
            with progress(quiet) as bar:
                result = build_to_files(trt, loaded, opts, engine_path, bar, triton_repo, triton_name)
        except (BuildFailure, TrtCrash) as exc:  # refused or crashed: keep the run (results.json, report), no engine
            result = failed_result(trt, loaded, opts, exc)
            result.error = exc
        _finish(result, run_dir, argv, report)
    if report:
        result.report = write_report(run_dir)
    return result


def reduce(model, *, fails=None, check=None, output=None, fail_code=None, fail_regex=None, check_timeout=None,
           any_failure: bool = False, ref: str = "onnxrt", target=None, atol=None, rtol=None, metric=None,
           trt_module=None, replay=None, out=None, inputs=None, input_shapes=None, val_range=None, seed: int = 1,
           samples: int = 3, load_inputs=None, data_loader_script=None, save_inputs=None, loader_timeout=None,
           quiet: bool = True, say=None, argv=None) -> ReduceResult:
    """Shrink a failing model to a minimal subgraph that still fails the same way: ``fails`` is ``"check"``,
    ``"crash"``, ``"build"``, ``"compare"`` or ``"nonfinite"`` (with ``target``; ``metric`` like ``"cosine:0.99"``
    judges compare by an output metric), or ``check`` a shell command with ``{model}``. Raises
    TrtlabError when there is nothing to reduce; ``result.passed`` is True when a reproducer was written."""
    from trtlab.inputs import make_samples
    from trtlab.reducer.checks import make_mode
    from trtlab.reducer.search import inputs_path_for, run_reduce
    from trtlab.rundir import check_output_path, fresh_run_dir

    src = None if isinstance(model, onnx.ModelProto) else _str(model)
    if output is not None:  # before any work: a reduction can take minutes
        check_output_path(output, inputs=(src, replay), flag="-o")
        if fails in ("compare", "nonfinite"):
            check_output_path(inputs_path_for(output), inputs=(src, replay),
                              flag="-o (the reproducer's inputs beside it)")
    opts = input_options(inputs, input_shapes, val_range, seed, samples, load_inputs, data_loader_script,
                         save_inputs)
    opts.loader_timeout = loader_timeout
    with fresh_run_dir(_str(out), "reduce", _name(model)) as run_dir:
        loaded = load(model, run_dir)
        try:
            feeds, warnings = make_samples(opts, loaded)
        except TrtlabError:
            if fails in ("compare", "nonfinite"):
                raise
            feeds, warnings = [], []  # types only; shape inference alone then
        mode, failure = make_mode(fails=fails, check=check, fail_code=fail_code, fail_regex=fail_regex,
                                  check_timeout=check_timeout, any_failure=any_failure, ref=ref, target=target,
                                  atol=atol, rtol=rtol, metric=metric, trt_module=trt_module, samples=feeds,
                                  workdir=run_dir)
        dest = Path(output) if output is not None else run_dir / "reduced.onnx"
        result = run_reduce(loaded, mode, run_dir, dest, feeds, replay=replay, failure=failure,
                            say=None if quiet else say)
        result.warnings = warnings + result.warnings
        _finish(result, run_dir, argv, True)
        from trtlab.reports import write_report as write

        write(run_dir)
    return result
