"""What ``trtlab surgeon`` does once its arguments are parsed: options from the flags, the run
(``trtlab.surgery.session``), and the view."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import command_argv, input_options
from trtlab.errors import EXIT_MISMATCH, EXIT_OK


def surgeon_options(args):
    from trtlab.surgery.session import SurgeonOptions

    return SurgeonOptions(verify=args.verify, atol=args.atol, rtol=args.rtol, external_data=args.external_data,
                          dump_after=list(args.dump_after or []), inputs=input_options(args))


def execute(args, loaded, steps, run_dir: Path, target: Path) -> int:
    from trtlab.rundir import RESULTS
    from trtlab.surgery.session import run_surgeon

    result = run_surgeon(loaded, steps, run_dir, target, surgeon_options(args), argv=command_argv(args),
                         quiet=args.quiet or args.json)
    if args.json:
        import json

        from trtlab.ui import print_json

        print_json(json.loads((run_dir / RESULTS).read_text()))
    else:
        from trtlab.cli.surgeon_view import print_result

        print_result(result, run_dir)
    return EXIT_OK if result.passed else EXIT_MISMATCH
