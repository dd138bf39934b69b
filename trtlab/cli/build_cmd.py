"""``trtlab build MODEL -o model.engine``: build a TensorRT engine, with provenance beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from trtlab.cli.common import add_model_arg, add_report_arg
from trtlab.trt.build import PRECISIONS

HELP = "build a TensorRT engine from an ONNX model (writes ENGINE and ENGINE.json provenance)"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg

    add_model_arg(p)
    p.add_argument("-o", "--output", metavar="ENGINE", help="engine file (default: model.engine in the run dir)")
    add_module_arg(p)
    g = p.add_argument_group("precision")
    g.add_argument("--precision", choices=PRECISIONS, default="fp32",
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


def run(args) -> int:
    from trtlab import api
    from trtlab.cli.common import command_argv
    from trtlab.ui import print_json

    result = api.build(args.model, args.output, precision=args.precision, keep_fp32=args.keep_fp32, tf32=args.tf32,
                       strongly_typed=args.strongly_typed, profile=args.profile, workspace=args.workspace,
                       pool_limit=args.pool_limit, opt_level=args.opt_level, timing_cache=args.timing_cache,
                       version_compatible=args.version_compatible,
                       hardware_compatibility=args.hardware_compatibility,
                       compute_capability=args.compute_capability, mark=args.mark, triton_repo=args.triton_repo,
                       triton_name=args.triton_name, trt_module=args.trt_module, out=args.out, report=args.report,
                       quiet=args.quiet or args.json, argv=command_argv(args))
    if args.json:
        print_json(result)
    elif result.error is None:
        print_build(result, result.run_dir)
    if result.error is not None:  # still the one-line error and exit 1, naming where the details went
        failure = result.error
        failure.note = f"details in {result.run_dir / 'results.json'}" + (
            f" and {result.report}" if result.report else "")
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
    frac = result.provenance.get("half_fraction")
    if isinstance(frac, (int, float)):
        precision = (result.provenance.get("options") or {}).get("precision", "half")
        out.print(f"  precision {precision}: {frac:.0%} of float compute nodes in {str(precision).upper()}",
                  markup=False)
    out.print(f"provenance: {eng['provenance']}", markup=False)
    if result.triton:
        out.print(f"triton model: {result.triton}", markup=False)
    out.print(f"run: {run_dir}", markup=False)
