"""``trtlab inspect MODEL``: what is in a model."""

from __future__ import annotations

from trtlab.cli.common import add_model_arg

HELP = "summarise an ONNX model: inputs/outputs, opsets, op counts, weights, dynamic dims, custom ops"


def add_arguments(p) -> None:
    add_model_arg(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from trtlab import api
    from trtlab.ui import print_json

    summary = api.inspect(args.model).to_json()
    if args.json:
        print_json(summary)
    else:
        _print(summary)
    return 0


def _shape(shape) -> str:
    if shape is None:
        return "(unknown rank)"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _print(s: dict) -> None:
    from rich.table import Table

    from trtlab.ui import out, warn

    for w in s["warnings"]:
        warn(w)
    out.print(f"[bold]{s['model']}[/]  producer: {s['producer'] or '-'}  IR {s['ir_version']}  opsets: "
              + ", ".join(f"{d} {v}" for d, v in s["opsets"].items()))
    io = Table(title="inputs and outputs", title_justify="left")
    for col in ("", "name", "dtype", "shape"):
        io.add_column(col)
    for kind in ("inputs", "outputs"):
        for t in s[kind]:
            io.add_row(kind[:-1], t["name"], t["dtype"], _shape(t["shape"]))
    out.print(io)
    ops = Table(title=f"{s['nodes']} nodes ({s['nodes_in_subgraphs']} inside subgraphs)", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    ops.add_column("in subgraphs", justify="right")
    for op, n in s["op_counts"].items():
        ops.add_row(op, str(n), str(s["op_counts_in_subgraphs"].get(op, "")))
    out.print(ops)
    init = s["initializers"]
    out.print(f"initializers: {init['count']} ({init['bytes'] / 2**20:.2f} MiB"
              + (f", {init['external_bytes'] / 2**20:.2f} MiB external)" if init["external_bytes"] else ")"))
    const = s["constant_nodes"]
    if const["count"]:
        out.print(f"weights in Constant nodes: {const['count']} ({const['bytes'] / 2**20:.2f} MiB); "
                  "`trtlab surgeon --fold-constants` turns them into initializers")
    if s["dynamic_dims"]:
        out.print("dynamic dims: " + ", ".join(f"{d['tensor']}[{d['axis']}]={d['dim'] or '?'}"
                                              for d in s["dynamic_dims"]))
    if s["custom_ops"]:
        out.print("[yellow]custom-domain ops:[/] " + ", ".join(f"{k} x{v}" for k, v in s["custom_ops"].items()))
    if s["domains_without_opset_import"]:
        out.print("[yellow]domains used without an opset import:[/] " + ", ".join(s["domains_without_opset_import"]))
    if s["functions"]:
        out.print("local functions: " + ", ".join(s["functions"]))
