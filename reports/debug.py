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


def segment_graph(segments: list[dict]) -> str:
    """Segments in schedule order as boxes (green TensorRT, red fallback) with an arrow for every segment that
    feeds a later one, labelled with how many boundary tensors it carries."""
    segs = [s for s in segments if isinstance(s.get("index"), int)]
    if not segs:
        return ""
    producer = {t: s["index"] for s in segs for t in s.get("outputs") or [] if isinstance(t, str)}
    edges: dict[tuple[int, int], int] = {}
    for s in segs:
        for t in s.get("inputs") or []:
            if isinstance(t, str) and t in producer:
                key = (producer[t], s["index"])
                edges[key] = edges.get(key, 0) + 1
    fig, axes = new_figure(1, 1, width=min(11, 1.6 + 1.4 * len(segs)), height=2.0)
    ax = axes[0, 0]
    ax.grid(False)
    ax.axis("off")
    pos = {s["index"]: i for i, s in enumerate(segs)}
    for s in segs:
        x = pos[s["index"]]
        ok = bool(s.get("supported", str(s.get("backend", "")).startswith("trt")))
        ax.add_patch(_box(x, COLORS["alt"] if ok else COLORS["bad"]))
        ax.text(x, 0, f"seg{s['index']}\n{s.get('backend', '?')}\n{s.get('node_count', '?')} nodes", ha="center",
                va="center", fontsize=7.5, color="white")
    for (a, b), n in sorted(edges.items()):
        xa, xb = pos[a], pos[b]
        rad = 0.0 if xb - xa == 1 else -0.35
        ax.annotate("", xy=(xb - 0.32, 0.05 if rad else 0), xytext=(xa + 0.32, 0.05 if rad else 0),
                    arrowprops={"arrowstyle": "->", "color": COLORS["line"], "connectionstyle": f"arc3,rad={rad}"})
        ax.text((xa + xb) / 2, 0.55 if rad else 0.1, str(n), ha="center", fontsize=7, color=COLORS["line"])
    ax.set_xlim(-0.6, len(segs) - 0.4)
    ax.set_ylim(-0.6, 1.1)
    fig.tight_layout()
    return to_svg(fig)


def _box(x: float, color: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x - 0.32, -0.35), 0.64, 0.7, boxstyle="round,pad=0.02", color=color)


def checks_line(checks) -> str | None:
    """``{"total": 22, "bisect_budget": 26, "original": 1, ...}`` -> "22 (budget 26): original 1, bisect 21"."""
    if not isinstance(checks, dict) or not isinstance(checks.get("total"), int):
        return None
    budget = checks.get("bisect_budget")
    parts = [f"{k} {v}" for k, v in checks.items() if k not in ("total", "bisect_budget") and v]
    return (f"{checks['total']}" + (f" (budget {budget})" if isinstance(budget, int) else "")
            + (f": {', '.join(parts)}" if parts else ""))


def reduce_banner(res: dict) -> str:
    """Reproducer found (N -> M nodes, written to OUT) or not, and how many checks it took."""
    found = res.get("reproduced")
    if not isinstance(found, bool):
        return ""
    before, after = res.get("nodes_before"), res.get("nodes_after")
    checks = checks_line(res.get("checks"))
    parts = [f"{before} → {after} nodes" if found and isinstance(before, int) and isinstance(after, int) else "",
             f"written to {res['output']}" if found and res.get("output") else "",
             "" if found else "the original model does not fail this way",
             f"checks: {checks.split(':')[0]}" if checks else ""]
    text = "; ".join(p for p in parts if p)
    word, cls = ("REPRODUCER FOUND", "ok") if found else ("NO REPRODUCER", "bad")
    return f'<div class="verdict {cls}"><b>{word}</b><span>{esc(text)}</span></div>'


def render(res: dict, run_dir: Path) -> str:
    schema = str(res.get("schema", ""))
    banner = reduce_banner(res) if schema.startswith("trtlab.debug.reduce/") else ""
    if banner and checks_line(res.get("checks")):
        res = {**res, "checks": checks_line(res["checks"])}
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
        graph = segment_graph(segments)
        if graph:
            sections.insert(1, ("segment-graph", "Graph of segments", figure(
                graph, "Segments in the order they run; arrows carry boundary tensors (count on the arrow).")))
    if plot:
        sections.insert(1, ("plot", "Overview", figure(plot, caption)))
    sections.append(("environment", "Environment", common.environment(res)))
    ok = res.get("passed")
    if not banner and isinstance(ok, bool):
        banner = f'<div class="verdict {"ok" if ok else "bad"}"><b>{"PASSED" if ok else "FAILED"}</b></div>'
    model = res.get("model")
    name = model.get("name") if isinstance(model, dict) else Path(str(model or run_dir.name)).name
    return page(f"{title}: {name}", esc(res.get("output") or ""), banner, sections, common.footer(res, run_dir))
