"""Report for any trtlab schema without a dedicated renderer: metadata as key/value, lists of dicts as tables.

Later commands get a usable report for free: scalars and small dicts become a key/value table, lists of dicts
become sortable tables (collapsed when long), lists of scalars a comma-separated line.
"""

from __future__ import annotations

import json
from pathlib import Path

from trtlab.reports import common
from trtlab.reports.html import big_table, esc, kv, num, page

SKIP = {"schema", "argv", "environment"}


def _scalar(v) -> str:
    if isinstance(v, float):
        return num(v)
    if isinstance(v, (dict, list)):
        text = json.dumps(v, default=str)
        return text if len(text) <= 300 else text[:300] + " ..."
    return "-" if v is None else str(v)


def dict_table(title: str, rows: list[dict], table_id: str) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))[:16]
    numeric = {i for i, c in enumerate(cols) if all(isinstance(r.get(c), (int, float)) and not isinstance(
        r.get(c), bool) for r in rows if r.get(c) is not None)}
    body = [[_scalar(r.get(c)) for c in cols] for r in rows]
    return big_table(title, cols, body, table_id=table_id, numeric=numeric)


def body_sections(res: dict, skip: set[str] = SKIP) -> list[tuple[str, str, str]]:
    """Summary key/values first, then one section per list or nested dict."""
    pairs, sections = [], []
    for key, value in res.items():
        if key in skip:
            continue
        sid = "s-" + "".join(c if c.isalnum() else "-" for c in key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            sections.append((sid, key.replace("_", " "), dict_table(key, value, f"t-{sid}")))
        elif isinstance(value, dict) and value and len(json.dumps(value, default=str)) > 300:
            sections.append((sid, key.replace("_", " "), kv([(k, _scalar(v)) for k, v in value.items()])))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value) and key in (
                "warnings", "notes", "errors"):
            sections.append((sid, key.replace("_", " "), common.warnings_list(value)))
        else:
            pairs.append((key.replace("_", " "), _scalar(value)))
    return [("summary", "Summary", common.command_line(res) + kv(pairs))] + sections


def render(res: dict, run_dir: Path) -> str:
    name = str(res.get("schema")).partition("/")[0]
    sections = body_sections(res) + [("environment", "Environment", common.environment(res))]
    verdict = ""
    if isinstance(res.get("passed"), bool):
        ok = res["passed"]
        verdict = f'<div class="verdict {"ok" if ok else "bad"}"><b>{"PASSED" if ok else "FAILED"}</b></div>'
    title = f"trtlab {name.removeprefix('trtlab.')}"
    subtitle = f"{esc(res.get('model', {}).get('name') if isinstance(res.get('model'), dict) else res.get('model', ''))}"
    return page(title, subtitle, verdict, sections, common.footer(res, run_dir))
