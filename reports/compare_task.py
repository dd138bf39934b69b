"""The task section of a compare report (``compare --task``): verdict, headline numbers, tables and plots.

Detection: matched/missed/spurious per class and the IoU histogram of matched pairs. Classification: the images
whose top-1 class flips. Segmentation: IoU per class and the disagreement mask of the worst image.
"""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import Raw, badge, esc, figure, fnum, num, table
from trtlab.reports.plots import COLORS, new_figure, to_svg


def verdict_html(res: dict) -> str:
    """The task verdict beside the element-wise one (empty without a task); the hint when one was suggested."""
    task = res.get("task") or {}
    if "passed" not in task:
        return (f'<p class="note">Hint: {esc(task["hint"])}.</p>' if task.get("hint") else "")
    ok = bool(task.get("passed"))
    overall = bool(task.get("overall_passed"))
    broken = task.get("nonfinite_outputs") or []
    why = f"; NaN/Inf the reference lacks in {', '.join(broken)} fails it" if broken else ""
    return (f'<div class="verdict {"ok" if ok else "bad"}"><b>{esc(task.get("task"))} '
            f'{"PASSED" if ok else "FAILED"}</b><span>{esc(task.get("reason"))} &middot; run verdict: '
            f'<b>{"PASSED" if overall else "FAILED"}</b> (the task decides for '
            f'{esc(", ".join(task.get("outputs") or []))}; other outputs element-wise{esc(why)})</span></div>')


def _value(v) -> str:
    return num(fnum(v)) if isinstance(v, float) else v


def section(res: dict, run_dir: Path) -> str:
    task = res.get("task") or {}
    if "passed" not in task:
        return common.note(f"No --task was given. {task['hint']}.") if task.get("hint") else ""
    parts = [table(["metric", "value"], [[k.replace("_", " "), _value(v)] for k, v in
                                         (task.get("summary") or {}).items()], numeric={1}, sortable=False)]
    parts.append(common.warnings_list(task.get("warnings")))
    skipped = task.get("elementwise_skipped") or []
    if skipped:
        parts.append(common.note("Element-wise metrics skipped (the task metric decides): " + "; ".join(
            f"{s.get('tensor')}: {s.get('reason')}" for s in skipped)))
    arrays, why = common.load_npz(run_dir, (res.get("files") or {}).get("histograms", "histograms.npz"))
    keys = task.get("arrays") or {}
    kind = task.get("task")
    if kind == "detection":
        parts.append(_detection(task, arrays, keys))
    elif kind == "segmentation":
        parts.append(_segmentation(task, arrays, keys))
    failures = task.get("failures") or []
    if failures:
        cols = list(failures[0])
        parts.append(f"<h3>Failing images ({task.get('failing_samples', len(failures))}, worst first)</h3>")
        parts.append(table([c.replace("_", " ") for c in cols], [[_value(f.get(c)) for c in cols] for f in failures],
                           numeric=set(range(1, len(cols)))))
    if why and keys:
        parts.append(common.note(f"Task plots not shown: {why}."))
    opts = task.get("options") or {}
    parts.append(common.note("Options: " + ", ".join(f"{k}={v}" for k, v in opts.items() if v is not None)
                             + f"; roles: {', '.join(f'{k}={v}' for k, v in (task.get('roles') or {}).items())}"))
    return "".join(parts)


def _detection(task: dict, arrays: dict, keys: dict) -> str:
    rows = task.get("per_class") or []
    out = ""
    hist, edges = arrays.get(keys.get("iou_hist", "")), arrays.get(keys.get("iou_edges", ""))
    if rows or hist is not None:
        out += figure(_detection_plot(rows, hist, edges), "Left: reference detections per class, split into matched "
                      "and missed, and the target's spurious ones. Right: IoU of matched pairs.")
    if rows:
        out += table(["class", "reference", "target", "matched", "missed", "spurious", ""],
                     [[r["class"], r["ref"], r["target"], r["matched"], r["missed"], r["spurious"],
                       Raw(badge(not r["missed"] and not r["spurious"], "ok", "differs"))] for r in rows],
                     numeric={0, 1, 2, 3, 4, 5})
    return out


def _detection_plot(rows: list[dict], hist, edges) -> str:
    import numpy as np

    fig, axes = new_figure(1, 2, width=11, height=3.0)
    ax = axes[0, 0]
    x = np.arange(len(rows))
    matched = np.array([r["matched"] for r in rows])
    missed = np.array([r["missed"] for r in rows])
    spurious = np.array([r["spurious"] for r in rows])
    ax.bar(x - 0.2, matched, 0.4, color=COLORS["line"], label="matched")
    ax.bar(x - 0.2, missed, 0.4, bottom=matched, color=COLORS["bad"], label="missed")
    ax.bar(x + 0.2, spurious, 0.4, color=COLORS["tol"], label="spurious")
    ax.set_xticks(x, [str(r["class"]) for r in rows], fontsize=7)
    ax.set_xlabel("class", fontsize=9)
    ax.set_ylabel("detections", fontsize=9)
    ax.legend(fontsize=7.5, frameon=False, ncol=3)
    ax = axes[0, 1]
    if hist is not None and edges is not None:
        ax.stairs(hist, edges, fill=True, color=COLORS["line"], linewidth=0)
        used = np.nonzero(hist)[0]
        if used.size:
            ax.set_xlim(edges[max(used[0] - 2, 0)], 1.0)
    ax.set_xlabel("IoU of matched pairs", fontsize=9)
    ax.set_ylabel("pairs", fontsize=9)
    fig.tight_layout()
    return to_svg(fig)


def _segmentation(task: dict, arrays: dict, keys: dict) -> str:
    out = ""
    mask = arrays.get(keys.get("disagree", ""))
    if mask is not None:
        fig, axes = new_figure(1, 1, width=4.5, height=4.0)
        ax = axes[0, 0]
        ax.grid(False)
        from matplotlib.colors import ListedColormap

        ax.imshow(mask, cmap=ListedColormap(["#ffffff", COLORS["bad"]]), vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{task['summary'].get('worst_sample')}: {int(mask.sum())} of {mask.size} pixels disagree",
                     fontsize=8, loc="left")
        out += figure(to_svg(fig), "Pixels whose class differs between the backends (red) on the worst image.")
    classes = task.get("classes") or []
    if classes:
        out += table(["class", "IoU", "reference pixels", "target pixels"],
                     [[c["class"], num(fnum(c["iou"])), c["ref_pixels"], c["target_pixels"]] for c in classes],
                     numeric={0, 1, 2, 3})
    return out
