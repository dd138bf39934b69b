"""``trtlab example``: write a bundled example model to a file."""

from __future__ import annotations

HELP = "write a bundled example model (built in code with seeded weights) to an .onnx file"


def add_arguments(p) -> None:
    p.add_argument("name", nargs="?", help="example name (see --list)")
    p.add_argument("-o", "--output", help="where to write it (default NAME.onnx)")
    p.add_argument("--list", action="store_true", help="list the examples")


def run(args) -> int:
    from trtlab.errors import TrtlabError
    from trtlab.examples import EXAMPLES, build_example
    from trtlab.model import save_model
    from trtlab.ui import out

    if args.list or not args.name:
        for name, fn in EXAMPLES.items():
            out.print(f"{name:12s} {fn.__doc__.strip().splitlines()[0]}")
        return 0
    if args.name not in EXAMPLES:
        raise TrtlabError(f"example {args.name}", "no such example", f"choose one of: {', '.join(EXAMPLES)}")
    path = save_model(build_example(args.name), args.output or f"{args.name}.onnx")
    out.print(f"wrote {path}")
    return 0
