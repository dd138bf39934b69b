"""Terminal output of ``trtlab sweep``: live counts and ETA on a terminal, one line per cell otherwise, and a
summary that fits 80 columns (verdict counts, then every cell that did not pass)."""

from __future__ import annotations

from trtlab.ui import err, out

COLOR = {"pass": "green", "fail": "red", "crash": "red", "error": "yellow", "timeout": "yellow",
         "unavailable": "cyan", "infra": "magenta", "interrupted": "magenta"}


def _short(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width // 2 - 1] + "…" + text[-(width - width // 2):]


class Events:
    """The ``on_event`` callback of run_sweep, with a live status line when stderr is a terminal."""

    def __init__(self, quiet: bool = False):
        self.quiet, self.live, self.status = quiet, None, None

    def __enter__(self):
        if not self.quiet and err.is_terminal:
            self.status = err.status("sweep starting")
            self.status.__enter__()
        return self

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False

    def __call__(self, kind, item, prog):
        if self.quiet:
            return
        eta = prog.eta(1)
        eta_text = f", ETA {eta:.0f} s" if eta is not None else ""
        line = f"{prog.done}/{prog.total} done, {prog.running} running, {prog.failed} not passed{eta_text}"
        if self.status is not None:
            self.status.update(line)
        if kind == "done":
            from rich.markup import escape

            verdict = f"[{COLOR.get(item.verdict, 'white')}]{item.verdict:<11}[/]"
            err.print(f"[{prog.done}/{prog.total}] {verdict} {escape(_short(item.id, 50))} {item.seconds:6.1f} s",
                      highlight=False)


def print_summary(result, report) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    skipped = f" ({result.skipped} from the journal)" if result.skipped else ""
    out.print(f"sweep: {len(result.cells)} cells{skipped}: {counts}; {result.seconds:.1f} s on {result.executor}",
              markup=False, highlight=False)
    bad = [c for c in result.cells if c["verdict"] != "pass"]
    for c in bad[:40]:
        msg = c.get("message") or ""
        out.print(f"  {c['verdict']:<11} {_short(c['model_name'], 22):<22} {_short(c['config'], 40)}",
                  markup=False, highlight=False)
        if msg:
            out.print(f"    {_short(msg, 74)}", markup=False, highlight=False)
    if len(bad) > 40:
        out.print(f"  ... and {len(bad) - 40} more (sweep.json)", markup=False)
    weak = [c for c in result.cells if c["verdict"] == "pass" and (c.get("metrics") or {}).get("weak_inputs")]
    if weak:
        out.print(f"  {len(weak)} cell(s) passed on weak inputs (the reference is degenerate: the check proves "
                  "little):", markup=False, highlight=False)
    for c in weak[:10]:
        out.print(f"  pass(weak)  {_short(c['model_name'], 22):<22} {_short(c['config'], 40)}", markup=False,
                  highlight=False)
    out.print(f"sweep dir: {result.sweep_dir}", markup=False, highlight=False)
    if report:
        out.print(f"report: {report}", markup=False, highlight=False)
