"""``trtlab example``: write a bundled example model to a file."""

from __future__ import annotations

HELP = "write a bundled example model (built in code with seeded weights) to an .onnx file"


def add_arguments(p) -> None:
    p.add_argument("name", nargs="?", help="example name (see --list)")
    p.add_argument("-o", "--output", help="where to write it (default NAME.onnx)")
    p.add_argument("--list", action="store_true", help="list the examples")
    p.add_argument("--json", action="store_true", help="print the list (or the written file) as JSON")


def run(args) -> int:
    from trtlab.errors import TrtlabError
    from trtlab.examples import EXAMPLES, build_example
    from trtlab.model import save_model
    from trtlab.rundir import check_output_path
    from trtlab.ui import out, print_json

    if args.list or not args.name:
        listing = {name: fn.__doc__.strip().splitlines()[0] for name, fn in EXAMPLES.items()}
        if args.json:
            print_json({"examples": listing})
        else:
            for name, doc in listing.items():
                out.print(f"{name:12s} {doc}", markup=False)
        return 0
    if args.name not in EXAMPLES:
        raise TrtlabError(f"example {args.name}", "no such example", f"choose one of: {', '.join(EXAMPLES)}")
    path = save_model(build_example(args.name), check_output_path(args.output or f"{args.name}.onnx"))
    if args.json:
        print_json({"example": args.name, "path": str(path)})
    else:
        out.print(f"wrote {path}", markup=False)
    return 0
