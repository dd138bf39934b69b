"""``trtlab compare MODEL``: run two backends on the same inputs and compare outputs (and every layer)."""

from __future__ import annotations

from trtlab.cli.common import add_input_args, add_model_arg, add_report_arg
from trtlab.comparators.tolerances import HELP as TOL_HELP

HELP = "compare a target backend against a reference on the same inputs, output by output or layer by layer"


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
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    p.add_argument("--warmup", type=int, default=1, metavar="N",
                   help="untimed runs of the first sample on each backend before the timed ones (default 1)")
    p.add_argument("--save-outputs", action="store_true", help="save both sides' outputs as .npz in the run dir")
    add_report_arg(p, default=True)
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of tables")
    add_input_args(p)


def run(args) -> int:
    from trtlab import api
    from trtlab.cli.common import command_argv, input_options
    from trtlab.ui import print_json

    o = input_options(args)
    result = api.compare(args.model, ref=args.ref, target=args.target, layerwise=args.layerwise,
                         attribute=args.attribute, attribute_top=args.attribute_top, atol=args.atol, rtol=args.rtol,
                         out=args.out, warmup=args.warmup, save_outputs=args.save_outputs, report=args.report,
                         input_shapes=o.input_shapes, val_range=o.val_range, seed=o.seed, samples=o.samples,
                         load_inputs=o.load_inputs, data_loader_script=o.data_loader_script,
                         save_inputs=o.save_inputs, quiet=args.quiet or args.json, argv=command_argv(args))
    if args.json:
        print_json(result)
    else:
        from trtlab.cli.compare_view import print_result

        print_result(result, result.run_dir)
    return 0 if result.passed else 1
