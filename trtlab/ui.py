"""Terminal output: one stderr console for progress and warnings, stdout for results (or JSON)."""

from __future__ import annotations

import contextlib
import json
import os
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)


class _NullProgress:
    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


@contextlib.contextmanager
def progress(quiet: bool = False):
    """A transient progress bar on stderr; silent when quiet or when stderr is not a terminal."""
    if quiet or not err.is_terminal:
        yield _NullProgress()
        return
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    with bar:
        yield bar


def warn(message: str) -> None:
    from rich.markup import escape

    err.print(f"[yellow]warning:[/] {escape(message)}", markup=True, highlight=False)


def info(message: str) -> None:
    err.print(message, markup=False, highlight=False)


def print_json(obj) -> None:
    from trtlab.rundir import jsonable

    sys.stdout.write(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")


def fmt_num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` shortened to ``width`` characters by an ellipsis in the middle (both ends of a tensor name tell)."""
    if len(text) <= width or width < 5:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head):]}"


def wrap80(text: str, indent: str = "", first: str = "") -> str:
    """``text`` wrapped to 80 columns, continuation lines indented."""
    import textwrap

    return textwrap.fill(text, 80, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=True)
