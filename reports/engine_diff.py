"""Report for ``trtlab.diff/1``: two engines side by side (provenance, layers, fusion, precision, times)."""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import badge, big_table, esc, kv, page, table


def _side(info: dict) -> list[tuple[str, object]]:
    built, gpu, engine = info.get("built_with") or {}, info.get("gpu") or {}, info.get("engine") or {}
    return [("engine", engine.get("path")), ("bytes", engine.get("bytes")),
            ("built with", f"{built.get('name', '?')} {built.get('version', '?')}"),
            ("GPU", f"{gpu.get('name')} (compute {gpu.get('compute_capability')})" if gpu else "none recorded"),
            ("layers", len(info.get("layers") or [])), ("source", info.get("source")),
            ("note", info.get("source_note"))]


def render(res: dict, run_dir: Path) -> str:
    d, a, b = res.get("diff") or {}, res.get("a") or {}, res.get("b") or {}
    sections = [("a", "Engine a (baseline)", kv(_side(a))), ("b", "Engine b", kv(_side(b)))]
    prov = d.get("provenance_changes") or []
    sections.append(("provenance", "Provenance differences",
                     table(["field", "a", "b"], [[p["field"], p["a"], p["b"]] for p in prov])
                     if prov else common.note("Same module, version, GPU, options and ONNX model.")))
    rows = [["added", n] for n in d.get("added") or []] + [["removed", n] for n in d.get("removed") or []]
    sections.append(("layers", "Layers added or removed", big_table(
        "layers", ["change", "layer"], rows, table_id="layer-changes") if rows else common.note("None.")))
    fused = d.get("fused_differently") or []
    sections.append(("fusion", "ONNX nodes fused differently", big_table(
        "fusion", ["ONNX node", "fused with in a", "fused with in b"],
        [[f["onnx_node"], ", ".join(f["a"]), ", ".join(f["b"])] for f in fused], table_id="fusion")
        if fused else common.note("Every ONNX node is fused with the same nodes in both engines.")))
    prec = d.get("precision_changes") or []
    sections.append(("precision", "Precision changes", table(["layer", "a", "b"], [[p["layer"], p["a"], p["b"]]
                                                                                   for p in prec])
                     if prec else common.note("No layer changed precision.")))
    times = d.get("time_changes")
    sections.append(("times", "Per-layer time", table(["layer", "a ms", "b ms", "b/a"], [
        [t["layer"], t["a_ms"], t["b_ms"], t["ratio"]] for t in times], numeric={1, 2, 3})
        if times else common.note("Per-layer times are not recorded for both engines.")))
    if "sidecar" in (a.get("source"), b.get("source")):
        sections.append(("sources", "Where the facts come from", common.note(
            "At least one engine could not be loaded here: its layers are the parsed network's (before fusion, "
            "from model.engine.json), so fusion and precision differences show only between engines described "
            "by the engine inspector.")))
    sections.append(("environment", "Environment", common.environment(res)))
    banner = badge(d.get("identical"), "identical", "different")
    names = [Path(str((x.get("engine") or {}).get("path") or "?")).name for x in (a, b)]
    return page("trtlab diff", f"{esc(names[0])} vs {esc(names[1])}",
                banner, sections, common.footer(res, run_dir))
