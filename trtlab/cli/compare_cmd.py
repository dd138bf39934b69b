"""``trtlab compare MODEL``: run two backends on the same inputs and compare outputs (and every layer)."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import add_input_args, add_model_arg, add_report_arg
from trtlab.cli.task_args import add_task_args, task_options
from trtlab.comparators.tolerances import HELP as TOL_HELP

HELP = "compare a target backend against a reference on the same inputs, output by output or layer by layer"


# Backends that accept a model whose large initializers are held apart by trtlab.weights.
SHARES_WEIGHTS = {"onnxrt", "reference"}


def add_arguments(p) -> None:
    add_model_arg(p)
    p.add_argument("--ref", default="onnxrt", metavar="SPEC", help="reference backend (default onnxrt)")
    p.add_argument("--target", default="trt", metavar="SPEC",
                   help="backend under test (default trt; on machines without a TensorRT runtime use "
                   "onnxrt:fp16, onnxrt:bf16 or reference)")
    p.add_argument("--layerwise", action="store_true", help="compare every intermediate tensor, not only outputs")
    p.add_argument("--attribute", action="store_true",
                   help="with --layerwise: run the first divergence and the worst failing layers alone on the "
                   "target, fed with the reference's inputs, to split the error each introduces from what it inherits")
    p.add_argument("--attribute-top", type=int, default=10, metavar="K",
                   help="how many of the worst failing layers --attribute examines (default 10)")
    p.add_argument("--atol", action="append", metavar="[NAME:]TOL",
                   help=f"absolute tolerance, global or per tensor (repeatable); {TOL_HELP}")
    p.add_argument("--rtol", action="append", metavar="[NAME:]TOL", help="relative tolerance, like --atol")
    p.add_argument("--min-cosine", type=float, metavar="C",
                   help="an output also fails when its cosine similarity to the reference is below C (default "
                   "0.9999 FP32, 0.999 FP16, 0.99 BF16 targets; 0 turns the rule off)")
    p.add_argument("--layerwise-weights", action="store_true",
                   help="with --layerwise: compare Constant outputs (weights) as layers too")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    p.add_argument("--warmup", type=int, default=1, metavar="N",
                   help="untimed runs of the first sample on each backend before the timed ones (default 1)")
    p.add_argument("--max-memory", metavar="SIZE",
                   help="with --layerwise: hold at most SIZE of compared tensors (both sides) at once, e.g. 512M; "
                   "the backends run once per chunk of tensors that fits")
    p.add_argument("--save-outputs", action="store_true", help="save both sides' outputs as .npz in the run dir")
    add_report_arg(p, default=True)
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of tables")
    add_task_args(p)
    add_input_args(p)
    from trtlab.cli.sweep_compare import add_arguments as add_sweep_arguments

    add_sweep_arguments(p)


def run(args) -> int:
    from trtlab import backends, weights
    from trtlab.cli.common import command_argv, load_model_arg, make_samples, write_report_if
    from trtlab.comparators.tolerances import for_target
    from trtlab.comparison.run import run_compare
    from trtlab.errors import TrtlabError
    from trtlab.rundir import environment, fresh_run_dir
    from trtlab.ui import print_json

    if args.sweep_shapes:
        from trtlab.cli.sweep_compare import run_sweep

        return run_sweep(args)
    ref_spec, target_spec = backends.parse_spec(args.ref), backends.parse_spec(args.target)
    for spec in (ref_spec, target_spec):
        backends.create(spec)  # unknown options and unavailable backends fail here, before any work
    tolerances = for_target(target_spec, args.atol, args.rtol)
    task = task_options(args)
    if args.attribute and not args.layerwise:
        raise TrtlabError("--attribute", "needs --layerwise", "add --layerwise (attribution splits per-layer error)")
    if args.min_cosine is not None and not 0 <= args.min_cosine <= 1:
        raise TrtlabError("--min-cosine", f"must be between 0 and 1 (got {args.min_cosine:g})",
                          "e.g. --min-cosine 0.999, or 0 to turn the rule off")
    if args.attribute_top < 1:
        raise TrtlabError("--attribute-top", f"must be at least 1 (got {args.attribute_top})",
                          "e.g. --attribute-top 10")
    max_memory = _max_memory(args)
    with fresh_run_dir(args.out, "compare", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)
        samples, input_warnings = make_samples(args, model)
        # Both sides read the same weights: hold them once and let every ORT session use them in place.
        token = None
        if {ref_spec.name, target_spec.name} <= SHARES_WEIGHTS:
            model.proto, token = weights.share_weights(model.proto)
            weights.return_freed_memory()  # the parsed proto's pages, else resident for the whole run
        try:
            result, hist = run_compare(model, ref_spec, target_spec, samples, tolerances, args.layerwise,
                                       run_dir if args.save_outputs else None, quiet=args.quiet or args.json,
                                       warmup=max(args.warmup, 0), min_cosine=args.min_cosine,
                                       layerwise_weights=args.layerwise_weights, task=task,
                                       max_memory=max_memory)
            if args.attribute:
                _attribute(model, ref_spec, target_spec, samples[0], result, tolerances, args)
        finally:
            weights.release(token)
        result.warnings.extend(input_warnings + _unknown_tolerance_names(tolerances, result))
        result.environment = environment()
        result.argv = command_argv(args)
        _write_run(run_dir, result, hist, samples)
    write_report_if(args.report, run_dir)
    if args.json:
        print_json(result)
    else:
        from trtlab.cli.compare_view import print_result

        print_result(result, run_dir)
    from trtlab.comparison.task import overall_passed

    return 0 if overall_passed(result) else 1


def _max_memory(args) -> int | None:
    from trtlab.errors import TrtlabError
    from trtlab.trt.build import parse_size

    if args.max_memory is None:
        return None
    if not args.layerwise:
        raise TrtlabError("--max-memory", "bounds the tensors of a layer-wise run", "add --layerwise")
    size = parse_size(args.max_memory)
    if size <= 0:
        raise TrtlabError(f"--max-memory {args.max_memory}", "must be a positive size", "e.g. --max-memory 512M")
    return size


def _attribute(model, ref_spec, target_spec, feeds, result, tolerances, args) -> None:
    from trtlab.comparison.attribution import attribute
    from trtlab.ui import progress

    if not result.layers or all(m.passed for m in result.layers):
        result.warnings.append("--attribute: no layer is out of tolerance, nothing to attribute")
        return
    with progress(args.quiet or args.json) as bar:
        bar.add_task("attributing: running the worst layers alone on the target", total=None)
        result.attribution, result.attribution_skipped = attribute(model.proto, ref_spec, target_spec, feeds,
                                                                   result, tolerances, args.attribute_top)
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


def _write_run(run_dir: Path, result, hist: dict, samples: list[dict]) -> None:
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
    if result.layers:
        from trtlab.reports import node_data
        from trtlab.rundir import jsonable

        written = node_data.write(run_dir, jsonable(result))
        if written:
            result.files["model_explorer"] = ",".join(written.values())
    write_results(run_dir, result)
