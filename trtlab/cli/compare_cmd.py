"""``trtlab compare MODEL``: run two backends on the same inputs and compare outputs (and every layer)."""

from __future__ import annotations

from trtlab.cli.common import add_input_args, add_model_arg, add_report_arg
from trtlab.cli.task_args import add_task_args, task_options
from trtlab.comparators.tolerances import HELP as TOL_HELP

HELP = "compare a target backend against a reference on the same inputs, output by output or layer by layer"


def add_arguments(p) -> None:
    add_model_arg(p)
    p.add_argument("--ref", default="onnxrt", metavar="SPEC", help="reference backend (default onnxrt)")
    p.add_argument("--target", default=None, metavar="SPEC",
                   help="backend under test (default trt, or onnxrt with --target-model; on machines without a "
                   "TensorRT runtime use onnxrt:fp16, onnxrt:bf16 or reference)")
    p.add_argument("--target-model", metavar="OTHER.onnx",
                   help="the target runs this model instead (a mixed-precision, surgeon or Q/DQ version of MODEL): "
                   "tensors are matched by name, outputs by position where names differ")
    p.add_argument("--layerwise", action="store_true", help="compare every intermediate tensor, not only outputs")
    p.add_argument("--attribute", action="store_true",
                   help="with --layerwise: run the first divergence and the worst failing layers alone on the "
                   "target, fed with the reference's inputs, to split the error each introduces from what it inherits")
    p.add_argument("--attribute-top", type=int, default=10, metavar="K",
                   help="how many of the worst failing layers --attribute examines (default 10)")
    p.add_argument("--fp16-risk", nargs="?", const="fp16", choices=("fp16", "bf16"), metavar="fp16|bf16",
                   help="also rank the nodes by FP16 (BF16) risk: ranges that overflow or underflow, weights that "
                   "lose precision, long reductions, the error each node introduces in half (see debug precision)")
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
    from trtlab import api
    from trtlab.cli.common import command_argv, input_options
    from trtlab.ui import print_json

    if args.target is None:
        args.target = "onnxrt" if args.target_model else "trt"
    if args.sweep_shapes:
        from trtlab.cli.sweep_compare import run_sweep

        return run_sweep(args)
    o = input_options(args)
    result = api.compare(args.model, ref=args.ref, target=args.target, layerwise=args.layerwise,
                         attribute=args.attribute, attribute_top=args.attribute_top, atol=args.atol, rtol=args.rtol,
                         out=args.out, warmup=args.warmup, save_outputs=args.save_outputs, report=args.report,
                         input_shapes=o.input_shapes, val_range=o.val_range, seed=o.seed, samples=o.samples,
                         load_inputs=o.load_inputs, data_loader_script=o.data_loader_script,
                         save_inputs=o.save_inputs, loader_timeout=o.loader_timeout, quiet=args.quiet or args.json,
                         argv=command_argv(args), min_cosine=args.min_cosine, layerwise_weights=args.layerwise_weights,
                         task=task_options(args), max_memory=_max_memory(args), target_model=args.target_model,
                         fp16_risk=args.fp16_risk)
    if args.json:
        print_json(result)
    else:
        from trtlab.cli.compare_view import print_result

        print_result(result, result.run_dir)
        if result.qdq:
            _print_qdq(result)
        if result.fp16_risk:
            _print_risk(result)
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


def _print_risk(result, top: int = 10) -> None:
    from trtlab.cli.precision_cmd import risk_lines
    from trtlab.ui import out

    lines = risk_lines(result.fp16_risk, top)
    out.print(f"half-precision risk, top {len(lines)} (all in results.json 'fp16_risk'):", markup=False)
    for line in lines:
        out.print(line, markup=False)


def _print_qdq(result, top: int = 10) -> None:
    from trtlab.ui import out

    out.print(f"Q/DQ pairs: {len(result.qdq)}, worst {min(top, len(result.qdq))} by own SQNR "
              "(accumulated: vs the float model)", markup=False)
    out.print(f"  {'pair tensor':40} {'kind':10} {'own dB':>8} {'acc. dB':>8}", markup=False)
    for r in result.qdq[:top]:
        if not r["matched"]:
            own = acc = "n/a"  # no float value of that tensor (renamed by the quantizer)
        else:
            own = "exact" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}"
            acc = "exact" if r["accumulated_sqnr_db"] is None else f"{r['accumulated_sqnr_db']:.1f}"
        out.print(f"  {str(r['tensor'])[-40:]:40} {r['kind']:10} {own:>8} {acc:>8}", markup=False)
    if result.qdq_exclude:
        out.print("exclusion list (ModelOpt --nodes_to_exclude), in results.json 'qdq_exclude'", markup=False)
