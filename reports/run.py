"""Report for ``trtlab.run/1``: trtexec-style timing (TensorRT engines and ONNX Runtime alike), the per-node
profile (top nodes as a bar chart, time by op type), shape sweeps and a suggested optimization profile."""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import big_table, esc, figure, kv, num, page, table
from trtlab.reports.plots import COLORS, new_figure, to_svg

LABELS = {"h2d_ms": "H2D latency", "compute_ms": "GPU compute", "d2h_ms": "D2H latency", "host_ms": "host latency",
          "wall_ms": "end-to-end wall"}
STATS = ("mean", "min", "max", "p50", "p90", "p95", "p99")


def _runner(res: dict) -> str:
    b = res.get("backend") if isinstance(res.get("backend"), dict) else None
    if b:
        tf32 = f", TF32 {'on' if b['tf32'] else 'off'}" if "tf32" in b else ""
        return f"onnxruntime {b.get('version', '')} {b.get('provider', '')}{tf32}".strip()
    m = res.get("module") if isinstance(res.get("module"), dict) else {}
    return f"{m.get('name', '?')} {m.get('version', '')}".strip()


def timing_section(timing: dict) -> str:
    stats = timing.get("stats") or {}
    rows = [[LABELS.get(k, k), *(num(s.get(x)) for x in STATS)] for k, s in stats.items() if isinstance(s, dict)]
    head = kv([("iterations", timing.get("iterations")), ("warm-up iterations", timing.get("warmup_iterations")),
               ("total", f"{num(timing.get('total_s'))} s"),
               ("throughput", f"{num(timing.get('throughput_qps'))} qps")])
    return head + (table(["metric (ms)", *STATS], rows, numeric=set(range(1, 8)), sortable=False) if rows else "")


def node_plot(nodes: list[dict], top: int = 20) -> str:
    nodes = [n for n in nodes if isinstance(n, dict) and isinstance(n.get("ms"), (int, float))][:top]
    if not nodes:
        return ""
    fig, axes = new_figure(1, 1, width=11, height=0.28 * len(nodes) + 0.8)
    ax = axes[0, 0]
    labels = [f"{str(n.get('name'))[:48]} ({n.get('op')})" for n in nodes][::-1]
    ax.barh(range(len(nodes)), [n["ms"] for n in nodes][::-1], color=COLORS["alt"])
    ax.set_yticks(range(len(nodes)), labels, fontsize=7)
    ax.set_xlabel("mean time per run (ms)", fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def profile_section(prof: dict) -> str:
    nodes = [n for n in prof.get("nodes") or [] if isinstance(n, dict)]
    summary = kv([("profiled runs", prof.get("runs")), ("provider", prof.get("provider")),
                  ("sum of node times", f"{num(prof.get('nodes_ms'))} ms"),
                  ("ORT's run time (same runs)", f"{num(prof.get('run_ms'))} ms"),
                  ("measured median (unprofiled)", f"{num(prof.get('measured_ms'))} ms"),
                  ("nodes / measured", num(prof.get("coverage"))),
                  ("nodes reported / in the graph", f"{len(nodes)} / {prof.get('graph_nodes')}")])
    by_op = table(["op type", "nodes", "ms", "share"],
                  [[o.get("op"), o.get("nodes"), num(o.get("ms")), f"{100 * (o.get('share') or 0):.1f}%"]
                   for o in prof.get("by_op") or [] if isinstance(o, dict)], numeric={1, 2, 3})
    plot = node_plot(nodes)
    rows = [[n.get("index", "-") if n.get("index") is not None else "-", n.get("name"), n.get("op"),
             n.get("provider"), num(n.get("ms")), f"{100 * (n.get('share') or 0):.1f}%"] for n in nodes]
    return (summary + (figure(plot, "the slowest nodes") if plot else "") + "<h3>By op type</h3>" + by_op
            + big_table("All nodes", ["index", "node", "op", "provider", "ms", "share"], rows, table_id="nodes",
                        numeric={0, 4, 5}))


def sweep_section(rows: list[dict]) -> str:
    rows = [r for r in rows if isinstance(r, dict)]
    return table(["shapes", "metric", "p50 ms", "p99 ms", "wall p50 ms", "throughput qps", "iterations"],
                 [[r.get("label"), r.get("metric"), num(r.get("median_ms")), num(r.get("p99_ms")),
                   num(r.get("wall_median_ms")), num(r.get("throughput_qps")), r.get("iterations")] for r in rows],
                 numeric={2, 3, 4, 5, 6}) if rows else ""


def suggestion_section(res: dict) -> str:
    sugg = res.get("suggested_profile") or {}
    if not isinstance(sugg, dict) or not sugg:
        return ""
    fmt = "x".join
    rows = [[name, fmt(map(str, p.get("min", []))), fmt(map(str, p.get("opt", []))), fmt(map(str, p.get("max", [])))]
            for name, p in sugg.items() if isinstance(p, dict)]
    hist = [[name, fmt(map(str, h.get("shape", []))), h.get("count")]
            for name, p in sugg.items() if isinstance(p, dict) for h in p.get("histogram") or []]
    arg = res.get("suggested_profile_arg")
    return ((f'<code class="cmd">--profile {esc(arg)}</code>' if arg else common.note("No input varies."))
            + table(["input", "min", "opt", "max"], rows, sortable=False)
            + "<h3>Shapes the data loader produced</h3>" + table(["input", "shape", "samples"], hist, numeric={2}))


def render(res: dict, run_dir: Path) -> str:
    timing = res.get("timing") if isinstance(res.get("timing"), dict) else {}
    stats = timing.get("stats") or {}
    key = "compute_ms" if "compute_ms" in stats else "host_ms"
    p50 = (stats.get(key) or {}).get("p50")
    banner = (f'<div class="verdict ok"><b>{esc(LABELS.get(key, key))} p50 {num(p50)} ms</b>'
              f"<span>{esc(_runner(res))} &middot; {num(timing.get('throughput_qps'))} qps</span></div>")
    run = common.command_line(res) + kv([("target", res.get("target")), ("runs on", _runner(res))])
    sections = [("run", "Run", run), ("timing", "Timing", timing_section(timing) if timing else ""),
                ("nodes", "Per-node time", profile_section(res["node_profile"])
                 if isinstance(res.get("node_profile"), dict) else ""),
                ("sweep", "Shape sweep", sweep_section(res.get("sweep") or [])),
                ("profile", "Suggested optimization profile", suggestion_section(res)),
                ("warnings", "Warnings", common.warnings_list(res.get("warnings"))),
                ("environment", "Environment", common.environment(res))]
    return page(f"trtlab run: {Path(str(res.get('target') or run_dir.name)).name}", esc(_runner(res)), banner,
                sections, common.footer(res, run_dir))
