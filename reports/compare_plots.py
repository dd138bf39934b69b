"""Plots for compare reports: error along topological order, error histograms, introduced vs inherited error."""

from __future__ import annotations

import math

from trtlab.reports.html import fnum
from trtlab.reports.plots import COLORS, mark_first, new_figure, to_svg

FLOOR = 1e-12  # zeros on a log axis are drawn here


def _series(layers: list[dict], key: str) -> tuple[list[float], list[int]]:
    """Values for a log axis (zeros/missing at FLOOR) and the indexes of infinite/NaN values."""
    values, bad = [], []
    for i, m in enumerate(layers):
        v = fnum(m.get(key))
        if m.get("nonfinite_diff"):  # NaN/Inf differ: its own marker, never drawn as a small or zero error
            v = math.inf
        if v is None:
            v = FLOOR
        elif not math.isfinite(v):
            bad.append(i)
            v = math.nan
        values.append(max(v, FLOOR) if not math.isnan(v) else v)
    return values, bad


def layer_plot(layers: list[dict], tolerances: dict, first: dict | None) -> str:
    """Three panels along topological order: max abs error, max relative error, SNR (and 1 - cosine)."""
    import numpy as np

    n = len(layers)
    x = np.arange(n)
    failed = [i for i, m in enumerate(layers) if not m.get("passed", True)]
    first_idx = next((i for i, m in enumerate(layers) if first and m.get("name") == first.get("tensor")), None)
    fig, axes = new_figure(3, 1, width=11, height=7.2, sharex=True)
    panels = (("max_abs", "max |error|", fnum(tolerances.get("atol")), "atol"),
              ("max_rel", "max relative error", fnum(tolerances.get("rtol")), "rtol"))
    marker = "." if n <= 400 else None
    if first_idx is not None:
        for a in axes[:, 0]:
            mark_first(a, first_idx, f"first divergence (#{first_idx})" if a is axes[0, 0] else "")
    for ax, (key, label, tol, tol_name) in zip(axes[:2, 0], panels):
        y, bad = _series(layers, key)
        ax.plot(x, y, color=COLORS["line"], linewidth=0.9, marker=marker, markersize=3)
        ax.set_yscale("log")
        if failed:
            ax.scatter(failed, [y[i] for i in failed], s=10, color=COLORS["bad"], zorder=3, label="out of tolerance")
        if bad:
            top = np.nanmax([v for v in y if not math.isnan(v)] or [1.0]) * 10
            ax.scatter(bad, [top] * len(bad), marker="^", s=22, color=COLORS["bad"], zorder=4,
                       label=f"NaN/Inf differ ({len(bad)})")
        if tol:
            ax.axhline(tol, color=COLORS["tol"], linestyle=":", linewidth=1.2, label=f"{tol_name} = {tol:g}")
        ax.set_ylabel(label, fontsize=9)
        ax.legend(fontsize=7.5, loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.2, frameon=False, ncol=5)
    ax = axes[2, 0]
    snr = [fnum(m.get("snr_db")) for m in layers]
    snr = [v if v is not None and math.isfinite(v) else math.nan for v in snr]
    ax.plot(x, snr, color=COLORS["alt"], linewidth=0.9, marker=marker, markersize=3, label="SNR dB")
    ax.set_ylabel("SNR dB", fontsize=9)
    ax2 = ax.twinx()
    cos = [fnum(m.get("cosine")) for m in layers]
    ax2.plot(x, [max(1 - c, FLOOR) if c is not None and math.isfinite(c) else math.nan for c in cos],
             color="#7a4cc2", linewidth=0.8, alpha=0.8, label="1 - cosine")
    ax2.set_yscale("log")
    ax2.set_ylabel("1 - cosine", fontsize=9)
    ax2.tick_params(labelsize=8)
    ax2.spines["top"].set_visible(False)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=7.5, loc="lower left", bbox_to_anchor=(0, 1),
              borderaxespad=0.2, frameon=False, ncol=4)
    ax.set_xlabel("layer (topological order)", fontsize=9)
    ax.set_xlim(-0.5, max(n - 0.5, 0.5))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout(h_pad=0.4)
    return to_svg(fig)


def histogram_plots(hists: list[tuple[str, list[int]]], edges: list[float], atol: float | None) -> list[str]:
    """One small plot per tensor: element count per log10 |error| bin; exact and non-finite counts in the title."""
    svgs = []
    for name, counts in hists:
        fig, axes = new_figure(1, 1, width=3.9, height=2.3)
        ax = axes[0, 0]
        exact, nonfinite, bins = counts[0], counts[1], counts[2:]
        ax.stairs(bins, edges, fill=True, color=COLORS["line"], linewidth=0)
        if atol:
            ax.axvline(math.log10(atol), color=COLORS["tol"], linestyle=":", linewidth=1.2)
        nz = [i for i, c in enumerate(bins) if c]
        if nz:
            ax.set_xlim(edges[max(nz[0] - 2, 0)], edges[min(nz[-1] + 3, len(edges) - 1)])
        short = name if len(name) <= 42 else "..." + name[-40:]
        ax.set_title(short, fontsize=8, loc="left")
        ax.set_xlabel(f"log10 |error|   exact: {exact}   NaN/Inf: {nonfinite}", fontsize=7.5)
        ax.set_ylabel("elements", fontsize=7.5)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        svgs.append(to_svg(fig))
    return svgs


def attribution_plot(layers: list[dict], introduced: dict[str, float]) -> str:
    """Total error of each layer against the error it introduces itself (fed reference inputs)."""
    import numpy as np

    x = np.arange(len(layers))
    total, _ = _series(layers, "max_abs")
    own = [max(fnum(introduced.get(m.get("name"))) or FLOOR, FLOOR) for m in layers]
    fig, axes = new_figure(1, 1, width=11, height=2.8)
    ax = axes[0, 0]
    ax.plot(x, total, color=COLORS["line"], linewidth=0.9, label="total max |error|")
    ax.plot(x, own, color=COLORS["bad"], linewidth=0.9, label="introduced by the layer itself")
    ax.set_yscale("log")
    ax.set_xlabel("layer (topological order)", fontsize=9)
    ax.legend(fontsize=7.5, loc="upper left", frameon=False, ncol=2)
    fig.tight_layout()
    return to_svg(fig)
