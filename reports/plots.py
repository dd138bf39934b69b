"""Plots as inline SVG strings, drawn with matplotlib's Agg/SVG backends (imported here only, never at import).

The SVG is stripped of its XML prolog, DOCTYPE, metadata and namespace URLs so that the report contains no
external reference at all; text stays text (``svg.fonttype = none``) to keep files small and crisp in print.
"""

from __future__ import annotations

import io
import itertools
import re

_COUNTER = itertools.count()
_ROUND = re.compile(r"(\d\.\d)\d+")
COLORS = {"line": "#2355c4", "bad": "#b42318", "tol": "#9a6700", "alt": "#137a3a", "grid": "#d9dee7"}


def reset_ids() -> None:
    """Restart the SVG id salt, so that the same run always renders to the same bytes."""
    global _COUNTER
    _COUNTER = itertools.count()


def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def new_figure(rows: int = 1, cols: int = 1, width: float = 11.0, height: float = 3.0, sharex: bool = False):
    plt = _mpl()
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), sharex=sharex, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, color=COLORS["grid"], linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8)
    return fig, axes


def to_svg(fig) -> str:
    """Render and close ``fig``; return an ``<svg>`` element safe to inline."""
    import matplotlib

    plt = _mpl()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"trtlab{next(_COUNTER)}",
                                "font.family": "sans-serif"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None,
                                                                      "Format": None, "Type": None})
    plt.close(fig)
    return clean_svg(buf.getvalue())


def clean_svg(svg: str) -> str:
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href", "href")
    svg = re.sub(r"font-family: [^;\"]*", "font-family: sans-serif", svg)
    svg = re.sub(r'<g id="[^"]*">', "<g>", svg)  # group names; ids that are referenced (defs, clips) stay
    svg = re.sub(r"<[^>]+>", lambda m: _ROUND.sub(r"\1", m.group(0)), svg)  # in tags only: 0.1 pt is plenty
    svg = re.sub(r'\s*transform="rotate\(-0 [^)]*\)"', "", svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    return re.sub(r">\s+<", "><", svg).strip()


def mark_first(ax, x: float, label: str = "") -> None:
    """A dashed vertical line at the first divergence (labelled for the legend when ``label`` is given)."""
    ax.axvline(x, color=COLORS["bad"], linestyle="--", linewidth=1, label=label or None)
