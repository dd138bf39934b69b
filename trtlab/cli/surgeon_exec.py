"""What ``trtlab surgeon`` does once its arguments are parsed: feeds, verification, passes, writing, results."""

from __future__ import annotations

from pathlib import Path

import onnx

from trtlab.cli.common import command_argv
from trtlab.errors import EXIT_MISMATCH, EXIT_OK, TrtlabError


def _verifier(args, loaded, steps, result):
    """A Verifier, or None with the reason recorded in result.verify."""
    from trtlab.surgery.verify import Verifier, small_enough

    wanted = args.verify
    if wanted is None:
        ok, reason = small_enough(loaded.proto)
        if not ok:
            result.verify = {"enabled": False, "reason": reason}
            return None
    elif wanted is False:
        result.verify = {"enabled": False, "reason": "--no-verify"}
        return None
    from trtlab.cli.common import make_samples

    args = _with_overrides(args, loaded, steps)
    try:
        samples, warnings = make_samples(args, loaded)
    except TrtlabError as exc:  # data the user gave (a file, a loader, a flag) is wrong: that is their error
        if args.load_inputs or args.data_loader_script or str(exc.subject).startswith("--"):
            raise
        reason = f"verification impossible: no inputs for it ({exc.problem})"
        result.verify = {"enabled": False, "reason": reason}
        result.warnings.append(reason)
        return None
    try:
        verifier = Verifier(samples[0])
        verifier.baseline(loaded.proto)
    except TrtlabError as exc:
        if exc.code == 2 and "--input-shapes" in exc.subject:
            raise
        at_run = exc.problem.startswith("inference failed")  # it loads: the ops exist, the sizes may not fit
        found = _runnable_dims(args, loaded, exc) if at_run and any(
            "dynamic dim" in w for w in _plan_warnings(args, loaded)) else None
        if found is None:
            reason = f"verification impossible: the input model does not run in onnxruntime here ({exc.problem})"
            result.verify = {"enabled": False, "reason": reason}
            result.warnings.append(reason)
            return None
        verifier, warnings = found
    result.warnings.extend(warnings)
    result.verify = {"enabled": True, "seed": args.seed, "backend": "onnxrt",
                     "atol": args.atol, "rtol": args.rtol}
    return verifier


COMMON_DIMS = (2, 4, 8, 16, 32, 64, 128, 224, 256, 512)


def _plan_warnings(args, loaded) -> list[str]:
    from trtlab.inputs import parse_shape_args, plan_inputs

    return plan_inputs(loaded.proto.graph, parse_shape_args(args.input_shapes)).warnings


def _runnable_dims(args, loaded, first: TrtlabError):
    """Dynamic dims set to 1 made the model unrunnable (a reflect Pad, a pooling window): try the sizes the dim
    names hint at, then common sizes, for every dim the user did not set; (Verifier, warnings) for the first that
    runs. None of them: a usage error (exit 2), since writing an unverified model is only done on --no-verify."""
    import argparse
    import re

    from trtlab.cli.common import make_samples
    from trtlab.inputs import input_specs, parse_shape_args
    from trtlab.surgery.verify import Verifier

    given = parse_shape_args(args.input_shapes)
    specs = [s for s in input_specs(loaded.proto.graph) if s.name not in given and s.shape is not None]
    hints = [int(m) for s in specs for d in s.shape if isinstance(d, str) for m in re.findall(r"\d+", d)
             if 1 < int(m) <= 4096]
    for size in dict.fromkeys(hints + list(COMMON_DIMS)):
        shapes = dict(given)
        for spec in specs:
            if any(not (isinstance(d, int) and d >= 0) for d in spec.shape):
                shapes[spec.name] = [d if isinstance(d, int) and d >= 0 else size for d in spec.shape]
        trial = argparse.Namespace(**vars(args))
        trial.input_shapes = [f"{n}:[{','.join(str(d) for d in dims)}]" for n, dims in shapes.items()]
        try:
            samples, warnings = make_samples(trial, loaded)
            verifier = Verifier(samples[0])
            verifier.baseline(loaded.proto)
        except TrtlabError:
            continue
        warnings = [w for w in warnings if "dynamic dim" not in w]
        example = " ".join(trial.input_shapes)
        warnings.append(f"the model does not run with its dynamic dims set to 1 ({first.problem[:120]}): verified "
                        f"with them set to {size}; choose with --input-shapes (here: {example})")
        return verifier, warnings
    raise TrtlabError(loaded.path or loaded.label, "cannot verify the passes: the input model does not run in "
                      f"onnxruntime with its dynamic dims set to 1 or to {', '.join(map(str, COMMON_DIMS))} "
                      f"({first.problem[:160]})", "pass --input-shapes NAME:DIMS with sizes the model accepts (or "
                      "--no-verify to write the model unverified)", code=2)


def _with_overrides(args, loaded, steps):
    """``args`` with the shapes of every override-input-shapes step (on the model's own inputs) as input shapes,
    so verification runs every pass, the override included, at the overridden shapes. Overrides win over
    --input-shapes (the rewritten model accepts nothing else); unknown names and fixed-dim changes are left to
    the pass, which refuses them (exit 2)."""
    import argparse

    from trtlab.inputs import parse_shape_args
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
        return args
    shapes = parse_shape_args(args.input_shapes)
    shapes.update(overrides)
    new = argparse.Namespace(**vars(args))
    new.input_shapes = [f"{n}:[{','.join(str(d) for d in dims)}]" for n, dims in shapes.items()]
    return new


def execute(args, loaded, steps, run_dir: Path, target: Path) -> int:
    from trtlab.model import save_model
    from trtlab.rundir import RESULTS, atomic_write_json, environment
    from trtlab.surgery.pipeline import SurgeonResult, run_pipeline
    from trtlab.ui import progress

    result = SurgeonResult(argv=command_argv(args), model=str(loaded.path or loaded.label),
                            warnings=list(loaded.warnings))
    verifier = _verifier(args, loaded, steps, result)
    tolerance = None
    if args.atol is not None or args.rtol is not None:
        tolerance = (args.atol if args.atol is not None else 1e-5, args.rtol if args.rtol is not None else 1e-5)
    dumps_dir = run_dir / "dumps"

    def dump(name, index, model):
        path = save_model(_copy(model), dumps_dir / f"{index + 1:02d}-{name}.onnx", external_data=args.external_data)
        return str(path)

    with progress(args.quiet or args.json) as bar:
        task = bar.add_task("surgeon", total=len(steps))

        def on_step(name):
            bar.update(task, description=f"pass {name}")

        model, result = run_pipeline(loaded.proto, steps, verifier=verifier, tolerance=tolerance, dump=dump,
                                     dump_after=set(args.dump_after or []), on_step=on_step, result=result)
    if result.passed:
        save_model(model, target, external_data=args.external_data)  # None: automatic above 2 GB
        result.output = str(target)
    result.environment = environment()
    atomic_write_json(run_dir / RESULTS, result)
    if args.json:
        import json

        from trtlab.ui import print_json

        print_json(json.loads((run_dir / RESULTS).read_text()))
    else:
        from trtlab.cli.surgeon_view import print_result

        print_result(result, run_dir)
    return EXIT_OK if result.passed else EXIT_MISMATCH


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy
