"""Terminal output: one stderr console for progress and warnings, stdout for results (or JSON)."""

from __future__ import annotations

import contextlib
import json
import os
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def _columns() -> int | None:
    """The width for text we print: the terminal's (None: rich asks it), else $COLUMNS, else 80."""
    try:
        return max(40, int(os.environ.get("COLUMNS", "80")))
    except ValueError:
        return 80


class _Console(Console):
    """A console whose plain-text lines wrap at word boundaries and never cut a word: a path, a number or an
    option longer than the line stays whole on its own line (tables set their own per-column overflow)."""

    def print(self, *objects, **kwargs):
        if not objects or not all(isinstance(o, str) for o in objects) or kwargs.get("soft_wrap"):
            return super().print(*objects, **kwargs)
        text = self.render_str(kwargs.get("sep", " ").join(objects), markup=kwargs.pop("markup", None),
                               highlight=False)
        kwargs.pop("sep", None)
        lines = [piece for line in text.split("\n", allow_blank=True) for piece in _word_lines(line, self.width)]
        for line in lines:
            super().print(line, soft_wrap=True, **kwargs)


def _word_lines(text, columns: int) -> list:
    """``text`` (a rich Text) cut at spaces into lines of at most ``columns`` cells; a longer word stays whole."""
    import re

    plain, offsets, start = text.plain, [], 0
    for m in re.finditer(r"\S+", plain):
        if m.end() - start > columns and m.start() > start and plain[start:m.start()].strip():
            offsets.append(m.start())
            start = m.start()
    lines = text.divide(offsets) if offsets else [text]
    for line in lines:
        line.rstrip()
    return lines


# Both consoles wrap at the width (never soft-wrap to endless lines): output fits 80 columns when piped.
err = _Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _columns())
out = _Console(highlight=False, width=None if sys.stdout.isatty() else _columns())


def width(stream=None) -> int:
    """Columns available on ``stream``'s console (stderr by default)."""
    return (out if stream == "out" else err).width


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

    text = wrap(message, width(), indent="  ", first="warning: ")[len("warning: "):]
    err.print(f"[yellow]warning:[/] {escape(text)}", markup=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    text = "\n".join(wrap(line, width(), indent="  ") for line in message.splitlines())
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def print_json(obj) -> None:
    from trtlab.rundir import jsonable

    sys.stdout.write(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")


def fmt_num(value, digits: int = 3) -> str:
    """A number for the terminal and for findings: ``digits`` significant digits, scientific when tiny or huge;
    integers whole, booleans yes/no, '-' for missing, nan/inf spelt out."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def fmt_span(lo: float, hi: float, digits: int = 3) -> str:
    """``[lo, hi]`` with as many significant digits as it takes for two different ends to print differently
    (a reference spanning [0.5, 0.5001] must not read as the constant [0.5, 0.5])."""
    for d in range(digits, 10):
        a, b = f"{lo:.{d}g}", f"{hi:.{d}g}"
        if a != b or lo == hi:
            return f"[{a}, {b}]"
    return f"[{lo!r}, {hi!r}]"


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` shortened to ``width`` characters by an ellipsis in the middle (both ends of a tensor name tell)."""
    if len(text) <= width or width < 5:
        return text
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head):]}"


def wrap(text: str, columns: int = 80, indent: str = "", first: str = "") -> str:
    """``text`` wrapped to ``columns``, continuation lines indented; a word (a path, a number, an option) is
    never cut: one longer than the line stays whole on its own line."""
    import re
    import textwrap

    # A `quoted command` stays on one line (its spaces do not break) so it can be copied as printed.
    glued = re.sub(r"`[^`\n]*`", lambda m: m.group(0).replace(" ", "\x00"), text)
    filled = textwrap.fill(glued, columns, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False,
                           break_long_words=False)
    return filled.replace("\x00", " ")


def wrap80(text: str, indent: str = "", first: str = "") -> str:
    """``text`` wrapped to 80 columns, continuation lines indented."""
    return wrap(text, 80, indent=indent, first=first)
