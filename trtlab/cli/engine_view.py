"""Printing an engine summary (``trtlab inspect model.engine``) and an engine diff (``trtlab diff``)."""

from __future__ import annotations

from collections import Counter


def _mib(n) -> str:
    return f"{n / 2**20:.2f} MiB" if isinstance(n, int) else "-"


def print_engine(info: dict) -> None:
    from rich.table import Table

    from trtlab.ui import out

    built, gpu = info.get("built_with") or {}, info.get("gpu")
    out.print(f"[bold]{info['engine']['path']}[/]: a TensorRT engine ({_mib(info['engine']['bytes'])}), built by "
              f"{built.get('name', '?')} {built.get('version', '?')}")
    prov = info.get("provenance") or {}
    precision = (prov.get("options") or {}).get("precision")
    if precision:
        frac = prov.get("half_fraction")
        out.print(f"precision {precision}" + (f", {frac:.0%} of float compute nodes converted"
                                              if isinstance(frac, (int, float)) else ""))
    out.print("GPU: " + (f"{gpu.get('name')} (compute {gpu.get('compute_capability')})" if gpu
                         else "none recorded (built without a GPU: TensorRT for RTX compiles on first load)"))
    if info["source"] == "sidecar":
        out.print(f"[yellow]source: sidecar[/] - {info['source_note']}")
    else:
        out.print("source: engine inspector")
    io = Table(title=f"inputs and outputs ({info.get('profiles')} profile(s))", title_justify="left")
    for col in ("", "name", "dtype", "shape"):
        io.add_column(col)
    for t in info["io"]:
        io.add_row(t.get("mode", ""), t["name"], str(t.get("dtype")), str(t.get("shape")))
    out.print(io)
    layers = info["layers"]
    kinds = Counter(x.get("type") or "?" for x in layers)
    out.print(f"{len(layers)} layers: " + ", ".join(f"{k} x{v}" for k, v in kinds.most_common(8)))
    fused = [x for x in layers if len(x.get("onnx_nodes") or []) > 1]
    if fused:
        out.print(f"{len(fused)} layers fuse several ONNX nodes, e.g. {fused[0]['name']}: "
                  + ", ".join(fused[0]["onnx_nodes"][:4]))
    weights = info.get("weights_bytes")
    out.print(f"weights: {_mib(weights)}" + (" (ONNX initializers, from the sidecar)" if info["source"] == "sidecar"
                                              else ""))


def print_diff(d: dict, a: str, b: str) -> None:
    from trtlab.ui import out

    out.print(f"[bold]a[/] {a}\n[bold]b[/] {b}")
    if d["identical"]:
        out.print("[green]identical engines[/]")
        return
    out.print(f"layers: {d['layers']['a']} -> {d['layers']['b']} ({d['sources']['a']} / {d['sources']['b']})")
    for label, key in (("added", "added"), ("removed", "removed")):
        if d[key]:
            out.print(f"{label} ({len(d[key])}): " + ", ".join(d[key][:8]) + (" ..." if len(d[key]) > 8 else ""))
    for f in d["fused_differently"][:8]:
        out.print(f"fused differently: {f['onnx_node']}: a {'+'.join(f['a'])} / b {'+'.join(f['b'])}")
    for p in d["precision_changes"][:8]:
        out.print(f"precision: {p['layer']}: {p['a']} -> {p['b']}")
    for p in d["provenance_changes"]:
        out.print(f"provenance: {p['field']}: {p['a']} -> {p['b']}")
    if d["time_changes"] is None:
        out.print("[dim]per-layer times: not in both engines' records[/]")
