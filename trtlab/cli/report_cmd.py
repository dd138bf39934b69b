"""``trtlab report RUN_DIR``: rebuild a run's self-contained HTML report from its saved JSON and npz files."""

from __future__ import annotations

HELP = "rebuild report.html for a saved run directory (no model, backend or GPU needed)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a run directory written by a trtlab command (holds results.json)")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the report (default RUN_DIR/report.html)")
    p.add_argument("--json", action="store_true", help="print {report, schema, bytes} as JSON")


def run(args) -> int:
    from pathlib import Path

    from trtlab.errors import TrtlabError
    from trtlab.reports import report_path, write_report
    from trtlab.rundir import read_results
    from trtlab.ui import out, print_json

    if args.output and Path(args.output).is_dir():
        raise TrtlabError(args.output, "is a folder", "pass a file name for -o, e.g. -o report.html")
    report_path(args.run_dir, args.output)  # refused before any rendering: never over the run's own files
    path = write_report(args.run_dir, args.output)
    schema = read_results(args.run_dir).get("schema")
    size = path.stat().st_size
    if args.json:
        print_json({"report": str(path), "schema": schema, "bytes": size})
    else:
        out.print(f"report: {path} ({size / 1024:.0f} KiB, {schema})", markup=False)
    return 0
