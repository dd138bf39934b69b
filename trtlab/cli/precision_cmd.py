"""``trtlab debug precision MODEL -o mixed.onnx``: find the nodes to keep in FP32, write the mixed model.

Exit codes: 0 the mixed model meets the goal on the held-out samples; 1 it does not (the best keep-set found is
written and reported); 2 bad input; 3 a backend is missing.
"""

from __future__ import annotations

import argparse

from trtlab.errors import TrtlabError

TARGETS = "onnxrt:fp16 (default), onnxrt:bf16 (CPU storage simulation), onnxrt:cuda,fp16 (real FP16 kernels)"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_input_args, add_model_arg, add_report_arg

    p.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no progress lines")
    add_model_arg(p)
    p.add_argument("-o", "--output", metavar="MIXED.onnx", help="where the mixed-precision model goes "
                   "(default: mixed.onnx in the run directory)")
    p.add_argument("--target", default="onnxrt:fp16", metavar="SPEC", help=f"what runs in half: {TARGETS}")
    p.add_argument("--ref", default="onnxrt", metavar="SPEC", help="FP32 reference backend (default onnxrt)")
    goal = p.add_argument_group("the goal, on every output (default: the FP16/BF16 tolerances of compare)")
    goal.add_argument("--atol", action="append", metavar="[NAME:]TOL", help="absolute tolerance, as in compare")
    goal.add_argument("--rtol", action="append", metavar="[NAME:]TOL", help="relative tolerance, as in compare")
    goal.add_argument("--min-cosine", type=float, metavar="C", help="cosine similarity at least C (e.g. 0.9999)")
    goal.add_argument("--min-snr", type=float, metavar="DB", help="signal-to-noise ratio at least DB decibels")
    goal.add_argument("--margin", type=float, default=0.5, metavar="F", help="the search judges with tolerances "
                      "x F (SNR + 20*log10(1/F) dB, cosine gap x F^2) so its answer holds on unseen samples "
                      "(default 0.5; 1 = the goal itself)")
    p.add_argument("--holdout", type=int, metavar="N", help="samples held out for the final verdict (default a "
                   "third, at least 1); the search never sees them")
    p.add_argument("--max-evaluations", type=int, default=200, metavar="N", help="bound on search evaluations "
                   "(default 200)")
    p.add_argument("--max-seconds", type=float, metavar="S", help="bound on search time: pruning stops there and "
                   "the smallest set reached so far is written, with a note (default: pruning takes at most the "
                   "time the analysis and growth took, at least 30 s; inf: no limit)")
    p.add_argument("--risk-only", action="store_true", help="only the risk analysis and the all-half verdict")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    add_report_arg(p, default=True)
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    add_input_args(p)
    p.set_defaults(samples=3)


def make_goal(args, precision: str):
    from trtlab.backends import parse_spec
    from trtlab.comparators.tolerances import for_target
    from trtlab.mixed_precision.evaluate import Goal

    metric_only = (args.min_cosine is not None or args.min_snr is not None) and not (args.atol or args.rtol)
    tol = None if metric_only else for_target(parse_spec(f"onnxrt:{precision}"), args.atol, args.rtol)
    if args.min_cosine is not None and not -1 <= args.min_cosine <= 1:
        raise TrtlabError("--min-cosine", f"{args.min_cosine} is not a cosine", "e.g. --min-cosine 0.9999")
    if not 0 < args.margin <= 1:
        raise TrtlabError("--margin", f"{args.margin} is not in (0, 1]", "e.g. --margin 0.5")
    return Goal(tol, args.min_cosine, args.min_snr, args.margin)


def precision_of(target: str) -> str:
    from trtlab.backends import parse_spec

    spec = parse_spec(target)
    if spec.name != "onnxrt":
        raise TrtlabError(f"--target {target}", "debug precision drives onnxrt targets (TensorRT engines cannot run "
                          "here)", f"use one of {TARGETS}")
    precision = "bf16" if spec.options.get("bf16") else "fp16"
    if spec.options.get("cuda"):
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            from trtlab.errors import UnavailableError

            raise UnavailableError(f"--target {target}", "the CUDA execution provider is not available here",
                                   "install onnxruntime-gpu on a machine with an NVIDIA GPU, or use onnxrt:fp16 "
                                   "(CPU storage simulation)")
    return precision


def run(args) -> int:
    from pathlib import Path

    from trtlab.cli.common import command_argv, load_model_arg, make_samples, write_report_if
    from trtlab.mixed_precision.run import run_precision
    from trtlab.rundir import (
        atomic_write_json,
        atomic_write_text,
        check_output_path,
        environment,
        fresh_run_dir,
        write_results,
    )
    from trtlab.ui import info, print_json

    precision = precision_of(args.target)
    goal = make_goal(args, precision)
    if args.max_evaluations < 1:
        raise TrtlabError("--max-evaluations", "must be at least 1", "e.g. --max-evaluations 200")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise TrtlabError("--max-seconds", f"{args.max_seconds:g} is not a positive time", "e.g. --max-seconds 60")
    if args.output:
        check_output_path(args.output, inputs=(args.model,), flag="-o")
    quiet = getattr(args, "quiet", False) or args.json
    with fresh_run_dir(args.out, "precision", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)
        samples, warnings = make_samples(args, model)
        out = Path(args.output) if args.output else run_dir / "mixed.onnx"
        result = run_precision(model, precision, args.target, args.ref, goal, samples, args.holdout,
                               None if args.risk_only else out, args.max_evaluations, args.risk_only,
                               say=None if quiet else info, max_seconds=args.max_seconds)
        result.argv = command_argv(args)
        result.warnings = warnings + result.warnings
        result.environment = environment()
        if not args.risk_only:
            names = [k["node"] for k in result.kept]
            result.files["kept_txt"] = str(atomic_write_text(run_dir / "kept_fp32.txt", "".join(
                f"{n}\n" for n in names)))
            result.files["kept_json"] = str(atomic_write_json(run_dir / "kept_fp32.json", result.kept))
            result.files["autocast_exclude"] = str(atomic_write_text(
                run_dir / "autocast_nodes_to_exclude.txt", "".join(f"{x}\n" for x in result.exclude_nodes)))
        write_results(run_dir, result)
        write_report_if(args.report, run_dir)
    if args.json:
        print_json(result)
    else:
        print_summary(result, run_dir)
    return 0 if result.passed or args.risk_only else 1


def print_summary(result, run_dir) -> None:
    from trtlab.ui import out, warn

    for w in result.warnings:
        warn(w)
    for n in result.notes:
        warn(n)
    p = result.precision.upper()
    lines = risk_lines(result.risk, 8)
    if lines:
        out.print(f"{p} risk (top {len(lines)}):", markup=False)
        for line in lines:
            out.print(line, markup=False)
    out.print(f"goal: {result.goal}; samples: {result.samples['search']} search, {result.samples['holdout']} "
              "held out", markup=False)
    b = result.before
    out.print(f"all {p}, held out: {'meets' if b['passed'] else 'misses'} the goal", markup=False)
    out.print(f"  {_metrics(b['worst'])}", markup=False)
    if result.output is None:
        out.print(f"run: {run_dir}", markup=False)
        return
    names = ", ".join(k["node"] for k in result.kept)
    line = f"kept in FP32: {len(result.kept)} node(s)" + (f": {names}" if names else "")
    out.print(line if len(line) <= 80 else line[:76] + " ...", markup=False)
    a = result.after
    out.print(f"mixed, held out: {'MEETS' if a['passed'] else 'MISSES'} the goal", markup=False)
    out.print(f"  {_metrics(a['worst'])}", markup=False)
    out.print(f"{p} share of float compute: {result.low_precision_fraction:.1%} (at most "
              f"{result.low_precision_fraction_max:.1%} convertible)", markup=False)
    c = result.counts
    out.print(f"evaluations: {c['evaluations']} ({c['cache_hits']} cached, {c['sessions']} sessions) in "
              f"{result.timing['total_s']:.1f} s", markup=False)
    ort = result.mixed_onnxruntime
    if ort and not ort.get("loads"):
        warn(f"mixed.onnx does not load in onnxruntime as written (its CPU provider lacks kernels for some "
             f"{p} ops; the verdict above ran it widened): {str(ort.get('error'))[:160]}")
    out.print(f"wrote {result.output}", markup=False)
    if result.kept:
        out.print("AutoCast exclusion list (--nodes_to_exclude $(cat FILE)):", markup=False)
        out.print(f"  {run_dir}/autocast_nodes_to_exclude.txt", markup=False)
    out.print(f"run: {run_dir}", markup=False)


def risk_lines(risk: list[dict], top: int) -> list[str]:
    """One line of at most 80 columns per risky node: name (its end), op, the first reason."""
    return [f"  {r['node'][-20:]:20} {r['op'][:10]:10} {r['reasons'][0][:46]}" for r in risk if r["reasons"]][:top]


def _metrics(w: dict) -> str:
    parts = []
    if w.get("max_abs") is not None:
        parts.append(f"max |err| {w['max_abs']:.3g}")
    if w.get("cosine") is not None:
        parts.append(f"cosine {w['cosine']:.6f}")
    if w.get("snr_db") is not None:
        parts.append(f"SNR {w['snr_db']:.1f} dB")
    if w.get("nonfinite"):
        parts.append(f"{w['nonfinite']} non-finite")
    return ", ".join(parts)
