"""Report for ``trtlab.sweep/1`` (a sweep directory's sweep.json): the models x configurations matrix of verdicts,
coloured, with the key metric and time per cell and a link to each run's own report."""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import Raw, badge, big_table, esc, kv, num, page, seconds, table

CLASS = {"pass": "ok", "fail": "bad", "crash": "bad", "error": "warn", "timeout": "warn"}


def _metric(c: dict) -> str:
    m = c.get("metrics") or {}
    if "min_cosine" in m:
        return f"cos {num(m['min_cosine'])}"
    if "max_abs" in m:
        return f"max abs {num(m['max_abs'])}"
    if "nodes_before" in m:
        return f"{m['nodes_before']} → {m.get('nodes_after')} nodes"
    if "parseable" in m:
        return "parseable" if m["parseable"] else "not parseable"
    return ""


def weak_passes(cells: list[dict]) -> list[dict]:
    """Cells that passed while their reference was degenerate on the inputs used (compare's weak_inputs)."""
    return [c for c in cells if c.get("verdict") == "pass" and (c.get("metrics") or {}).get("weak_inputs")]


def _cell_html(c: dict, run_dir: Path) -> str:
    verdict = c.get("verdict", "not run")
    cls = CLASS.get(verdict, "")
    link = ""
    rd = c.get("run_dir")
    if rd and (run_dir / rd / "report.html").exists():
        link = f' <a href="{esc(rd)}/report.html">report</a>'
    metric = _metric(c)
    weak = ""
    if verdict == "pass" and (c.get("metrics") or {}).get("weak_inputs"):
        weak = (' <span class="b warn" title="the reference is degenerate on the inputs used: this check proves '
                'little">weak</span>')
    secs = f" · {seconds(c['seconds'])}" if isinstance(c.get("seconds"), (int, float)) else ""
    return (f'<span class="b {cls}">{esc(verdict)}</span>{weak}<br><span class=dim>{esc(metric)}{secs}</span>{link}')


def render(res: dict, run_dir) -> str:
    run_dir = Path(run_dir)
    cells = [c for c in res.get("cells") or [] if isinstance(c, dict)]
    models = [str(m) for m in res.get("models") or []]
    configs = [str(c) for c in res.get("configs") or []]
    grid = {(c.get("model_name"), c.get("config")): c for c in cells}
    rows = [[m, *(Raw(_cell_html(grid[(m, k)], run_dir)) if (m, k) in grid else "-" for k in configs)]
            for m in models]
    matrix = table(["model", *configs], rows, sortable=False)
    counts = res.get("counts") or {}
    summary = kv([("cells", len(cells)), ("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))),
                  ("executor", res.get("executor")), ("jobs", res.get("jobs")),
                  ("from the journal (--resume)", res.get("skipped") or None),
                  ("wall time", seconds(res.get("seconds")) if isinstance(res.get("seconds"), (int, float)) else None)])
    detail = big_table("All cells", ["model", "configuration", "verdict", "exit", "seconds", "host", "message"],
                       [[c.get("model_name"), c.get("config"), c.get("verdict"), c.get("exit_code"),
                         c.get("seconds"), c.get("host") or "", c.get("message") or ""] for c in cells],
                       table_id="cells", numeric={3, 4})
    ok = bool(cells) and all(c.get("verdict") == "pass" for c in cells)
    n_weak = len(weak_passes(cells))
    weak = f" ({n_weak} passed on weak inputs: the check proves little)" if n_weak else ""
    banner = f'<p class="verdict">{badge(ok, "ALL PASSED", "NOT ALL PASSED")} {esc(len(cells))} cells{esc(weak)}</p>'
    return page("trtlab sweep", common.command_line(res), banner,
                [("summary", "Summary", summary), ("matrix", "Models × configurations", matrix),
                 ("cells", "Cells", detail), ("environment", "Environment", common.environment(res))],
                common.footer(res, run_dir))
