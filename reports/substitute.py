"""Report for ``trtlab.substitute/1`` (``surgeon --substitute-plugins``): the generic page under a banner that
tells apart the two checks a substitution gets, the outputs (verify) and the TensorRT parser (parse). Outputs
that match while the parser refuses a new node (a plugin not registered here) is a warning, not a green PASSED.
"""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common
from trtlab.reports.generic import body_sections
from trtlab.reports.html import esc, num, page


def _verified(v: dict) -> tuple[bool | None, str]:
    if not v.get("enabled"):
        return None, f"outputs not verified ({v.get('reason') or 'verification off'})" if v else ""
    if v.get("passed") is False:
        return False, (f"outputs differ from the original: max |error| {num(v.get('max_abs_error'))} "
                       f"(atol {num(v.get('atol'))}, rtol {num(v.get('rtol'))})")
    if v.get("passed") is None:
        return None, "no tensor compared"
    return True, f"outputs verified ({v.get('tensors_compared', '?')} tensors)"


def _parsed(p: dict) -> tuple[bool | None, str]:
    if not p.get("checked"):
        return None, f"TensorRT parser not asked ({p['reason']})" if p.get("reason") else ""
    refused = [n for n in p.get("new_nodes") or [] if not n.get("parsed")]
    if refused:
        ops = ", ".join(sorted({str(n.get("op")) for n in refused}))
        return False, f"TensorRT parser refuses {len(refused)} new node(s) ({ops})"
    if p.get("parseable") is False:
        return False, f"TensorRT parser refuses {len(p.get('other_unsupported') or [])} other node(s)"
    return True, f"TensorRT parser imports all {len(p.get('new_nodes') or [])} new node(s)"


def banner(res: dict) -> str:
    if res.get("dry_run"):
        n = len(res.get("matches") or [])
        return f'<div class="verdict info"><b>DRY RUN</b><span>{n} match(es); nothing written</span></div>'
    ok, verify = _verified(res.get("verify") or {})
    parsed, parse = _parsed(res.get("parse") or {})
    text = esc("; ".join(t for t in (verify, parse) if t))
    if ok is False or res.get("passed") is False:
        return f'<div class="verdict bad"><b>FAILED</b><span>{text}</span></div>'
    if parsed is False:
        return f'<div class="verdict warn"><b>NOT PARSEABLE</b><span>{text}</span></div>'
    if ok and parsed:
        return f'<div class="verdict ok"><b>PASSED</b><span>{text}</span></div>'
    return f'<div class="verdict info"><b>{"PASSED" if ok else "NOT VERIFIED"}</b><span>{text}</span></div>'


def render(res: dict, run_dir: Path) -> str:
    sections = body_sections(res) + [("environment", "Environment", common.environment(res))]
    model = Path(str(res.get("model") or run_dir.name)).name
    return page(f"trtlab substitute: {model}", esc(res.get("output") or ""), banner(res), sections,
                common.footer(res, run_dir))
