"""Terminal rendering of a comparison: verdict (with the rule that failed), outputs table, first new NaN/Inf,
first divergence, worst layers and the top findings, within 80 columns (full names stay in JSON and the report)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from trtlab.cli.task_args import print_task
from trtlab.comparators.verdict import WEAK_HINT
from trtlab.ui import fmt_num, middle_ellipsis, out, warn, wrap80

NAME_W, OP_W = 22, 12
TOP_FINDINGS = 5


def _error_cells(m) -> tuple[str, str, str]:
    """max abs, cosine, SNR: a tensor whose NaN/Inf differ is never shown as an exact match."""
    if getattr(m, "nonfinite_diff", 0):
        return "[red]NaN/Inf[/]", fmt_num(m.cosine, 4) if m.cosine is not None else "-", "-"
    snr = "exact" if m.snr_db is None and m.max_abs == 0 else fmt_num(m.snr_db)
    return fmt_num(m.max_abs), fmt_num(m.cosine, 6) if m.cosine is not None else "-", snr


def _metrics_table(title: str, rows):
    from rich import box
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=0, pad_edge=False,
              show_edge=False)
    for col, just, width in (("tensor", "left", NAME_W), ("op", "left", OP_W), ("max abs", "right", 8),
                             ("cosine", "right", 8), ("SNR dB", "right", 6), ("NaN/Inf", "right", 7),
                             ("mism.", "right", 6), ("", "left", 4)):
        t.add_column(col, justify=just, no_wrap=True, max_width=width, overflow="ellipsis")
    for m in rows:
        nonfinite = f"{m.nan['target'] + m.inf['target']}/{m.nan['ref'] + m.inf['ref']}"
        max_abs, cosine, snr = _error_cells(m)
        t.add_row(escape(middle_ellipsis(m.name, NAME_W)), escape(middle_ellipsis(m.op or "", OP_W)), max_abs,
                  cosine, snr, nonfinite, f"{m.mismatch_fraction:.1%}", "[green]ok[/]" if m.passed else "[red]FAIL[/]")
    return t


def _attribution_table(entries: list[dict]):
    from rich import box
    from rich.table import Table

    t = Table(title="error attribution (each layer alone on the target, reference inputs)",
              title_justify="left", box=box.SIMPLE_HEAD, padding=0, pad_edge=False,
              show_edge=False)
    for h, width in (("layer", 26), ("op", OP_W), ("total", 9), ("introduced", 10), ("verdict", 10)):
        t.add_column(h, justify="right" if h in ("total", "introduced") else "left", no_wrap=True, max_width=width)
    for e in entries:
        style = "red" if e["verdict"] == "introduces" else "dim"
        t.add_row(escape(middle_ellipsis(e["tensor"], 26)), escape(middle_ellipsis(e["op"] or "", OP_W)),
                  fmt_num(e["total"]), fmt_num(e["introduced"]), f"[{style}]{e['verdict']}[/]")
    return t


def verdict_line(result) -> str:
    """PASSED/FAILED, the rules that failed, and what was checked, wrapped to 80 columns."""
    tol, tgt, ref = result.tolerances, result.target, result.ref
    failed = list(dict.fromkeys(f["rule"] for f in (result.verdict or {}).get("failures", [])))
    head = "PASSED" if result.passed else "FAILED" + (f" ({', '.join(failed)})" if failed else "")
    if result.task and "passed" in result.task:
        head = f"element-wise {head}"
    min_cos = (result.verdict or {}).get("min_cosine")
    rules = f"atol={tol['atol']:g} rtol={tol['rtol']:g}" + (f" min_cosine={min_cos:g}" if min_cos else "")
    text = wrap80(f"{head}  {tgt['spec']} vs {ref['spec']} on {result.model['name']}: "
                  f"{sum(m.passed for m in result.outputs)}/{len(result.outputs)} outputs pass {rules} "
                  f"({result.samples} sample(s))", indent="    ")
    colour = "bold green" if result.passed else "bold red"
    return f"[{colour}]{escape(head)}[/]{escape(text[len(head):])}"


def print_findings(findings: list[dict], limit: int = TOP_FINDINGS) -> None:
    """The top findings, as the report shows them: severity, where, hazard, and the mitigation to type."""
    if not findings:
        return
    out.print(f"[bold]findings[/] (top {min(limit, len(findings))} of {len(findings)}; all in the report):")
    colour = {"error": "red", "warning": "yellow", "info": "cyan"}
    for f in findings[:limit]:
        text = wrap80(f"{f['where']}: {f['hazard']}", indent="    ", first=f"- {f['severity']}: ")
        out.print(f"[{colour.get(f['severity'], 'white')}]{escape(text)}[/]")
        if f.get("mitigation"):
            out.print(escape(wrap80(f["mitigation"], indent="    ", first="  → ")))


def print_result(result, run_dir: Path) -> None:
    for w in result.warnings:
        warn(w)
    ref, tgt = result.ref, result.target
    for side in (ref, tgt):
        for note in side.get("notes", []):
            out.print(f"[dim]{escape(wrap80(side['spec'] + ': ' + note, indent='    '))}[/]")
    out.print(verdict_line(result))
    for f in (result.verdict or {}).get("failures", [])[:4]:
        out.print(escape(wrap80(f"{f['tensor']}: {f['detail']}", indent="    ", first=f"  {f['rule']}: ")))
    for w in (result.verdict or {}).get("weak_inputs", []):
        text = f"{w['tensor']} is {w['reason']} on these inputs: {WEAK_HINT}"
        out.print(f"[yellow]{escape(wrap80(text, indent='    ', first='  note: '))}[/]")
    nf = result.first_nonfinite
    if nf:
        out.print(escape(wrap80(f"{nf['tensor']} ({nf['op']}): {nf['count']} NaN/Inf the reference lacks (max |ref| "
                                f"{fmt_num(nf.get('ref_max_abs'))})", indent="    ", first="first new NaN/Inf: ")))
    out.print(_metrics_table("outputs", result.outputs))
    print_task(result.task)
    if result.layers is not None:
        _print_layers(result)
    if result.attribution:
        out.print(_attribution_table(result.attribution))
    print_findings(result.findings)
    _print_tail(result, run_dir)


def _print_layers(result) -> None:
    failing = sum(not m.passed for m in result.layers)
    nonfinite = sum(1 for m in result.layers if m.nonfinite_diff)
    fused = sum(1 for u in result.unmatched if u.get("fused"))
    extra = (f", {nonfinite} with NaN/Inf differences" if nonfinite else "") + (f", {fused} fused" if fused else "")
    out.print(f"layers: {len(result.layers)} compared, {failing} out of tolerance{extra}")
    fd = result.first_divergence
    if fd:
        out.print(escape(wrap80(f"{fd['tensor']} from node {fd['node']} ({fd['op']}): {fd['reason']}",
                                indent="    ", first="first divergence: ")))
    by_name = {m.name: m for m in result.layers}
    worst = [by_name[n] for n in result.worst_layers[:10] if n in by_name]
    if worst:
        out.print(_metrics_table("worst layers", worst))


def _print_tail(result, run_dir: Path) -> None:
    ref, tgt = result.ref, result.target
    others = [u for u in result.unmatched if not u.get("fused")]
    if others:
        out.print(f"[dim]{len(others)} tensors exposed by one side only (see results.json 'unmatched')[/]")
    for side, name in (("ref", ref["spec"]), ("target", tgt["spec"])):
        tm = result.timing[side]
        warm = f", {len(tm['warmup_ms'])} warm-up" if tm.get("warmup_ms") else ", cold"
        line = (f"{name}: setup {tm['setup_s']:.3f} s, median {fmt_num(tm['median_ms'])} ms "
                f"({len(tm['latency_ms'])} run(s){warm})")
        out.print(f"[dim]{escape(wrap80(line, indent='    '))}[/]")
    out.print(escape(wrap80(f"run directory: {run_dir}" + (f"  report: {run_dir / 'report.html'}"
                                                           if (run_dir / "report.html").exists() else ""),
                            indent="    ")))
    if result.memory:
        mem, mib = result.memory, 2**20
        out.print(escape(wrap80(f"memory: budget {mem['budget_bytes'] / mib:.1f} MiB, tensors held at most "
                                f"{mem['peak_tensor_bytes'] / mib:.1f} MiB ({mem['chunks']} chunks), peak RSS "
                                f"{mem['peak_rss_bytes'] / mib:.0f} MiB", indent="    ")))
    if result.files.get("model_explorer"):
        files = result.files["model_explorer"].split(",")
        text = (f"Model Explorer: {len(files)} node-data overlays (me_*.json) in the run directory; "
                "report.html has the command that opens them")
        out.print(f"[dim]{escape(wrap80(text, indent='    '))}[/]")
