"""``trtlab debug reduce MODEL -o min.onnx``: shrink a failing model to a minimal failing subgraph.

Exit codes: 0 a reproducer was written; 2 bad input (nothing to reduce because the check passes on the original
model, a check command that cannot run, unknown failure mode, bad options); 3 a backend/TensorRT is missing.
"""

from __future__ import annotations

import argparse

from trtlab.cli.common import add_input_args, add_model_arg
from trtlab.comparators.tolerances import HELP as TOL_HELP
from trtlab.errors import TrtlabError

HELP = "debug failed conversions: `debug reduce` shrinks a failing model to a minimal failing subgraph"
FAILS = ("check", "crash", "build", "compare", "nonfinite")


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


def make_mode(args, samples, workdir):
    from trtlab.reducer import checks as rc

    if args.check and args.fails:
        raise TrtlabError("debug reduce", "--check and --fails both given", "choose one way to decide failing")
    if not args.check and not args.fails:
        raise TrtlabError("debug reduce", "no failure mode given",
                          "add --fails check|build|compare, or --check \"CMD {model}\"")
    if (args.fail_code is not None or args.fail_regex) and not args.check:
        raise TrtlabError("debug reduce", "--fail-code/--fail-regex only apply to --check", "add --check \"CMD\"")
    if args.check:
        return rc.CommandMode(args.check, args.fail_code, args.fail_regex, workdir, args.check_timeout), \
            {"mode": "command", "check": args.check, "fail_code": args.fail_code, "fail_regex": args.fail_regex}
    if args.metric and args.fails != "compare":
        raise TrtlabError("debug reduce", "--metric applies to --fails compare", "add --fails compare")
    if args.fails in ("compare", "nonfinite"):
        if not args.target:
            raise TrtlabError(f"debug reduce --fails {args.fails}", "no --target backend", "e.g. --target onnxrt:fp16")
        from trtlab.backends import parse_spec
        from trtlab.comparators.tolerances import for_target, precision_of

        target = parse_spec(args.target)
        tol = for_target(target, args.atol, args.rtol)
        given = [k for k in ("atol", "rtol") if getattr(args, k) is not None]
        source = {k: "given" if k in given else f"default for {precision_of(target).upper()}" for k in ("atol", "rtol")}
        metric = rc.parse_metric(args.metric)
        cls = rc.NonfiniteMode if args.fails == "nonfinite" else rc.CompareMode
        return cls(args.ref, args.target, tol.atol, tol.rtol, samples, metric), \
            {"mode": args.fails, "ref": args.ref, "target": args.target, "atol": tol.atol, "rtol": tol.rtol,
             "tolerances": source, "samples": len(samples),
             **({"metric": args.metric} if metric else {})}
    from trtlab.trt import module

    trt = module.load(args.trt_module)
    cls = rc.MODES[args.fails]
    return cls(trt, args.any_failure), {"mode": args.fails, "module": trt.summary(), "any_failure": args.any_failure}


def run(args) -> int:
    if args.debug_command != "reduce":
        raise TrtlabError("trtlab debug", "no subcommand given", "trtlab debug reduce MODEL -o min.onnx --fails check")
    from pathlib import Path

    from trtlab.cli.common import command_argv, load_model_arg, make_samples
    from trtlab.reducer.search import run_reduce
    from trtlab.rundir import environment, fresh_run_dir, write_results
    from trtlab.ui import info, print_json

    if args.output:  # before any work: a reduction can take minutes
        from trtlab.rundir import check_output_path

        check_output_path(args.output, inputs=(args.model, args.replay), flag="-o")
        if args.fails in ("compare", "nonfinite"):
            from trtlab.reducer.search import inputs_path_for

            check_output_path(inputs_path_for(args.output), inputs=(args.model, args.replay),
                              flag="-o (the reproducer's inputs beside it)")
    quiet = getattr(args, "quiet", False) or args.json
    with fresh_run_dir(args.out, "reduce", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)
        try:
            samples, warnings = make_samples(args, model)
        except TrtlabError:
            if args.fails in ("compare", "nonfinite"):
                raise
            samples, warnings = [], []  # types only; shape inference alone then
        mode, failure = make_mode(args, samples, run_dir)
        out = Path(args.output) if args.output else run_dir / "reduced.onnx"
        result = run_reduce(model, mode, run_dir, out, samples, replay=args.replay, failure=failure,
                            say=None if quiet else info)
        result.argv = command_argv(args)
        result.warnings = warnings + result.warnings
        result.environment = environment()
        write_results(run_dir, result)
        from trtlab.reports import write_report

        write_report(run_dir)
    if args.json:
        print_json(result)
    else:
        print_summary(result, run_dir)
    return 0


def print_summary(result, run_dir) -> None:
    from trtlab.ui import out, warn

    for w in result.warnings:
        warn(w)
    c = result.checks
    ops = ", ".join(f"{k['name'] or '?'} ({k['op']})" for k in result.kept if not k["constant"])
    out.print(f"reduced {result.nodes_before} -> {result.nodes_after} node(s): {ops}", markup=False)
    out.print(f"still fails: {result.final}", markup=False)
    out.print(f"checks: {c['total']} (original {c['original']}, bisect {c['bisect']} of budget "
              f"{c['bisect_budget']}, linear {c['linear']}" + (f", {c['replayed']} replayed" if c["replayed"] else "")
              + f") in {result.timing['total_s']:.2f} s", markup=False)
    out.print(f"wrote {result.output}", markup=False)
    if result.inputs_file:
        out.print(f"wrote {result.inputs_file} (the reproducer's inputs on {result.failure.get('samples', '?')} "
                  f"sample(s): reference values at the cut)\nreproduce: {result.reproduce}", markup=False)
    out.print(f"run: {run_dir}", markup=False)
