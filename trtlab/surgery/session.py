"""One surgeon run, as the CLI and the Python API both do it: steps with their flag options, seeded inputs for
verification, the pass pipeline, the output model and the dumps, and the result (schema "trtlab.surgeon/1")."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from trtlab.errors import TrtlabError
from trtlab.inputs import InputOptions
from trtlab.surgery.pipeline import FP32_TOLERANCES, Step, SurgeonResult


@dataclass
class PassFlags:
    """Options the surgeon flags give every pass that takes them (``--keep-fp32`` for to-fp16, ...)."""

    fold_size_threshold: str = "1G"
    no_fold_shapes: bool = False
    keep_fp32: list[str] = field(default_factory=list)
    half_io: bool = False
    extract_inputs: str | None = None
    extract_outputs: str | None = None


@dataclass
class SurgeonOptions:
    """How to run and write: verification (None: on for small models), tolerances, external data, dumps."""

    verify: bool | None = None
    atol: float | None = None
    rtol: float | None = None
    external_data: bool | None = None
    dump_after: list[str] = field(default_factory=list)
    inputs: InputOptions = field(default_factory=InputOptions)


def as_step(item) -> Step:
    """A pipeline step from ``"NAME[:key=value,...]"``, ``(name, {options})`` or a Step."""
    from trtlab.surgery.pipeline import parse_step

    if isinstance(item, Step):
        return Step(item.name, dict(item.options))
    if isinstance(item, str):
        return parse_step(item)
    name, options = item
    step = parse_step(name)
    step.options.update(options or {})
    return step


def apply_flags(steps: list[Step], flags: PassFlags, dump_after=()) -> list[Step]:
    """Give every step the options of ``flags`` it takes (a step's own options win); check them up front."""
    from trtlab.passes.base import parse_size

    if flags.extract_outputs and not any(s.name == "extract" for s in steps):
        steps.append(Step("extract", {}))
    for step in steps:
        if step.name == "fold-constants":
            step.options.setdefault("size_threshold", flags.fold_size_threshold)
            if flags.no_fold_shapes:
                step.options.setdefault("fold_shapes", False)
        elif step.name in ("to-fp16", "to-bf16"):
            step.options.setdefault("keep_fp32", list(flags.keep_fp32))
            step.options.setdefault("keep_io_types", not flags.half_io)
        elif step.name == "extract":
            step.options.setdefault("inputs", flags.extract_inputs)
            step.options.setdefault("outputs", flags.extract_outputs)
        elif step.name == "opset":
            from trtlab.passes.opset import check_target

            check_target(step.options.get("target", 17))  # up front: exit 2 before any work
    if not steps:
        raise TrtlabError("trtlab surgeon", "no passes given",
                          "add pass flags, e.g. --fold-constants --cleanup (see `trtlab surgeon --list`)")
    parse_size(flags.fold_size_threshold)
    names = list(dict.fromkeys(s.name for s in steps))
    unknown = [n for n in dump_after or [] if n != "all" and n not in names]
    if unknown:
        raise TrtlabError(f"--dump-after {' '.join(unknown)}", "not a pass of this run",
                          f"choose from: {', '.join(names)}, or all")
    return steps


def with_overrides(opts: InputOptions, loaded, steps) -> InputOptions:
    """``opts`` with the shapes of every override-input-shapes step (on the model's own inputs) as input shapes,
    so verification runs every pass, the override included, at the overridden shapes. Overrides win over
    --input-shapes (the rewritten model accepts nothing else); unknown names and fixed-dim changes are left to
    the pass, which refuses them (exit 2)."""
    from trtlab.passes.override_shapes import check_shapes, shape_items

    overrides: dict[str, list[int]] = {}
    for step in steps:
        if step.name != "override-input-shapes":
            continue
        for name, dims in shape_items(step.options.get("shapes")).items():
            try:
                check_shapes(loaded.proto, {name: dims})
            except TrtlabError:
                continue
            overrides[name] = dims
    if not overrides:
        return opts
    return dataclasses.replace(opts, input_shapes={**opts.shapes(), **overrides})


def _verifier(opts: SurgeonOptions, loaded, steps, result: SurgeonResult):
    """A Verifier, or None with the reason recorded in result.verify."""
    from trtlab.inputs import make_samples
    from trtlab.surgery.verify import Verifier, small_enough

    if opts.verify is None:
        ok, reason = small_enough(loaded.proto)
        if not ok:
            result.verify = {"enabled": False, "reason": reason}
            return None
    elif opts.verify is False:
        result.verify = {"enabled": False, "reason": "--no-verify"}
        return None
    inputs = with_overrides(opts.inputs, loaded, steps)
    try:
        samples, warnings = make_samples(inputs, loaded)
    except TrtlabError as exc:  # data the user gave (a file, a loader, a flag) is wrong: that is their error
        if inputs.load_inputs or inputs.data_loader_script or inputs.feeds is not None \
                or str(exc.subject).startswith("--"):
            raise
        reason = f"verification impossible: no inputs for it ({exc.problem})"
        result.verify = {"enabled": False, "reason": reason}
        result.warnings.append(reason)
        return None
    try:
        from trtlab.model import file_weights

        verifier = Verifier(samples[0])
        verifier.baseline(loaded.proto, file_weights(loaded))
    except TrtlabError as exc:
        if exc.code == 2 and "--input-shapes" in str(exc.subject):
            raise
        at_run = exc.problem.startswith("inference failed")  # it loads: the ops exist, the sizes may not fit
        found = _runnable_dims(inputs, loaded, exc) if at_run and any(
            "dynamic dim" in w for w in _plan_warnings(inputs, loaded)) else None
        if found is None:
            reason = f"verification impossible: the input model does not run in onnxruntime here ({exc.problem})"
            result.verify = {"enabled": False, "reason": reason}
            result.warnings.append(reason)
            return None
        verifier, warnings = found
    result.warnings.extend(warnings)
    result.verify = {"enabled": True, "seed": opts.inputs.seed, "backend": "onnxrt", "atol": opts.atol,
                     "rtol": opts.rtol}
    return verifier


COMMON_DIMS = (2, 4, 8, 16, 32, 64, 128, 224, 256, 512)


def _plan_warnings(inputs: InputOptions, loaded) -> list[str]:
    from trtlab.inputs import plan_inputs

    return plan_inputs(loaded.proto.graph, inputs.shapes()).warnings


def _runnable_dims(inputs: InputOptions, loaded, first: TrtlabError):
    """Dynamic dims set to 1 made the model unrunnable (a reflect Pad, a pooling window): try the sizes the dim
    names hint at, then common sizes, for every dim the user did not set; (Verifier, warnings) for the first that
    runs. None of them: a usage error (exit 2), since writing an unverified model is only done on --no-verify."""
    import re

    from trtlab.inputs import input_specs, make_samples
    from trtlab.surgery.verify import Verifier

    given = inputs.shapes()
    specs = [s for s in input_specs(loaded.proto.graph) if s.name not in given and s.shape is not None]
    hints = [int(m) for s in specs for d in s.shape if isinstance(d, str) for m in re.findall(r"\d+", d)
             if 1 < int(m) <= 4096]
    for size in dict.fromkeys(hints + list(COMMON_DIMS)):
        shapes = dict(given)
        for spec in specs:
            if any(not (isinstance(d, int) and d >= 0) for d in spec.shape):
                shapes[spec.name] = [d if isinstance(d, int) and d >= 0 else size for d in spec.shape]
        trial = dataclasses.replace(inputs, input_shapes=shapes)
        try:
            samples, warnings = make_samples(trial, loaded)
            verifier = Verifier(samples[0])
            verifier.baseline(loaded.proto)
        except TrtlabError:
            continue
        warnings = [w for w in warnings if "dynamic dim" not in w]
        example = " ".join(f"{n}:[{','.join(str(d) for d in dims)}]" for n, dims in shapes.items())
        warnings.append(f"the model does not run with its dynamic dims set to 1 ({first.problem[:120]}): verified "
                        f"with them set to {size}; choose with --input-shapes (here: {example})")
        return verifier, warnings
    raise TrtlabError(loaded.path or loaded.label, "cannot verify the passes: the input model does not run in "
                      f"onnxruntime with its dynamic dims set to 1 or to {', '.join(map(str, COMMON_DIMS))} "
                      f"({first.problem[:160]})", "pass --input-shapes NAME:DIMS with sizes the model accepts (or "
                      "--no-verify to write the model unverified)", code=2)


def run_surgeon(loaded, steps: list[Step], run_dir: Path, target: Path, opts: SurgeonOptions, *,
                argv: list[str], quiet: bool = True) -> SurgeonResult:
    """Run ``steps`` on ``loaded``; write the model to ``target`` when every pass held, and results.json."""
    from trtlab.model import save_model
    from trtlab.rundir import RESULTS, atomic_write_json, environment
    from trtlab.surgery.pipeline import run_pipeline
    from trtlab.ui import progress

    result = SurgeonResult(argv=argv, model=str(loaded.path or loaded.label), warnings=list(loaded.warnings))
    verifier = _verifier(opts, loaded, steps, result)
    tolerance = None
    if opts.atol is not None or opts.rtol is not None:
        tolerance = tuple(d if v is None else v for v, d in zip((opts.atol, opts.rtol), FP32_TOLERANCES))
    dumps_dir = run_dir / "dumps"

    def dump(name, index, model):
        return str(save_model(_copy(model), dumps_dir / f"{index + 1:02d}-{name}.onnx",
                              external_data=opts.external_data))

    with progress(quiet) as bar:
        task = bar.add_task("surgeon", total=len(steps))
        model, result = run_pipeline(loaded.proto, steps, verifier=verifier, tolerance=tolerance, dump=dump,
                                     dump_after=set(opts.dump_after or []),
                                     on_step=lambda name: bar.update(task, description=f"pass {name}"),
                                     result=result)
    if result.passed:
        # None: automatic above 2 GB; weights the last verification lent are written from its arrays, uncopied
        save_model(model, target, external_data=opts.external_data,
                   arrays=verifier.lent_arrays(model) if verifier is not None and result.passes else None)
        result.output = str(target)
    result.environment = environment()
    atomic_write_json(run_dir / RESULTS, result)
    result.run_dir = Path(run_dir)
    return result


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy
