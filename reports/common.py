"""Pieces every renderer shares: the command line, environment/provenance, warnings, footer, npz loading."""

from __future__ import annotations

import shlex
from pathlib import Path

from trtlab.reports.html import Raw, esc, kv, table


def command_line(res: dict) -> str:
    argv = res.get("argv") or (res.get("environment") or {}).get("argv")
    if not argv:
        return ""
    return f'<code class="cmd">{esc(shlex.join(str(a) for a in argv))}</code>'


def environment(res: dict) -> str:
    env = res.get("environment") or {}
    if not env:
        return ""
    pairs = [("time", env.get("time")), ("platform", env.get("platform")), ("machine", env.get("machine")),
             ("CPU cores", env.get("cpu_count")), ("working directory", env.get("cwd"))]
    gpu = env.get("gpu") or env.get("gpus")
    if gpu:
        pairs.append(("GPU", _flat(gpu)))
    for key, value in env.items():
        if key not in {"time", "platform", "machine", "cpu_count", "cwd", "argv", "versions", "gpu", "gpus"}:
            pairs.append((key, _flat(value)))
    versions = env.get("versions") or {}
    vtable = table(["package", "version"], [[k, v] for k, v in versions.items()], sortable=False) \
        if versions else ""
    return kv(pairs) + ("<h3>Versions</h3>" + vtable if vtable else "")


def _flat(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    return str(value)


def warnings_list(items) -> str:
    items = [w for w in items or [] if w]
    if not items:
        return ""
    return '<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in items) + "</ul>"


def footer(res: dict, run_dir: Path) -> str:
    return (f"Rebuilt from {esc(run_dir.name)}/results.json (schema {esc(res.get('schema'))}) by "
            "<code>trtlab report</code>. Self-contained: no network access needed to view or print.")


def load_npz(run_dir: Path, name: str | None) -> tuple[dict, str]:
    """Arrays of an npz in the run dir, or ({}, why not) when it is missing or unreadable."""
    if not name:
        return {}, ""
    path = run_dir / str(name)
    if not path.exists():
        return {}, f"{name} is missing from the run directory"
    if not path.is_file() or run_dir.resolve() not in path.resolve().parents:  # FIFOs, devices, links out
        return {}, f"{name} is not a regular file inside the run directory"
    try:
        import numpy as np

        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, ""
    except Exception as exc:  # a damaged file (bad zip, bad header, short data) costs only its section
        return {}, f"{name} could not be read ({type(exc).__name__}: {exc})"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>' if text else ""


def raw(text: str) -> Raw:
    return Raw(text)
