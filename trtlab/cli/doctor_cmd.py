"""``trtlab doctor``: is this machine ready to check, build, run or compare, and if not, what to install."""

from __future__ import annotations

HELP = "check the installation (onnx, onnxruntime, TensorRT, CUDA, GPU) and say what to install for the work asked"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg
    from trtlab.trt.doctor import NEEDS

    p.add_argument("--for", dest="work", choices=tuple(NEEDS), default="build",
                   help="the work to be ready for; exit 0 when all it needs is present (default: build)")
    add_module_arg(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args) -> int:
    from rich.markup import escape

    from trtlab.trt.doctor import NEEDS, run_doctor
    from trtlab.ui import out, print_json, wrap

    result = run_doctor(args.work, args.trt_module)
    if args.json:
        print_json(result)
    else:
        for c in result.checks:
            needed = c.name in NEEDS[args.work]
            mark = "[green]ok[/]     " if c.ok else ("[red]MISSING[/]" if needed else "[yellow]absent[/] ")
            pad = " " * 31  # mark (7), name (22), spaces: a long value wraps under itself
            value = wrap(c.value, out.width, indent=pad, first=pad)[len(pad):]
            out.print(f"{mark} {escape(c.name):22} {escape(value)}", markup=True, soft_wrap=True)
            if c.hint and not c.ok:
                out.print(escape(wrap(f"hint: {c.hint}", out.width, indent=" " * 14, first=" " * 8)), markup=True,
                          soft_wrap=True)
        verdict = "[green]ready[/]" if result.ready else f"[red]not ready[/] (missing: {', '.join(result.missing)})"
        out.print(f"for {args.work}: {verdict}", markup=True)
        if args.work == "compare" and not result.ready:
            works, not_here = compare_targets(result)
            out.print("compare targets that work here: " + (", ".join(works) or "none"), markup=False)
            if not_here:
                out.print("not here: " + "; ".join(not_here), markup=False)
    return 0 if result.ready else 3


def compare_targets(result) -> tuple[list[str], list[str]]:
    """For ``--for compare`` on a machine that is not ready for TensorRT targets: the --target specs that do work
    here, and the ones that do not with why."""
    ok = {c.name: c.ok for c in result.checks}
    works, not_here = [], []
    if ok.get("onnxruntime", False):
        works += ["onnxrt (CPU)", "onnxrt:fp16 (FP16 simulated on the CPU)", "onnxrt:bf16",
                  "hybrid:DIR (TensorRT segments run on onnxrt, said so)"]
    else:
        not_here.append("onnxrt: onnxruntime is not installed (pip install onnxruntime)")
    missing = ", ".join(result.missing)
    not_here.append(f"trt, trt:fp16: need a GPU TensorRT can execute on (missing: {missing})")
    return works, not_here
