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
    from trtlab.ui import out, print_json

    result = run_doctor(args.work, args.trt_module)
    if args.json:
        print_json(result)
    else:
        for c in result.checks:
            needed = c.name in NEEDS[args.work]
            mark = "[green]ok[/]  " if c.ok else ("[red]MISSING[/]" if needed else "[yellow]absent[/] ")
            out.print(f"{mark} {escape(c.name):22} {escape(c.value)}", markup=True)
            if c.hint and not c.ok:
                out.print(f"         hint: {escape(c.hint)}", markup=True)
        verdict = "[green]ready[/]" if result.ready else f"[red]not ready[/] (missing: {', '.join(result.missing)})"
        out.print(f"for {args.work}: {verdict}", markup=True)
    return 0 if result.ready else 3
