"""Terminal view of a surgeon run: one row per pass, the op types that changed, and what was skipped."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from trtlab.ui import fmt_num, out


def _mb(n: int) -> str:
    from trtlab.passes.base import fmt_bytes

    return fmt_bytes(n)


def print_result(result, run_dir: Path) -> None:
    from rich import box

    # 80 columns: light borders, short headers; pass names and numbers never cut (the pass column is as wide as
    # its longest name, and a "before -> after" cell wraps at its arrow).
    table = Table(title="trtlab surgeon", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for col in ("pass", "status", "time", "nodes", "inits", "bytes", "ok?", "max err"):
        left = col in ("pass", "status")
        table.add_column(col, justify="left" if left else "right", no_wrap=col not in ("nodes", "inits", "bytes"),
                         min_width=max((len(r.name) for r in result.passes), default=4) if col == "pass" else None)
    for r in result.passes:
        verified = {True: "yes", False: "NO", None: "-"}[r.verified]
        table.add_row(r.name, r.status, f"{r.seconds:.2f}s", f"{r.nodes_before} -> {r.nodes_after}",
                      f"{r.initializers_before} -> {r.initializers_after}",
                      f"{_mb(r.bytes_before)} -> {_mb(r.bytes_after)}", verified, fmt_num(r.max_abs_error))
    out.print(table)
    before = result.summary.get("before", {}).get("ops", {})
    after = result.summary.get("after", {}).get("ops", {})
    changed = [(op, before.get(op, 0), after.get(op, 0)) for op in sorted(set(before) | set(after))
               if before.get(op, 0) != after.get(op, 0)]
    if changed:
        out.print("op types that changed: " + ", ".join(f"{op} {a}->{b}" for op, a, b in changed), markup=False)
    for r in result.passes:
        for note in r.notes:
            out.print(f"  {r.name}: {note}", markup=False)
        for reason in r.skipped[:20]:
            out.print(f"  {r.name}: {reason}", markup=False)
        if len(r.skipped) > 20:
            out.print(f"  {r.name}: ... {len(r.skipped) - 20} more in results.json", markup=False)
    verify = result.verify or {}
    if not verify.get("enabled"):
        out.print(f"verification: off ({verify.get('reason', 'not requested')})", markup=False)
    for w in result.warnings:
        out.print(f"warning: {w}", markup=False)
    if result.passed:
        out.print(f"wrote {result.output}  (run dir {run_dir})", markup=False)
    else:
        out.print(f"FAILED: {result.failure}. Nothing written (run dir {run_dir})", markup=False)
