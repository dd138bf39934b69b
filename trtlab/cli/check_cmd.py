"""``trtlab check MODEL``: can TensorRT's ONNX parser take this model, and if not, which nodes and why."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import add_model_arg, add_report_arg

HELP = "parse a model with TensorRT's ONNX parser and explain every node it refuses (exit 0 parseable, 1 not)"


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg

    add_model_arg(p)
    add_module_arg(p)
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    add_report_arg(p, default=False)
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead of tables")


def run(args) -> int:
    from trtlab.cli.common import command_argv, load_model_arg, write_report_if
    from trtlab.rundir import environment, fresh_run_dir, write_results
    from trtlab.trt import module
    from trtlab.trt.check import run_check
    from trtlab.trt.contain import TrtCrash
    from trtlab.ui import print_json

    trt = module.load(args.trt_module)
    crash = None
    with fresh_run_dir(args.out, "check", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)
        try:
            result = run_check(trt, model)
        except TrtCrash as exc:  # keep the run: results.json says what happened
            crash, result = exc, crashed_result(trt, model, exc)
        result.argv = command_argv(args)
        result.environment = environment()
        write_results(run_dir, result)
    write_report_if(args.report, run_dir)
    if crash is not None:
        crash.note = f"details in {run_dir / 'results.json'}"
        raise crash
    if args.json:
        print_json(result)
    else:
        print_check(result, run_dir)
    return 0 if result.parseable else 1


def crashed_result(trt, model, exc):
    """results.json for a parse that crashed TensorRT: not parseable, the crash as the model's error."""
    from trtlab.model import model_summary
    from trtlab.trt.check import SCHEMA, CheckResult

    return CheckResult(schema=SCHEMA, command="check", argv=[], model=model_summary(model), module=trt.summary(),
                       parseable=False, passed=False, nodes=[], partitions=[],
                       errors=[{"message": exc.problem, "hint": exc.hint, "signal": exc.signal}],
                       warnings=list(model.warnings))


def print_check(result, run_dir: Path) -> None:
    from rich.markup import escape

    from trtlab.ui import out, warn

    mod = f"{result.module['name']} {result.module['version']}"
    name = result.model.get("name")
    for w in result.warnings:
        warn(w)
    if result.parseable:
        out.print(f"[green]parseable[/]: {escape(name)} ({len(result.nodes)} nodes) parses with {mod} "
                  f"in {result.timing['parse_s']:.3f} s", markup=True)
    else:
        failing = result.failing
        out.print(f"[red]not parseable[/]: {escape(name)}: {len(failing)} of {len(result.nodes)} "
                  f"nodes refused by {mod}",
                  markup=True)
        if failing:
            out.print(_refused_table(failing))
        for err in result.errors:
            out.print(f"model: {escape(err['message'])}\n  hint: {escape(err['hint'])}", markup=True)
        if result.partitions:
            out.print(ranges_line(result), markup=False)
    out.print(f"run: {run_dir}", markup=False)


GROUP_ABOVE = 8  # more refused nodes than this: one row per op type


def _refused_table(failing):
    """One row per refused node, or, for many, one per op type (count, example nodes, the first message)."""
    from rich.markup import escape
    from rich.table import Table

    if len(failing) <= GROUP_ABOVE:
        table = Table("#", "node", "op", "domain", "parser message", "hint", show_lines=True)
        for n in failing:
            label = n.name + (f"\n(in {n.where})" if n.where else "")
            table.add_row(str(n.index), escape(label), escape(n.op), escape(n.domain or "ai.onnx"),
                          escape(n.error or ""), escape(n.hint or ""))
        return table
    groups: dict[tuple[str, str], list] = {}
    for n in failing:
        groups.setdefault((n.op, n.domain or "ai.onnx"), []).append(n)
    table = Table("op", "refused", "nodes (first 3)", "parser message (first)", "hint", show_lines=True)
    for (op, domain), nodes in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        label = op if domain == "ai.onnx" else f"{domain}::{op}"
        names = ", ".join(n.name for n in nodes[:3]) + (", ..." if len(nodes) > 3 else "")
        table.add_row(escape(label), str(len(nodes)), escape(names), escape(nodes[0].error or ""),
                      escape(nodes[0].hint or ""))
    return table


def ranges_line(result, limit: int = 8) -> str:
    """The capability ranges, summarised so they agree with the node counts: how many nodes are refused, how many
    the rest could run in TensorRT (what isolation builds), and the first few ranges."""
    refused = len(result.failing)
    total = len(result.nodes)
    sup = [p for p in result.partitions if p["supported"]]
    covered = sum(p["nodes"][1] - p["nodes"][0] + 1 for p in sup)
    head = ", ".join(f"{p['nodes'][0]}-{p['nodes'][1]} {'supported' if p['supported'] else 'unsupported'}"
                     for p in result.partitions[:limit])
    more = f", ... ({len(result.partitions) - limit} more)" if len(result.partitions) > limit else ""
    return (f"{refused} of {total} nodes refused; the other {total - refused} can run in TensorRT around them "
            f"(`trtlab surgeon MODEL --isolate-unsupported -o DIR` builds the segments). Parser capability query: "
            f"{len(result.partitions)} node range(s), {len(sup)} judged supported on their own ({covered} nodes): "
            f"{head}{more}")
