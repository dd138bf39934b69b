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
    from trtlab import api
    from trtlab.cli.common import command_argv
    from trtlab.ui import print_json

    result = api.check(args.model, trt_module=args.trt_module, out=args.out, report=args.report,
                       argv=command_argv(args), quiet=args.json)
    if args.json:
        print_json(result)
    else:
        print_check(result, result.run_dir)
    return 0 if result.parseable else 1


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


def ranges_line(result, limit: int = 6) -> str:
    """What isolating the refused nodes builds (the partition `surgeon --isolate-unsupported` writes: TensorRT
    segments, nodes on the fallback and why), then the capability query's ranges, said to be something else."""
    from trtlab.partition.summary import summary_line

    parts = result.partitions
    sup = sum(p["supported"] for p in parts)
    head = ", ".join(f"{p['nodes'][0]}-{p['nodes'][1]}" for p in parts[:limit])
    more = f", ... ({len(parts) - limit} more)" if len(parts) > limit else ""
    ranges = (f"The parser's capability query gives {len(parts)} node range(s) ({sup} supported as a whole): "
              f"{head}{more}; a range is not a segment.")
    if not result.isolation:
        return f"{len(result.failing)} of {len(result.nodes)} nodes refused. {ranges}"
    return (f"Isolating them (`trtlab surgeon MODEL --isolate-unsupported -o DIR`, --min-segment-size "
            f"{result.isolation['min_segment_size']}) builds {summary_line(result.isolation)}. {ranges}")
