"""Report for any trtlab schema without a dedicated renderer: metadata as key/value, lists of dicts as tables.

Later commands get a usable report for free: scalars and small dicts become a key/value table, lists of dicts
become sortable tables (collapsed when long), lists of scalars a comma-separated line. Values read as text, not
JSON: booleans as yes/no, empty lists as "none" (empty warnings/notes are left out), nested dicts as short
key/value lists, ``*_s`` seconds as ms/s.
"""

from __future__ import annotations

import json
from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import Raw, big_table, esc, kv, num, page, seconds, table

SKIP = {"schema", "argv", "environment"}
LISTS = ("warnings", "notes", "errors")  # lists of messages: a section when not empty, nothing when empty
MAX_TEXT = 300
MAX_ROWS = 20  # rows of a small table inside a cell


def _label(key, value=None) -> str:
    """``plan_s`` -> "plan" when the value is shown in ms/s, else underscores as spaces."""
    key = str(key)
    if key.endswith("_s") and isinstance(value, (int, float)) and not isinstance(value, bool):
        key = key[:-2]
    return key.replace("_", " ")


def _text(v, key: str = "") -> str:
    """A scalar as text: yes/no, numbers to 3 digits (seconds when the key ends in _s), '-' for missing."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) and str(key).endswith("_s"):
        return seconds(v)
    if isinstance(v, float):
        return num(v)
    if v is None:
        return "-"
    if isinstance(v, dict):
        return ", ".join(f"{_label(k, x)} {_text(x, k)}" for k, x in v.items() if x not in ("", None)) or "none"
    if isinstance(v, list):
        return ", ".join(_text(x) for x in v) or "none"
    return str(v)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " ..."


def _scalar(v, key: str = ""):
    """A value for a key/value or table cell: text, or small HTML (a key/value list, a table) for nested values."""
    if isinstance(v, dict) and v:
        items = "".join(f'<div><span class="dim">{esc(_label(k, x))}</span> {esc(_clip(_text(x, k)))}</div>'
                        for k, x in v.items() if x not in ("", None))
        return Raw(items)
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        cols = list(dict.fromkeys(k for r in v for k in r))[:10]
        rows = [[_clip(_text(r.get(c), c)) for c in cols] for r in v[:MAX_ROWS]]
        more = f'<p class="note">{len(v) - MAX_ROWS} more in results.json</p>' if len(v) > MAX_ROWS else ""
        return Raw(table([_label(c) for c in cols], rows, sortable=False) + more)
    return _clip(_text(v, key))


def dict_table(title: str, rows: list[dict], table_id: str) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))[:16]
    numeric = {i for i, c in enumerate(cols) if all(isinstance(r.get(c), (int, float)) and not isinstance(
        r.get(c), bool) for r in rows if r.get(c) is not None)}
    body = [[_clip(_text(r.get(c), c)) for c in cols] for r in rows]
    return big_table(title, cols, body, table_id=table_id, numeric=numeric)


def body_sections(res: dict, skip: set[str] = SKIP) -> list[tuple[str, str, str]]:
    """Summary key/values first, then one section per list or nested dict."""
    pairs, sections = [], []
    for key, value in res.items():
        if key in skip or (key in LISTS and not value):
            continue
        sid = "s-" + "".join(c if c.isalnum() else "-" for c in key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            sections.append((sid, key.replace("_", " "), dict_table(key, value, f"t-{sid}")))
        elif isinstance(value, dict) and value and len(json.dumps(value, default=str)) > 300:
            sections.append((sid, key.replace("_", " "), kv([(_label(k), _scalar(v, k)) for k, v in value.items()
                                                              if not (k in LISTS and not v)])))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value) and key in LISTS:
            sections.append((sid, key.replace("_", " "), common.warnings_list(value)))
        else:
            pairs.append((key.replace("_", " "), _scalar(value, key)))
    return [("summary", "Summary", common.command_line(res) + kv(pairs))] + sections


def render(res: dict, run_dir: Path) -> str:
    name = str(res.get("schema")).partition("/")[0]
    sections = body_sections(res) + [("environment", "Environment", common.environment(res))]
    verdict = ""
    if isinstance(res.get("passed"), bool):
        ok = res["passed"]
        verdict = f'<div class="verdict {"ok" if ok else "bad"}"><b>{"PASSED" if ok else "FAILED"}</b></div>'
    title = f"trtlab {name.removeprefix('trtlab.')}"
    model_name = (res.get("model", {}).get("name") if isinstance(res.get("model"), dict)
                  else res.get("model", ""))
    subtitle = f"{esc(model_name)}"
    return page(title, subtitle, verdict, sections, common.footer(res, run_dir))
