"""``trtlab debug reduce MODEL -o min.onnx``: shrink a failing model to a minimal failing subgraph.

Exit codes: 0 a reproducer was written; 2 bad input (nothing to reduce because the check passes on the original
model, a check command that cannot run, unknown failure mode, bad options); 3 a backend/TensorRT is missing.
"""

from __future__ import annotations

import argparse

from trtlab.cli.common import add_input_args, add_model_arg
from trtlab.comparators.tolerances import HELP as TOL_HELP
from trtlab.errors import TrtlabError
from trtlab.reducer.checks import FAILS

HELP = ("debug failed conversions: `debug reduce` shrinks a failing model to a minimal failing subgraph; "
        "`debug precision` finds the nodes to keep in FP32 and writes a mixed-precision model")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="debug_command", metavar="SUBCOMMAND", parser_class=type(p))
    r = sub.add_parser("reduce", help="bisect a failing model down to the smallest subgraph that still fails",
                       description="Bisect over the topologically sorted graph, then a linear pass; exit 0 when a "
                       "reproducer was written, 2 when there is nothing to reduce or the input is bad.")
    r.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    r.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no progress lines")
    add_model_arg(r)
    r.add_argument("-o", "--output", metavar="MIN.onnx", help="where the reduced model goes "
                   "(default: reduced.onnx in the run directory)")
    how = r.add_argument_group("what counts as failing (one of --fails or --check)")
    how.add_argument("--fails", choices=FAILS, help="check: TensorRT's parser refuses it; crash: TensorRT crashes "
                     "parsing it; build: the builder fails; compare: --ref and --target disagree beyond --atol/--rtol "
                     "(or --metric); nonfinite: the target has NaN/Inf in an output where the reference is finite")
    how.add_argument("--metric", metavar="NAME:THRESHOLD", help="compare: judge outputs by a metric instead of "
                     "atol/rtol: cosine:0.99 fails below 0.99, max_abs:0.1 fails above 0.1 (new NaN/Inf always fail)")
    how.add_argument("--check", metavar="CMD", help="a shell command with {model}; failing = exit code "
                     "--fail-code (default: any non-zero) and, with --fail-regex, output matching it")
    how.add_argument("--fail-code", type=int, metavar="N", help="exit code that means failing (--check)")
    how.add_argument("--fail-regex", metavar="RE", help="regex that must match stdout or stderr (--check)")
    how.add_argument("--check-timeout", type=float, metavar="S", help="seconds per --check run (timeout = passes)")
    how.add_argument("--any-failure", action="store_true", help="check/build: any refusal counts, not only one "
                     "of the nodes that failed in the original model")
    how.add_argument("--ref", default="onnxrt", metavar="SPEC", help="compare: reference backend (default onnxrt)")
    how.add_argument("--target", metavar="SPEC", help="compare: target backend, e.g. onnxrt:fp16, reference, trt")
    how.add_argument("--atol", type=float, help=f"compare: absolute tolerance; {TOL_HELP}")
    how.add_argument("--rtol", type=float, help="compare: relative tolerance, like --atol")
    from trtlab.cli.common import add_module_arg

    add_module_arg(r)
    add_input_args(r)
    r.set_defaults(samples=3)
    r.add_argument("--replay", metavar="reduce.jsonl", help="reuse the answers recorded in an earlier run's log")
    r.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    r.add_argument("--json", action="store_true", help="print results.json to stdout")
    from trtlab.cli import precision_cmd

    precision_cmd.add_arguments(sub.add_parser(
        "precision", help="find the nodes to keep in FP32 so an FP16/BF16 model meets a goal; write mixed.onnx",
        description="Risk analysis, then a search seeded by it (grow, bisect, prune until every kept node is "
        "necessary), a verdict on held-out samples, and mixed.onnx with Casts at the FP32 islands. Exit 0 when the "
        "mixed model meets the goal on the held-out samples, 1 when not."))


def run(args) -> int:
    if args.debug_command == "precision":
        from trtlab.cli import precision_cmd

        return precision_cmd.run(args)
    if args.debug_command != "reduce":
        raise TrtlabError("trtlab debug", "no subcommand given", "trtlab debug reduce MODEL -o min.onnx --fails check")
    from trtlab import api
    from trtlab.cli.common import command_argv
    from trtlab.ui import info, print_json

    quiet = getattr(args, "quiet", False) or args.json
    result = api.reduce(args.model, fails=args.fails, check=args.check, output=args.output, fail_code=args.fail_code,
                        fail_regex=args.fail_regex, check_timeout=args.check_timeout, any_failure=args.any_failure,
                        ref=args.ref, target=args.target, atol=args.atol, rtol=args.rtol, metric=args.metric,
                        trt_module=args.trt_module,
                        replay=args.replay, out=args.out, input_shapes=args.input_shapes, val_range=args.val_range,
                        seed=args.seed, samples=args.samples, load_inputs=args.load_inputs,
                        data_loader_script=args.data_loader_script,
                        save_inputs=args.save_inputs, loader_timeout=getattr(args, "loader_timeout", None),
                        quiet=quiet, say=info, argv=command_argv(args))
    if args.json:
        print_json(result)
    else:
        print_summary(result, result.run_dir)
    return 0


def print_summary(result, run_dir) -> None:
    from trtlab.ui import out, warn

    for w in result.warnings:
        warn(w)
    c = result.checks
    # An unnamed node is OpType_index (its index in the model's graph), as compare names it and keep= accepts it.
    ops = ", ".join(f"{k['name'] or k['op'] + '_' + str(k['index'])} ({k['op']})" for k in result.kept
                    if not k["constant"])
    out.print(f"reduced {result.nodes_before} -> {result.nodes_after} node(s): {ops}", markup=False)
    out.print(f"still fails: {result.final}", markup=False)
    out.print(f"checks: {c['total']} (original {c['original']}, bisect {c['bisect']} of budget "
              f"{c['bisect_budget']}, linear {c['linear']}" + (f", {c['replayed']} replayed" if c["replayed"] else "")
              + f") in {result.timing['total_s']:.2f} s", markup=False)
    out.print(f"wrote {result.output}", markup=False)
    if result.inputs_file:
        out.print(f"wrote {result.inputs_file} (the reproducer's inputs on {result.failure.get('samples', '?')} "
                  f"sample(s): reference values at the cut)", markup=False)
        # The one line allowed past 80 columns: the command must stay copyable, so it is printed whole, unwrapped,
        # on a line of its own (tests/cli/test_columns.py exempts lines starting "reproduce: ").
        out.print(f"reproduce: {result.reproduce}", markup=False, soft_wrap=True)
    out.print(f"run: {run_dir}", markup=False)
