"""Reports for ``trtlab.debug.reduce/1`` (reduction history) and ``trtlab.partition/1`` (segments).

Their producers land later, so these renderers lean on the generic one and add what a plot shows better: model
size along the reduction, and which segments run on TensorRT. Missing fields only drop their part.
"""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.generic import body_sections
from trtlab.reports.html import esc, figure, page
from trtlab.reports.plots import COLORS, new_figure, to_svg
from trtlab.reports.trt import partition_plot

SIZE_KEYS = ("nodes", "size", "nodes_after", "num_nodes")


def reduction_plot(history: list[dict]) -> str:
    key = next((k for k in SIZE_KEYS if any(isinstance(h.get(k), (int, float)) for h in history)), None)
    if key is None:
        return ""
    pts = [(i, h[key], h) for i, h in enumerate(history) if isinstance(h.get(key), (int, float))]
    fig, axes = new_figure(1, 1, width=11, height=2.8)
    ax = axes[0, 0]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=COLORS["line"], linewidth=1.2)
    fails = [p for p in pts if _failed(p[2])]
    passes = [p for p in pts if _failed(p[2]) is False]
    ax.scatter([p[0] for p in fails], [p[1] for p in fails], s=16, color=COLORS["bad"], zorder=3,
               label="still fails (kept)")
    ax.scatter([p[0] for p in passes], [p[1] for p in passes], s=16, color=COLORS["alt"], zorder=3,
               label="passes (discarded)")
    ax.set_yscale("log")
    ax.set_xlabel("check", fontsize=9)
    ax.set_ylabel(key, fontsize=9)
    ax.legend(fontsize=7.5, frameon=False)
    fig.tight_layout()
    return to_svg(fig)


def _failed(h: dict):
    for key in ("failed", "fails", "reproduces"):
        if isinstance(h.get(key), bool):
            return h[key]
    return None


def segment_ranges(segments: list[dict]) -> list[dict]:
    """Segments as partitions ({nodes: [start, end], supported}) for the strip plot."""
    out = []
    for s in segments:
        rng = s.get("nodes") if isinstance(s.get("nodes"), list) and len(s.get("nodes")) == 2 else s.get("range")
        backend = str(s.get("backend") or s.get("runs_on") or "")
        supported = s.get("supported", backend.startswith("trt") or backend.lower() == "tensorrt")
        if isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, int) for v in rng):
            out.append({"nodes": rng, "supported": bool(supported)})
    return out


def render(res: dict, run_dir: Path) -> str:
    schema = str(res.get("schema", ""))
    sections = body_sections(res)
    plot, caption = "", ""
    if schema.startswith("trtlab.debug.reduce/"):
        history = [h for h in res.get("history") or [] if isinstance(h, dict)]
        plot, caption = (reduction_plot(history), "Model size at each check.") if history else ("", "")
        title = "trtlab debug reduce"
    else:
        segments = [s for s in res.get("segments") or res.get("partitions") or [] if isinstance(s, dict)]
        ranges = segment_ranges(segments)
        plot = partition_plot(ranges, max((r["nodes"][1] + 1 for r in ranges), default=0)) if ranges else ""
        caption = "Segments along node index."
        title = "trtlab partition"
    if plot:
        sections.insert(1, ("plot", "Overview", figure(plot, caption)))
    sections.append(("environment", "Environment", common.environment(res)))
    ok = res.get("passed")
    banner = "" if not isinstance(ok, bool) else \
        f'<div class="verdict {"ok" if ok else "bad"}"><b>{"PASSED" if ok else "FAILED"}</b></div>'
    model = res.get("model")
    name = model.get("name") if isinstance(model, dict) else Path(str(model or run_dir.name)).name
    return page(f"{title}: {name}", esc(res.get("output") or ""), banner, sections, common.footer(res, run_dir))
