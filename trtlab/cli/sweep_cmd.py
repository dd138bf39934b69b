"""``trtlab sweep``: run trtlab commands over many models and configurations, resumably, locally or on Ray."""

from __future__ import annotations

import argparse

HELP = "run trtlab commands over a model zoo x a configuration matrix (journal, --resume, local pool or Ray)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("items", nargs="+", metavar="SPEC.yaml|MODEL",
                   help="a sweep spec (YAML), or models (paths, globs, example:NAME) with --task")
    p.add_argument("--task", action="append", metavar="CMD",
                   help='a trtlab command without the model, e.g. "compare --target onnxrt:fp16" (repeatable)')
    p.add_argument("--axis", action="append", metavar="NAME=V1,V2",
                   help="values crossed with every task that names {NAME} (repeatable)")
    p.add_argument("--out", metavar="SWEEP_DIR", help="sweep directory (default: a new folder under ./trtlab-runs/)")
    p.add_argument("--resume", action="store_true", help="finish a sweep: skip cells already in its journal")
    p.add_argument("--jobs", "-j", type=int, default=None, help="cells at a time (default: the number of cores)")
    p.add_argument("--executor", default="local", metavar="local|ray|ray://HOST:PORT",
                   help="local process pool (default), a local Ray instance, or a Ray cluster")
    p.add_argument("--address", metavar="ADDR", help="join a running Ray cluster (e.g. auto) with --executor ray")
    p.add_argument("--retries", type=int, default=0, help="retries for infrastructure failures, never verdicts")
    p.add_argument("--timeout", type=float, default=None, help="seconds per cell (default: the spec's, else 3600)")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                   help="write report.html into the sweep directory (default on)")
    p.add_argument("--json", action="store_true", help="print sweep.json to stdout instead of tables")


def _spec(args):
    from pathlib import Path

    from trtlab.errors import TrtlabError
    from trtlab.sweep.spec import Spec, load_spec, parse_task, resolve_models

    first = args.items[0]
    if first.endswith((".yaml", ".yml")):
        if len(args.items) > 1 or args.task:
            raise TrtlabError("trtlab sweep", "give a spec or models with --task, not both",
                              "put models and tasks in the spec")
        spec = load_spec(first)
    else:
        if not args.task:
            raise TrtlabError("trtlab sweep", "no --task given", 'e.g. --task "compare --target onnxrt:fp16"')
        spec = Spec(resolve_models(args.items, Path.cwd()), [parse_task(t, "--task") for t in args.task])
    for text in args.axis or []:
        name, _, values = text.partition("=")
        if not name or not values:
            raise TrtlabError(f"--axis {text}", "expected NAME=V1,V2", "e.g. --axis target=onnxrt:fp16,onnxrt:bf16")
        spec.axes[name] = values.split(",")
    if args.timeout is not None:
        spec.timeout = args.timeout
    _check_tasks(spec)
    return spec


def _resume_command(args, sweep_dir) -> str:
    """The command that finishes this sweep: the same items, tasks, axes and timeout, its directory, --resume."""
    import shlex

    words = ["trtlab", "sweep", *args.items]
    words += [w for t in args.task or [] for w in ("--task", t)]
    words += [w for a in args.axis or [] for w in ("--axis", a)]
    words += ["--timeout", f"{args.timeout:g}"] if args.timeout is not None else []
    words += ["--executor", args.executor] if args.executor != "local" else []
    return " ".join(shlex.quote(str(w)) for w in [*words, "--out", sweep_dir, "--resume"])


def _check_tasks(spec) -> None:
    """Parse every task command (axes filled in) as trtlab itself will, before any cell runs: a typo in a flag is
    one error now, not the same error in every cell of the sweep."""
    from trtlab.cli.main import build_parser
    from trtlab.errors import TrtlabError

    parser, seen = build_parser(), set()
    for cell in spec.cells():
        if tuple(cell.argv) in seen:
            continue
        seen.add(tuple(cell.argv))
        task = " ".join(a for a in cell.argv if a not in ("{model}", "{run_dir}"))
        if {"-h", "--help", "--version"} & set(cell.argv):
            raise TrtlabError(f"task '{task}'", "asks for help, not for work", "remove -h/--help/--version")
        argv = [a.replace("{model}", "model.onnx").replace("{run_dir}", "run") for a in cell.argv]
        try:
            parser.parse_args(argv)
        except TrtlabError as exc:
            raise TrtlabError(f"task '{task}'", exc.problem, exc.hint) from None


def run(args) -> int:
    import os
    from pathlib import Path

    from trtlab.cli.common import command_argv, write_report_if
    from trtlab.errors import EXIT_MISMATCH, EXIT_OK, TrtlabError
    from trtlab.rundir import new_run_dir
    from trtlab.sweep.executors import make_executor
    from trtlab.sweep.runner import run_sweep
    from trtlab.ui import print_json

    spec = _spec(args)
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1 or args.retries < 0:
        raise TrtlabError("--jobs/--retries", "must be at least 1 / 0", "e.g. --jobs 2 --retries 1")
    sweep_dir = Path(args.out) if args.out else new_run_dir("sweep", Path(args.items[0]).stem)
    executor = make_executor(args.executor, sweep_dir, jobs, spec.timeout, args.retries, args.address)
    from trtlab.cli.sweep_view import Events, print_summary

    with Events(quiet=args.quiet or args.json) as events:
        try:
            result = run_sweep(spec, sweep_dir, executor, resume=args.resume, on_event=events,
                               argv=command_argv(args))
        except KeyboardInterrupt:
            raise TrtlabError(str(sweep_dir), "interrupted; finished cells are in its journal",
                              f"finish it with `{_resume_command(args, sweep_dir)}`", code=130) from None
    report = write_report_if(args.report, sweep_dir)
    if args.json:
        print_json(result.to_json())
    else:
        print_summary(result, report)
    return EXIT_OK if result.passed else EXIT_MISMATCH
