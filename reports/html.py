"""HTML building blocks for reports: escaping, numbers, tables, sections and the page shell.

Everything is inline (CSS, a few lines of JS for sort/filter, plots as SVG), so a report is one file that opens
anywhere without network access. Big tables go inside a collapsed ``<details>`` with a filter box; headers sort.
"""

from __future__ import annotations

import html

from trtlab.comparators.findings import fnum, num  # noqa: F401  (re-exported for the report modules)
from trtlab.reports.assets import CSS, JS


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def seconds(value) -> str:
    v = fnum(value)
    if v is None:
        return "-"
    return f"{v * 1000:.3g} ms" if v < 1 else f"{v:.3g} s"


def badge(ok: bool | None, yes: str = "ok", no: str = "FAIL") -> str:
    if ok is None:
        return '<span class="b">-</span>'
    return f'<span class="b ok">{yes}</span>' if ok else f'<span class="b bad">{no}</span>'


def cell(value, cls: str = "") -> str:
    """Cells are raw HTML when wrapped in Raw, escaped text otherwise."""
    text = value.html if isinstance(value, Raw) else esc(value)
    return f"<td class={cls}>{text}" if cls else f"<td>{text}"


class Raw:
    """Marks a string as already-escaped HTML."""

    def __init__(self, html_text: str):
        self.html = html_text


def table(headers: list[str], rows: list[list], *, numeric: set[int] = frozenset(), table_id: str | None = None,
          row_classes: list[str] | None = None, sortable: bool = True) -> str:
    """A plain table; ``numeric`` column indexes are right-aligned. Closing tags of rows/cells are left out
    (valid HTML) to keep big tables small."""
    tid = f' id="{esc(table_id)}"' if table_id else ""
    cls = ' class="sort"' if sortable else ""
    head = "".join(f'<th class="n">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        rc = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        body.append(f"<tr{rc}>" + "".join(cell(v, "n" if i in numeric else "") for i, v in enumerate(row)))
    return f"<table{tid}{cls}><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"


def big_table(title: str, headers: list[str], rows: list[list], *, table_id: str, numeric: set[int] = frozenset(),
              row_classes: list[str] | None = None, open_: bool | None = None, note: str = "") -> str:
    """A table that stays usable with thousands of rows: collapsed when long, a filter box, sortable headers."""
    open_ = len(rows) <= 30 if open_ is None else open_
    filt = (f'<input type="search" class="filter" data-table="{esc(table_id)}" placeholder="filter rows '
            f'(name, op, ok/FAIL...)" aria-label="filter {esc(title)}"> <span class="count" '
            f'id="{esc(table_id)}-count"></span>') if len(rows) > 10 else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<details class="tbl{" print-open" if len(rows) <= 200 else ""}"{" open" if open_ else ""}>'
            f"<summary>{esc(title)} <span class=dim>({len(rows)} rows)</span></summary>{note_html}{filt}"
            f'<div class="scroll">{table(headers, rows, numeric=numeric, table_id=table_id, row_classes=row_classes)}'
            "</div></details>")


def kv(pairs: list[tuple[str, object]]) -> str:
    """A two-column key/value table; values that are Raw stay HTML."""
    rows = "".join(f"<tr><th>{esc(k)}</th>{cell(v)}</tr>" for k, v in pairs if v not in (None, "", [], {}))
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def section(sec_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(sec_id)}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure>{svg}{cap}</figure>'


def page(title: str, subtitle: str, banner: str, sections: list[tuple[str, str, str]], footer: str) -> str:
    """The whole document. ``sections`` are (id, title, html); empty bodies are left out."""
    sections = [s for s in sections if s[2]]
    nav = " ".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    body = "\n".join(section(i, t, b) for i, t, b in sections)
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
            f'<header><h1>{esc(title)}</h1><p class="sub">{subtitle}</p>{banner}<nav>{nav}</nav></header>\n'
            f"<main>\n{body}\n</main>\n<footer>{footer}</footer>\n<script>{JS}</script></body></html>\n")
