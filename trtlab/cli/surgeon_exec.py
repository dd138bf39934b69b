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

    try:
        samples, warnings = make_samples(_with_overrides(args, loaded, steps), loaded)
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
        reason = f"verification impossible: the input model does not run in onnxruntime here ({exc.problem})"
        result.verify = {"enabled": False, "reason": reason}
        result.warnings.append(reason)
        return None
    result.warnings.extend(warnings)
    result.verify = {"enabled": True, "seed": args.seed, "backend": "onnxrt",
                     "atol": args.atol, "rtol": args.rtol}
    return verifier


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
