"""``trtlab build MODEL -o model.engine``: build a TensorRT engine, with provenance beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from trtlab.cli.common import add_model_arg, add_report_arg

HELP = "build a TensorRT engine from an ONNX model (writes ENGINE and ENGINE.json provenance)"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg

    add_model_arg(p)
    p.add_argument("-o", "--output", metavar="ENGINE", help="engine file (default: model.engine in the run dir)")
    add_module_arg(p)
    g = p.add_argument_group("precision")
    g.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32",
                   help="fp16/bf16 are graph edits (weights and activations converted, I/O types kept); "
                   "int8 (implicit calibration) is refused: quantize with QDQ nodes instead")
    g.add_argument("--keep-fp32", nargs="+", default=[], metavar="NODE_OR_OP", help="nodes or op types kept in FP32")
    g.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=None,
                   help="allow/forbid TF32 math for FP32 layers (module default when not given)")
    g.add_argument("--strongly-typed", action="store_true", help="build a strongly typed network (TensorRT 10)")
    g = p.add_argument_group("shapes")
    g.add_argument("--profile", action="append", metavar="IN:MIN:OPT:MAX[,IN2:...]",
                   help="one optimization profile per --profile; inside it one INPUT:MIN:OPT:MAX per dynamic input, "
                   "comma-separated; shapes as 1x3x224x224. Repeat for several profiles")
    g = p.add_argument_group("builder")
    g.add_argument("--workspace", metavar="SIZE", help="workspace memory pool limit, e.g. 1G, 512M")
    g.add_argument("--pool-limit", action="append", default=[], metavar="POOL:SIZE",
                   help="other pool limits: tactic_shared_memory:48K, tactic_dram:2G")
    g.add_argument("--opt-level", type=int, choices=range(6), metavar="0-5", help="builder optimisation level")
    g.add_argument("--timing-cache", metavar="FILE", help="load the timing cache from FILE (if present), save it after")
    g.add_argument("--version-compatible", action="store_true", help="engine runs on later TensorRT versions")
    g.add_argument("--hardware-compatibility", choices=("none", "ampere_plus", "same_cc"),
                   help="engine runs on other GPU architectures (full TensorRT only)")
    g.add_argument("--compute-capability", action="append", default=[], metavar="SM89",
                   help="target GPUs (TensorRT for RTX: SM75, SM80, SM86, SM89, SM120, ...); repeatable")
    g = p.add_argument_group("output")
    g.add_argument("--mark", choices=("none", "all", "debug-unfused"), default="none",
                   help="all: mark every tensor as an engine output for layer-wise debugging (fusions disabled); "
                   "debug-unfused: keep the tensors that survive fusion readable as debug tensors (fusions kept)")
    g.add_argument("--triton-repo", metavar="DIR", help="also lay out DIR/<name>/1/model.plan and config.pbtxt")
    g.add_argument("--triton-name", metavar="NAME", help="model name in the Triton repository (default: model stem)")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    add_report_arg(p, default=False)
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of a summary")


def options_from(args):
    from trtlab.errors import TrtlabError
    from trtlab.trt.build import POOLS, BuildOptions, parse_size
    from trtlab.trt.profiles import parse_profiles

    pools = {"workspace": parse_size(args.workspace)} if args.workspace else {}
    for item in args.pool_limit:
        name, _, size = item.partition(":")
        if name not in POOLS or not size:
            raise TrtlabError(f"--pool-limit {item}", "not POOL:SIZE with a known pool", f"pools: {', '.join(POOLS)}")
        pools[name] = parse_size(size)
    return BuildOptions(precision=args.precision, keep_fp32=list(args.keep_fp32), tf32=args.tf32,
                        profiles=parse_profiles(args.profile), pool_limits=pools, opt_level=args.opt_level,
                        timing_cache=args.timing_cache, version_compatible=args.version_compatible,
                        hardware_compatibility=args.hardware_compatibility,
                        compute_capabilities=list(args.compute_capability), strongly_typed=args.strongly_typed,
                        mark_all=args.mark == "all", debug_unfused=args.mark == "debug-unfused")


def check_outputs(args) -> None:
    """Refuse -o (and the provenance file beside it) when it is a folder, unwritable or the input model, before
    any work."""
    from trtlab.rundir import check_output_path
    from trtlab.trt.provenance import path_for

    if args.output:
        check_output_path(args.output, inputs=(args.model,), flag="-o")
        check_output_path(path_for(args.output), inputs=(args.model,), flag="-o (its provenance file)")


def run(args) -> int:
    from trtlab.cli.common import command_argv, load_model_arg, write_report_if
    from trtlab.cli.engine_files import build_to_files, failed_result
    from trtlab.rundir import environment, fresh_run_dir, write_results
    from trtlab.trt import module
    from trtlab.trt.build import BuildFailure
    from trtlab.trt.contain import TrtCrash
    from trtlab.ui import print_json, progress

    check_outputs(args)
    opts = options_from(args)
    trt = module.load(args.trt_module)
    failure = None
    with fresh_run_dir(args.out, "build", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)
        engine_path = Path(args.output) if args.output else run_dir / "model.engine"
        try:
            with progress(args.quiet or args.json) as bar:
                result = build_to_files(trt, model, opts, engine_path, bar, args.triton_repo, args.triton_name)
        except (BuildFailure, TrtCrash) as exc:  # refused or crashed: keep the run (results.json, report), no engine
            failure, result = exc, failed_result(trt, model, opts, exc)
        result.argv = command_argv(args)
        result.environment = environment()
        write_results(run_dir, result)
    report = write_report_if(args.report, run_dir)
    if args.json:
        print_json(result)
    elif failure is None:
        print_build(result, run_dir)
    if failure is not None:  # still the one-line error and exit 1, naming where the details went
        failure.note = f"details in {run_dir / 'results.json'}" + (f" and {report}" if report else "")
        raise failure
    return 0


def print_build(result, run_dir: Path) -> None:
    from trtlab.ui import fmt_num, out, warn

    for w in result.warnings:
        warn(w)
    mod = f"{result.module['name']} {result.module['version']}"
    eng = result.engine
    out.print(f"built {eng['path']} ({eng['bytes'] / 2**20:.2f} MiB) with {mod}: "
              f"parse {fmt_num(result.timing['parse_s'])} s, "
              f"build {fmt_num(result.timing['build_s'])} s", markup=False)
    io = result.provenance["bindings"]
    for kind in ("inputs", "outputs"):
        for t in io[kind]:
            out.print(f"  {kind[:-1]:6} {t['name']}: {t['dtype']} {t['shape']}", markup=False)
    for k, prof in enumerate(result.profiles):
        shapes = "; ".join(f"{n} {'x'.join(map(str, s['min']))} .. {'x'.join(map(str, s['opt']))} .. "
                           f"{'x'.join(map(str, s['max']))}" for n, s in prof.items())
        out.print(f"  profile {k}: {shapes}", markup=False)
    out.print(f"  layers: {result.layers['count']} ({result.layers['source']})", markup=False)
    out.print(f"provenance: {eng['provenance']}", markup=False)
    if result.triton:
        out.print(f"triton model: {result.triton}", markup=False)
    out.print(f"run: {run_dir}", markup=False)
