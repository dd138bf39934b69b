"""``trtlab`` entry point: parse, dispatch, and turn every user-facing error into one line and an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

from trtlab import __version__
from trtlab.errors import EXIT_INTERNAL, EXIT_USAGE, TrtlabError

# subcommand -> module with HELP, add_arguments(parser) and run(args) -> int. Literal on purpose.
COMMANDS: dict[str, str] = {
    "inspect": "trtlab.cli.inspect_cmd",
    "compare": "trtlab.cli.compare_cmd",
    "example": "trtlab.cli.example_cmd",
    "surgeon": "trtlab.cli.surgeon_cmd",
    "doctor": "trtlab.cli.doctor_cmd",
    "check": "trtlab.cli.check_cmd",
    "build": "trtlab.cli.build_cmd",
    "run": "trtlab.cli.run_cmd",
    "report": "trtlab.cli.report_cmd",
    "debug": "trtlab.cli.debug_cmd",
    "diff": "trtlab.cli.diff_cmd",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise TrtlabError(f"trtlab {self.prog.split(' ', 1)[-1]}" if " " in self.prog else "trtlab", message,
                          f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trtlab", description="Get ONNX models onto TensorRT, and find out why a conversion "
                     "fails or loses accuracy.")
    parser.add_argument("--version", action="version", version=f"trtlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and debug detail")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress display")
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in argv or "-v" in argv
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "_module", None):
            build_parser().print_help()
            return EXIT_USAGE
        args._argv = ["trtlab", *argv]  # what results.json records as argv (never the host's sys.argv)
        return int(args._module.run(args) or 0)
    except TrtlabError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {exc.format()}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("error: trtlab | interrupted\n")
        return 130
    except Exception as exc:  # a bug: say so in one line, trace on --verbose
        if verbose:
            raise
        text = " ".join(str(exc).split())[:300]
        sys.stderr.write(f"error: trtlab | internal error: {type(exc).__name__}: {text}. "
                         "Hint: rerun with --verbose and report the traceback\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
