"""Report for ``trtlab.surgeon/1`` runs: per-pass table, node count across passes, op types changed, skips."""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import Raw, badge, big_table, esc, figure, fnum, kv, num, page, seconds, table
from trtlab.reports.plots import COLORS, new_figure, to_svg


def _status(p: dict) -> Raw:
    status = str(p.get("status") or ("ok" if p.get("verified") is not False else "failed"))
    cls = {"ok": "ok", "changed": "ok", "unchanged": "info", "skipped": "info", "failed": "bad"}.get(status, "warn")
    return Raw(f'<span class="b {cls}">{esc(status)}</span>')


def ops_changed(p: dict) -> str:
    """'Constant -12, Shape -4, Add +1' from ops_before/ops_after dicts."""
    before, after = p.get("ops_before") or {}, p.get("ops_after") or {}
    deltas = {op: (after.get(op, 0) or 0) - (before.get(op, 0) or 0) for op in dict.fromkeys([*before, *after])}
    changed = sorted(((op, d) for op, d in deltas.items() if d), key=lambda t: (-abs(t[1]), t[0]))
    return ", ".join(f"{op} {d:+d}" for op, d in changed) or "-"


def _verified(p: dict):
    v = p.get("verified")
    if v is None:
        return "-"
    err = fnum(p.get("max_abs_error"))
    suffix = f" (max abs {num(err)})" if err is not None else ""
    return Raw(badge(bool(v), "yes", "NO") + esc(suffix))


def _mb(value) -> str:
    v = fnum(value)
    return "-" if v is None else f"{v / 1e6:.3g} MB"


def pass_rows(passes: list[dict]) -> list[list]:
    rows = []
    for i, p in enumerate(passes, 1):
        opts = p.get("options")
        rows.append([i, p.get("name"), common._flat(opts) if opts else "", seconds(p.get("seconds")),
                     p.get("nodes_before", "-"), p.get("nodes_after", "-"), ops_changed(p),
                     f"{_mb(p.get('bytes_before'))} → {_mb(p.get('bytes_after'))}", _verified(p), _status(p)])
    return rows


def node_plot(passes: list[dict]) -> str:
    points = [("input", passes[0].get("nodes_before"))] + [(p.get("name"), p.get("nodes_after")) for p in passes]
    points = [(n, v) for n, v in points if isinstance(v, (int, float))]
    if len(points) < 2:
        return ""
    fig, axes = new_figure(1, 1, width=max(5.0, min(11.0, 1.2 * len(points))), height=2.8)
    ax = axes[0, 0]
    xs = range(len(points))
    ax.plot(xs, [v for _, v in points], color=COLORS["line"], marker="o", linewidth=1.5)
    for x, (_, v) in zip(xs, points):
        ax.annotate(str(int(v)), (x, v), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(list(xs), [str(n) for n, _ in points], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("nodes", fontsize=9)
    ax.margins(y=0.2)
    fig.tight_layout()
    return to_svg(fig)


def skipped_section(passes: list[dict]) -> str:
    rows = []
    for p in passes:
        for reason in p.get("skipped") or []:
            rows.append([p.get("name"), reason if isinstance(reason, str) else common._flat(reason)])
        for n in p.get("notes") or []:
            rows.append([p.get("name"), n])
    if not rows:
        return ""
    return big_table("Why nothing (or not more) changed", ["pass", "reason / note"], rows, table_id="skips")


def render(res: dict, run_dir: Path) -> str:
    passes = [p for p in res.get("passes") or [] if isinstance(p, dict)]
    ok = res.get("passed")
    first = passes[0] if passes else {}
    last = {k: next((p[k] for p in reversed(passes) if p.get(k) is not None), None)
            for k in ("nodes_after", "bytes_after")}
    summary = (f"{len(passes)} passes &middot; nodes {esc(first.get('nodes_before', '?'))} → "
               f"{esc(last.get('nodes_after', '?'))} &middot; {_mb(first.get('bytes_before'))} → "
               f"{_mb(last.get('bytes_after'))}")
    failed = next((p for p in passes if p.get("status") == "failed" or p.get("verified") is False), None)
    if failed:
        summary += f" &middot; stopped at pass <code>{esc(failed.get('name'))}</code>"
    banner = (f'<div class="verdict {"info" if ok is None else "ok" if ok else "bad"}"><b>'
              f'{"DONE" if ok is None else "PASSED" if ok else "FAILED"}</b><span>{summary}</span></div>')
    headers = ["#", "pass", "options", "time", "nodes before", "nodes after", "op types changed", "size",
               "verified", "status"]
    table_html = table(headers, pass_rows(passes), numeric={0, 3, 4, 5}, table_id="passes",
                       row_classes=["fail" if p is failed else "" for p in passes]) if passes else \
        common.note("No pass ran.")
    plot = node_plot(passes) if passes else ""
    run = common.command_line(res) + kv([("model", res.get("model")), ("output", res.get("output")),
                                         ("passes", len(passes))])
    sections = [("run", "Run", run), ("passes", "Passes", table_html + (figure(plot, "Node count after each pass.")
                                                                       if plot else "")),
                ("skips", "Skipped rewrites and notes", skipped_section(passes)),
                ("warnings", "Warnings", common.warnings_list(res.get("warnings"))),
                ("environment", "Environment", common.environment(res))]
    name = Path(str(res.get("model") or run_dir.name)).name
    return page(f"trtlab surgeon: {name}", esc(res.get("output") or ""), banner, sections,
                common.footer(res, run_dir))
