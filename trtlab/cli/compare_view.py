"""Terminal rendering of a comparison: verdict, outputs table, first divergence and worst layers."""

from __future__ import annotations

from pathlib import Path

from trtlab.ui import fmt_num, out, warn


def _metrics_table(title: str, rows):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col, just in (("tensor", "left"), ("op", "left"), ("shape", "left"), ("max abs", "right"),
                      ("max rel", "right"), ("cosine", "right"), ("SNR dB", "right"), ("NaN/Inf", "right"),
                      ("mismatch", "right"), ("", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for m in rows:
        nonfinite = f"{m.nan['target'] + m.inf['target']}/{m.nan['ref'] + m.inf['ref']}"
        snr = "exact" if m.snr_db is None and m.max_abs == 0 else fmt_num(m.snr_db)
        t.add_row(m.name, m.op or "", "x".join(map(str, m.shape or [])) or "scalar", fmt_num(m.max_abs),
                  fmt_num(m.max_rel), fmt_num(m.cosine, 6) if m.cosine is not None else "-", snr, nonfinite,
                  f"{m.mismatch_fraction:.2%}", "[green]ok[/]" if m.passed else "[red]FAIL[/]")
    return t


def _attribution_table(entries: list[dict]):
    from rich.table import Table

    t = Table(title="error attribution (each layer run alone on the target, fed the reference's inputs)")
    for h in ("layer", "op", "total max abs", "introduced by the node", "verdict"):
        t.add_column(h, justify="right" if "abs" in h or "introduced" in h else "left")
    for e in entries:
        style = "red" if e["verdict"] == "introduces" else "dim"
        t.add_row(e["tensor"], e["op"], fmt_num(e["total"]), fmt_num(e["introduced"]),
                  f"[{style}]{e['verdict']}[/]")
    return t


def print_result(result, run_dir: Path) -> None:
    for w in result.warnings:
        warn(w)
    ref, tgt = result.ref, result.target
    for side in (ref, tgt):
        for note in side.get("notes", []):
            out.print(f"[dim]{side['spec']}: {note}[/]")
    verdict = "[bold green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    tol = result.tolerances
    out.print(f"{verdict}  {tgt['spec']} vs {ref['spec']} on {result.model['name']}: "
              f"{sum(m.passed for m in result.outputs)}/{len(result.outputs)} outputs within "
              f"atol={tol['atol']:g} rtol={tol['rtol']:g} ({result.samples} sample(s))")
    out.print(_metrics_table("outputs", result.outputs))
    if result.layers is not None:
        failing = sum(not m.passed for m in result.layers)
        out.print(f"layers: {len(result.layers)} compared, {failing} out of tolerance")
        fd = result.first_divergence
        if fd:
            out.print(f"[bold]first divergence:[/] tensor [cyan]{fd['tensor']}[/] from node {fd['node']} "
                      f"({fd['op']}): {fd['reason']}")
        by_name = {m.name: m for m in result.layers}
        worst = [by_name[n] for n in result.worst_layers[:10] if n in by_name]
        if worst:
            out.print(_metrics_table("worst layers", worst))
    if result.attribution:
        out.print(_attribution_table(result.attribution))
    if result.unmatched:
        out.print(f"[dim]{len(result.unmatched)} tensors exposed by one side only (see results.json 'unmatched')[/]")
    for side, name in (("ref", ref["spec"]), ("target", tgt["spec"])):
        tm = result.timing[side]
        warm = f" after {len(tm['warmup_ms'])} warm-up run(s)" if tm.get("warmup_ms") else " (cold)"
        out.print(f"[dim]{name}: setup {tm['setup_s']:.3f} s, inference median {fmt_num(tm['median_ms'])} ms "
                  f"over {len(tm['latency_ms'])} run(s){warm}[/]")
    if result.memory:
        mem, mib = result.memory, 2**20
        out.print(f"memory: budget {mem['budget_bytes'] / mib:.1f} MiB, tensors held at most "
                  f"{mem['peak_tensor_bytes'] / mib:.1f} MiB ({mem['chunks']} chunks), peak RSS "
                  f"{mem['peak_rss_bytes'] / mib:.0f} MiB")
    if result.files.get("model_explorer"):
        from trtlab.reports.node_data import open_command

        model = result.model.get("path") or "MODEL.onnx"
        out.print(f"[dim]Model Explorer: {open_command(model, result.files['model_explorer'].split(','), run_dir)}[/]",
                  soft_wrap=True)
    out.print(f"run directory: {run_dir}" + (f"  report: {run_dir / 'report.html'}"
                                            if (run_dir / "report.html").exists() else ""))
