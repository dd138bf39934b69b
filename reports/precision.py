"""Report for ``trtlab.debug.precision/1``: the verdict, the kept nodes on the layer-wise error plot, the goal's
metric after each search step, the risk ranking and the evaluation log. Missing fields only drop their part."""

from __future__ import annotations

import math
from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import big_table, esc, figure, kv, num, page, table
from trtlab.reports.plots import COLORS, new_figure, to_svg


def layer_plot(layers: list[dict]) -> str:
    pts = [(i, layer.get("error"), bool(layer.get("kept"))) for i, layer in enumerate(layers)
           if isinstance(layer.get("error"), (int, float))]
    if not pts:
        return ""
    fig, axes = new_figure(1, 1, width=11, height=3.0)
    ax = axes[0, 0]
    ys = [max(min(p[1], 1e3), 1e-9) for p in pts]
    ax.plot([p[0] for p in pts], ys, color=COLORS["line"], linewidth=1.0, label="relative error, all half")
    kept = [(p[0], y) for p, y in zip(pts, ys) if p[2]]
    if kept:
        ax.scatter([k[0] for k in kept], [k[1] for k in kept], s=22, color=COLORS["bad"], zorder=3,
                   label="kept in FP32")
    ax.set_yscale("log")
    ax.set_xlabel("node (graph order)", fontsize=9)
    ax.set_ylabel("relative RMS error", fontsize=9)
    ax.legend(fontsize=7.5, frameon=False)
    fig.tight_layout()
    return to_svg(fig)


def steps_plot(evaluations: list[dict]) -> str:
    steps = [e for e in evaluations if isinstance(e, dict) and isinstance(e.get("worst"), dict)]
    if not steps:
        return ""
    fig, axes = new_figure(1, 1, width=11, height=2.8)
    ax = axes[0, 0]
    snr = [e["worst"].get("snr_db") for e in steps]
    metric = [200.0 if v is None else max(v, -20.0) for v in snr]
    colors = [COLORS["alt"] if e.get("passed") else COLORS["bad"] for e in steps]
    ax.scatter(range(len(steps)), metric, c=colors, s=16, zorder=3)
    ax.plot(range(len(steps)), metric, color=COLORS["grid"], linewidth=0.8)
    ax.set_xlabel("evaluation (green: meets the goal)", fontsize=9)
    ax.set_ylabel("worst output SNR (dB)", fontsize=9)
    twin = ax.twinx()
    twin.step(range(len(steps)), [e.get("kept", 0) for e in steps], color=COLORS["line"], linewidth=1.0,
              where="mid")
    twin.set_ylabel("nodes kept in FP32", fontsize=9, color=COLORS["line"])
    fig.tight_layout()
    return to_svg(fig)


def banner(res: dict) -> str:
    ok = res.get("passed")
    kept = res.get("kept") or []
    share = res.get("low_precision_fraction")
    text = (f"{len(kept)} node(s) kept in FP32; {res.get('precision', '').upper()} share of float compute "
            f"{share:.1%}" if isinstance(share, (int, float)) else f"{len(kept)} node(s) kept in FP32")
    word, cls = ("MEETS THE GOAL ON HELD-OUT SAMPLES", "ok") if ok else ("MISSES THE GOAL", "bad")
    return f'<div class="verdict {cls}"><b>{word}</b><span>{esc(text)}</span></div>'


def _metrics(ev: dict) -> str:
    w = (ev or {}).get("worst") or {}
    parts = [f"max |err| {num(w.get('max_abs'))}" if w.get("max_abs") is not None else "",
             f"cosine {num(w.get('cosine'), 6)}" if w.get("cosine") is not None else "",
             f"SNR {num(w.get('snr_db'))} dB" if w.get("snr_db") is not None else ""]
    return ", ".join(p for p in parts if p)


def render(res: dict, run_dir: Path) -> str:
    kept = [k for k in res.get("kept") or [] if isinstance(k, dict)]
    summary = kv([("goal", res.get("goal")), ("target", res.get("target")), ("samples", res.get("samples")),
                  ("all half, held out", _metrics(res.get("before"))), ("mixed, held out", _metrics(res.get("after"))),
                  ("mixed.onnx", res.get("output")), ("in onnxruntime as written", res.get("mixed_onnxruntime")),
                  ("evaluations", res.get("counts")), ("timing", res.get("timing")),
                  ("complete", res.get("complete"))])
    kept_rows = [[k.get("node"), k.get("op"), k.get("score"), "; ".join(k.get("reasons") or [])] for k in kept]
    risk_rows = [[r.get("node"), r.get("op"), r.get("score"), _err(r.get("introduced")), "; ".join(r.get("reasons")
                  or [])] for r in (res.get("risk") or [])[:50] if isinstance(r, dict)]
    evals = [[i, e.get("step"), e.get("split"), e.get("kept"), "yes" if e.get("passed") else "no", _metrics(e)]
             for i, e in enumerate(res.get("evaluations") or []) if isinstance(e, dict)]
    layers = layer_plot([x for x in res.get("layers") or [] if isinstance(x, dict)])
    steps = steps_plot(res.get("evaluations") or [])
    excl = "\n".join(res.get("exclude_nodes") or [])
    sections = [
        ("summary", "Summary", summary + common.warnings_list((res.get("warnings") or []) + (res.get("notes") or []))),
        ("layers", "Kept nodes on the layer-wise error",
         figure(layers, "Relative error of every float node's output with the whole model in half precision; red: "
                "kept in FP32.") if layers else ""),
        ("kept", "Kept in FP32", table(["node", "op", "score", "why"], kept_rows, numeric={2}) +
         (f"<p>AutoCast <code>--nodes_to_exclude</code>:</p><pre>{esc(excl)}</pre>" if excl else "")
         if kept_rows else "<p>nothing: the whole model meets the goal in half precision</p>"),
        ("steps", "Search", figure(steps, "Worst output SNR after each evaluation, and the size of the keep-set.")
         if steps else ""),
        ("risk", "Risk ranking", table(["node", "op", "score", "introduced", "reasons"], risk_rows, numeric={2, 3})
         if risk_rows else ""),
        ("log", "Evaluation log", big_table("evaluations", ["#", "step", "split", "kept", "meets", "worst"], evals,
                                            table_id="evals", numeric={0, 3}) if evals else ""),
        ("environment", "Environment", common.environment(res)),
    ]
    title = "trtlab debug precision"
    subtitle = esc(common.command_line(res))
    return page(title, subtitle, banner(res), sections, common.footer(res, run_dir))


def _err(x):
    if not isinstance(x, (int, float)):
        return None
    return "non-finite" if not math.isfinite(x) or x >= 1e30 else f"{x:.2e}"
