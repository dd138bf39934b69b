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
    return spec


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
        result = run_sweep(spec, sweep_dir, executor, resume=args.resume, on_event=events, argv=command_argv(args))
    report = write_report_if(args.report, sweep_dir)
    if args.json:
        print_json(result.to_json())
    else:
        print_summary(result, report)
    return EXIT_OK if result.passed else EXIT_MISMATCH
