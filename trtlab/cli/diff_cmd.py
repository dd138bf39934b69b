"""``trtlab diff A B``: how two TensorRT engines differ (engine files, or run directories of `trtlab build`)."""

from __future__ import annotations

from pathlib import Path

HELP = "compare two TensorRT engines: layers added/removed/fused differently, precision, provenance (version, GPU)"
SCHEMA = "trtlab.diff/1"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg, add_report_arg

    p.add_argument("a", help="baseline: a .engine/.plan file or a `trtlab build` run directory")
    p.add_argument("b", help="the other engine, likewise")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    add_report_arg(p, default=True)
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    add_module_arg(p)


def engine_path(arg: str) -> Path:
    """An engine file, or the engine a `trtlab build` run directory names in its results.json."""
    from trtlab.errors import TrtlabError

    path = Path(arg)
    if path.is_dir():
        from trtlab.rundir import read_results

        res = read_results(path)
        engine = (res.get("engine") or {}).get("path") if isinstance(res, dict) else None
        if not engine or not str(res.get("schema", "")).startswith("trtlab.build/"):
            raise TrtlabError(arg, "is not the run directory of a successful `trtlab build`",
                              "pass the .engine file, or a run directory written by `trtlab build`")
        return Path(engine)
    if not path.is_file():
        raise TrtlabError(arg, "no such engine file or run directory", "pass a .engine/.plan or a build run dir")
    return path


def run(args) -> int:
    from trtlab.cli.common import command_argv, write_report_if
    from trtlab.cli.engine_view import print_diff
    from trtlab.rundir import fresh_run_dir, write_results
    from trtlab.trt.engine_info import describe, diff
    from trtlab.ui import print_json

    module = getattr(args, "trt_module", None)
    pa, pb = engine_path(args.a), engine_path(args.b)
    a, b = describe(pa, module), describe(pb, module)
    result = {"schema": SCHEMA, "command": "diff", "argv": command_argv(args), "a": a, "b": b, "diff": diff(a, b)}
    result["passed"] = result["diff"]["identical"]
    with fresh_run_dir(args.out, "diff", str(pb)) as run_dir:
        write_results(run_dir, result)
    write_report_if(args.report, run_dir)
    if args.json:
        print_json(result)
    else:
        print_diff(result["diff"], str(pa), str(pb))
        from trtlab.ui import out

        out.print(f"run directory: {run_dir}" + (f"  report: {run_dir / 'report.html'}"
                                                if (run_dir / "report.html").exists() else ""))
    return 0 if result["diff"]["identical"] else 1
