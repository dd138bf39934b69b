"""``trtlab inspect MODEL``: what is in a model."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import add_model_arg

HELP = ("summarise an ONNX model (inputs/outputs, opsets, op counts, weights, dynamic dims, custom ops) or a "
        "TensorRT engine (.engine/.plan: version, GPU, I/O, profiles, layers)")


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg

    add_model_arg(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_module_arg(p)


def run(args) -> int:
    from trtlab import api
    from trtlab.trt.engine_info import is_engine_path
    from trtlab.ui import print_json

    if is_engine_path(args.model):
        from trtlab.cli.engine_view import print_engine
        from trtlab.trt.engine_info import describe

        info = describe(args.model, getattr(args, "trt_module", None))
        print_json(info) if args.json else print_engine(info)
        return 0

    summary = api.inspect(args.model).to_json()
    if args.json:
        print_json(summary)
    else:
        _print(summary)
    return 0


ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def _engine(path: Path, as_json: bool) -> int:
    """A serialized TensorRT engine: say so, and show the provenance trtlab wrote beside it (model.engine.json)."""
    from trtlab.trt import provenance
    from trtlab.ui import out, print_json

    data = provenance.read(path)
    summary = {"schema": "trtlab.inspect-engine/1", "engine": str(path), "bytes": path.stat().st_size,
               "provenance": data}
    if as_json:
        print_json(summary)
        return 0
    out.print(f"{path}: a TensorRT engine ({path.stat().st_size / 2**20:.2f} MiB), not an ONNX model", markup=False)
    if data is None:
        out.print(f"no provenance ({provenance.path_for(path).name}) beside it: built outside trtlab, so its "
                  "TensorRT version, options and source model are unknown", markup=False)
        return 0
    mod, onnx_info, opts = data.get("module") or {}, data.get("onnx") or {}, data.get("options") or {}
    lines = [f"built by {mod.get('name', '?')} {mod.get('version', '?')} at {data.get('built_at', '?')} "
             f"in {data.get('build_s', '?')} s" + (f" on {data['gpu']}" if data.get("gpu") else " (no GPU)"),
             f"from {onnx_info.get('path') or onnx_info.get('name')} (sha256 {str(onnx_info.get('sha256'))[:16]}...)",
             f"precision {opts.get('precision', '?')}" + (f", {data['half_fraction']:.0%} of float compute nodes "
                                                          "converted" if data.get("half_fraction") is not None else "")]
    for kind in ("inputs", "outputs"):
        for b in (data.get("bindings") or {}).get(kind, []):
            lines.append(f"{kind[:-1]} {b.get('name')} {b.get('dtype', '')} {b.get('shape', '')}")
    for prof in data.get("profiles") or []:
        lines.append(f"profile {prof}")
    for line in lines:
        out.print(line, markup=False)
    return 0


def _shape(shape) -> str:
    if shape is None:
        return "(unknown rank)"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _print(s: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from trtlab.ui import out, warn

    for w in s["warnings"]:
        warn(w)
    out.print(f"[bold]{escape(s['model'])}[/]  producer: {escape(s['producer'] or '-')}  IR {s['ir_version']}  opsets: "
              + ", ".join(f"{d} {v}" for d, v in s["opsets"].items()))
    io = Table(title="inputs and outputs", title_justify="left")
    for col in ("", "name", "dtype", "shape"):
        io.add_column(col)
    for kind in ("inputs", "outputs"):
        for t in s[kind]:
            io.add_row(kind[:-1], escape(t["name"]), escape(str(t["dtype"])), escape(_shape(t["shape"])))
    out.print(io)
    ops = Table(title=f"{s['nodes']} nodes ({s['nodes_in_subgraphs']} inside subgraphs)", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    ops.add_column("in subgraphs", justify="right")
    for op, n in s["op_counts"].items():
        ops.add_row(escape(op), str(n), str(s["op_counts_in_subgraphs"].get(op, "")))
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
                                              for d in s["dynamic_dims"]), markup=False)
    if s["custom_ops"]:
        out.print("[yellow]custom-domain ops:[/] " + ", ".join(f"{k} x{v}" for k, v in s["custom_ops"].items()))
    if s["domains_without_opset_import"]:
        out.print("[yellow]domains used without an opset import:[/] " + ", ".join(s["domains_without_opset_import"]))
    if s["functions"]:
        out.print("local functions: " + ", ".join(s["functions"]))
