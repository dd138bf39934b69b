"""``trtlab`` entry point: parse, dispatch, and turn every user-facing error into one line and an exit code."""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
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
    "sweep": "trtlab.cli.sweep_cmd",
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


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C so every temp file and half-made run directory is removed."""


_received: list[int] = []  # signals seen by this command's handlers


def _on_sigterm(signum, frame):
    _received.append(signum)
    raise Terminated()


def _on_sigint(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt()


# OS errors that describe the machine or the paths given (disk full, read-only, ...), never a trtlab bug
_ENV_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.EFBIG,
               errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST, errno.ELOOP, errno.EMFILE, errno.EIO,
               errno.ENXIO, errno.ENODEV}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    previous = {}
    del _received[:]
    try:
        for sig, handler in ((signal.SIGTERM, _on_sigterm), (signal.SIGINT, _on_sigint)):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # arrived between installing the handler and _main's own try
        code = 130
    except Terminated:
        code = 128 + signal.SIGTERM
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if _received and code not in (130, 128 + signal.SIGTERM):
        # The exception was raised where Python drops it (a finalizer, a callback): the work finished, whole,
        # but the user asked to stop, and the exit status says so.
        sig = _received[0]
        _error(f"trtlab | {'interrupted' if sig == signal.SIGINT else 'terminated (SIGTERM)'} "
                         "after the work had finished; its outputs are complete")
        code = 130 if sig == signal.SIGINT else 128 + signal.SIGTERM
    return code


def _error(message: str) -> None:
    """Print ``error: <message>``. On a terminal it wraps to its width with continuation indent; piped (a script,
    a log, ``2>&1 | grep``), it stays one line, the one logical message that callers parse."""
    if sys.stderr.isatty():
        from trtlab.ui import width, wrap

        message = wrap(message, width(), indent="  ", first="error: ")[len("error: "):]
    sys.stderr.write(f"error: {message.rstrip(chr(10))}\n")


def _main(argv: list[str]) -> int:
    verbose = "--verbose" in argv or "-v" in argv
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "_module", None):
            build_parser().print_help()
            return EXIT_USAGE
        args._argv = ["trtlab", *argv]  # what results.json records as argv (never the host's sys.argv)
        from trtlab.cli.paths import check_command_paths

        check_command_paths(args)  # every output against every input, before any work
        return int(args._module.run(args) or 0)
    except TrtlabError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        _error(exc.format())
        return exc.code
    except KeyboardInterrupt:
        _error("trtlab | interrupted")
        return 130
    except Terminated:
        _error("trtlab | terminated (SIGTERM); nothing partial was left")
        return 128 + signal.SIGTERM
    except Exception as exc:  # a bug: say so in one line, trace on --verbose
        if verbose:
            raise
        if isinstance(exc, MemoryError):
            _error("trtlab | ran out of memory. Hint: use --input-shapes for smaller inputs, or "
                             "a machine with more memory")
            return EXIT_USAGE
        if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:  # the machine or the path, not a bug
            _error(f"{exc.filename or 'trtlab'} | {exc.strerror or exc}. Hint: free disk space, "
                             "or choose another location")
            return EXIT_USAGE
        text = " ".join(str(exc).split())[:300]
        _error(f"trtlab | internal error: {type(exc).__name__}: {text}. "
                         "Hint: rerun with --verbose and report the traceback")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
