"""Report for ``trtlab.compare/1`` runs: verdict, findings, metrics, layer-wise plots, histograms, timing."""

from __future__ import annotations

from pathlib import Path

from trtlab.reports import common, compare_task
from trtlab.reports.compare_plots import attribution_plot, histogram_plots, layer_plot
from trtlab.reports.findings import Finding, compare_findings
from trtlab.reports.html import Raw, badge, big_table, esc, figure, fnum, kv, num, page, seconds, table

METRIC_HEADERS = ["tensor", "op", "shape", "max abs", "max rel", "cosine", "SNR dB", "NaN/Inf tgt/ref",
                  "mismatch", "status"]
METRIC_NUMERIC = {3, 4, 5, 6, 7, 8}
WORST_SHOWN = 20


def _nonfinite(m: dict, side: str) -> int:
    return int((m.get("nan") or {}).get(side, 0) or 0) + int((m.get("inf") or {}).get(side, 0) or 0)


def badness(m: dict) -> tuple:
    """Worst first: failing, new NaN/Inf, fraction out of tolerance, 1 - cosine, max relative error."""
    cos = fnum(m.get("cosine"))
    return (not m.get("passed", True), _nonfinite(m, "target") > _nonfinite(m, "ref"),
            fnum(m.get("mismatch_fraction")) or 0.0, 1.0 - (cos if cos is not None else 1.0),
            fnum(m.get("max_abs")) or 0.0)


def metric_row(m: dict) -> list:
    cos = fnum(m.get("cosine"))
    snr = "exact" if m.get("snr_db") is None and fnum(m.get("max_abs")) == 0 else num(fnum(m.get("snr_db")))
    max_abs = num(fnum(m.get("max_abs")))
    if m.get("nonfinite_diff"):  # NaN/Inf differ: the finite-element statistics must not read as a match
        snr, max_abs = "-", f"NaN/Inf ({m['nonfinite_diff']})"
    frac = fnum(m.get("mismatch_fraction"))
    return [m.get("name"), m.get("op") or "", "x".join(map(str, m.get("shape") or [])) or "scalar",
            max_abs, num(fnum(m.get("max_rel"))), f"{cos:.6f}" if cos is not None else "-",
            snr, f"{_nonfinite(m, 'target')}/{_nonfinite(m, 'ref')}", f"{frac:.2%}" if frac is not None else "-",
            Raw(badge(m.get("passed")))]


def _row_class(m: dict) -> str:
    return "" if m.get("passed", True) else "fail"


def verdict(res: dict) -> str:
    outputs = res.get("outputs") or []
    tol = res.get("tolerances") or {}
    ok = bool(res.get("passed"))
    text = (f"{sum(bool(m.get('passed')) for m in outputs)}/{len(outputs)} outputs within "
            f"atol={num(fnum(tol.get('atol')))} rtol={num(fnum(tol.get('rtol')))}")
    layers = res.get("layers")
    if layers:
        text += f" &middot; layers: {len(layers)} compared, {sum(not m.get('passed', True) for m in layers)} " \
                "out of tolerance"
    failed = list(dict.fromkeys(f.get("rule") for f in (res.get("verdict") or {}).get("failures", [])))
    if failed:
        text += f" &middot; failed rule(s): {esc(', '.join(failed))}"
    nf = res.get("first_nonfinite")
    if nf:
        text += f" &middot; first new NaN/Inf: <code>{esc(nf.get('tensor'))}</code> ({esc(nf.get('op'))})"
    fd = res.get("first_divergence")
    if fd:
        text += f" &middot; first divergence: <code>{esc(fd.get('tensor'))}</code> ({esc(fd.get('op'))})"
    weak = (res.get("verdict") or {}).get("weak_inputs")
    if weak:
        text += f" &middot; {esc(weak[0].get('tensor'))} is {esc(weak[0].get('reason'))}: this check proves little"
    label = "element-wise " if "passed" in (res.get("task") or {}) else ""
    return (f'<div class="verdict {"ok" if ok else "bad"}"><b>{label}{"PASSED" if ok else "FAILED"}</b>'
            f'<span>{text}</span></div>')


def run_section(res: dict, run_dir: Path | None = None) -> str:
    model = res.get("model") or {}
    tol = res.get("tolerances") or {}
    per = {**{f"atol {k}": v for k, v in (tol.get("per_atol") or {}).items()},
           **{f"rtol {k}": v for k, v in (tol.get("per_rtol") or {}).items()}}
    pairs = [("model", model.get("path") or model.get("name")), ("sha256", model.get("sha256")),
             ("nodes", model.get("nodes")), ("opsets", common._flat(model.get("opsets") or {})),
             ("producer", model.get("producer")), ("samples", res.get("samples")),
             ("tolerances", f"atol={num(fnum(tol.get('atol')))} rtol={num(fnum(tol.get('rtol')))}"),
             ("per-tensor tolerances", common._flat(per) if per else None),
             ("files", ", ".join(f"{k}: {v}" for k, v in (res.get("files") or {}).items())),
             ("memory", _memory_line(res.get("memory") or {})),
             ("Model Explorer", _explorer_line(res, run_dir))]
    return common.command_line(res) + kv(pairs)


def _memory_line(mem: dict) -> str | None:
    """--max-memory: the budget next to what was used."""
    if not mem:
        return None
    mib = 2**20
    return (f"budget {mem['budget_bytes'] / mib:.1f} MiB; tensors held at most {mem['peak_tensor_bytes'] / mib:.1f} "
            f"MiB in {mem['chunks']} chunk(s); process peak RSS {mem['peak_rss_bytes'] / mib:.0f} MiB "
            "(includes weights and runtimes)")


def _explorer_line(res: dict, run_dir: Path | None) -> str | None:
    """The Model Explorer command; node-data paths relative to the run directory (the report must not depend on
    where the run directory lives)."""
    files = (res.get("files") or {}).get("model_explorer")
    if not files:
        return None
    from trtlab.reports.node_data import open_command

    model = (res.get("model") or {}).get("path") or "MODEL.onnx"
    return "open with (from the run directory): " + open_command(model, files.split(","), None)


def backends_section(res: dict) -> str:
    sides = [("reference", res.get("ref") or {}), ("target", res.get("target") or {})]
    keys = ["spec", "backend", "version", "precision", "provider", "providers", "graph_optimization_level",
            "options", "tensors_exposed", "module", "device", "gpu"]
    extra = [k for _, s in sides for k in s if k not in keys and k != "notes"]
    rows = []
    for key in keys + list(dict.fromkeys(extra)):
        vals = [s.get(key) for _, s in sides]
        if any(v not in (None, "", [], {}) for v in vals):
            rows.append([key.replace("_", " ")] + [common._flat(v) if v not in (None, "") else "-" for v in vals])
    notes = [f"{s.get('spec', name)}: {n}" for name, s in sides for n in s.get("notes") or []]
    return table(["", "reference", "target"], rows, sortable=False) + common.warnings_list(notes)


def findings_section(found: list[Finding]) -> str:
    if not found:
        return '<p class="note">Nothing stands out in the saved metrics.</p>'
    parts = []
    for f in found:
        sev = "bad" if f.severity == "error" else f.severity
        lines = [f'<p><span class="b {sev}">{esc(f.severity)}</span> <code>{esc(f.where)}</code></p>',
                 f'<p><span class="k">hazard</span>{esc(f.hazard)}</p>']
        if f.mitigation:
            lines.append(f'<p><span class="k">mitigation</span>{_code_spans(f.mitigation)}</p>')
        if f.help:
            lines.append(f'<p><span class="k">help</span>{_code_spans(f.help)}</p>')
        parts.append(f'<div class="finding {esc(f.severity)}">{"".join(lines)}</div>')
    return "".join(parts)


def _code_spans(text: str) -> str:
    """`backticks` to <code>, everything escaped."""
    pieces = text.split("`")
    return "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(pieces))


def layers_section(res: dict) -> str:
    layers = res.get("layers")
    if not layers:
        return ""
    plot = figure(layer_plot(layers, res.get("tolerances") or {}, res.get("first_divergence")),
                  "Error of every compared tensor along the graph's topological order. Red dots: out of tolerance; "
                  "dotted lines: tolerances; dashed line: first divergence.")
    index = {m.get("name"): i for i, m in enumerate(layers)}
    ranked = sorted(layers, key=badness, reverse=True)
    rows = [[index[m.get("name")]] + metric_row(m) for m in ranked]
    headers = ["#"] + METRIC_HEADERS
    numeric = {0} | {i + 1 for i in METRIC_NUMERIC}
    classes = [_row_class(m) for m in ranked]
    worst = table(headers, rows[:WORST_SHOWN], numeric=numeric, table_id="worst-layers",
                  row_classes=classes[:WORST_SHOWN])
    full = big_table("All layers, worst first", headers, rows, table_id="all-layers", numeric=numeric,
                     row_classes=classes, open_=False,
                     note="Click a header to sort (# restores topological order); type to filter.")
    return (plot + f"<h3>Worst {min(WORST_SHOWN, len(rows))} layers</h3>" + worst + full)


def attribution_section(res: dict) -> str:
    """Introduced vs inherited error, when the run recorded it (per layer ``introduced``, or ``attribution``)."""
    layers = res.get("layers") or []
    introduced = {m.get("name"): m.get("introduced", m.get("introduced_max_abs")) for m in layers
                  if m.get("introduced", m.get("introduced_max_abs")) is not None}
    for a in res.get("attribution") or []:
        introduced[a.get("tensor")] = a.get("introduced")
    if not introduced or not layers:
        return ""
    rows = []
    for m in layers:
        own, total = fnum(introduced.get(m.get("name"))), fnum(m.get("max_abs"))
        if own is None:
            continue
        share = own / total if total else None
        rows.append([m.get("name"), m.get("op") or "", num(total), num(own), f"{share:.0%}" if share is not None
                     else "-"])
    rows.sort(key=lambda r: fnum(r[3]) or 0, reverse=True)
    return (figure(attribution_plot(layers, introduced), "Error a layer introduces itself (run on reference "
                   "inputs) against its total error; the gap is inherited from earlier layers.")
            + big_table("Layers by introduced error", ["tensor", "op", "total max abs", "introduced", "share"],
                        rows, table_id="attribution", numeric={2, 3, 4}))


def histograms_section(res: dict, run_dir: Path) -> str:
    index = res.get("histograms") or []
    if not index:
        return ""
    arrays, why = common.load_npz(run_dir, (res.get("files") or {}).get("histograms", "histograms.npz"))
    if why:
        return common.note(f"Histograms not shown: {why}.")
    edges = arrays.get("edges_log10")
    hists = [(h.get("tensor"), arrays[h["key"]].tolist()) for h in index if h.get("key") in arrays]
    if edges is None or not hists:
        return common.note("Histograms not shown: histograms.npz holds no usable arrays.")
    svgs = histogram_plots(hists, edges.tolist(), fnum((res.get("tolerances") or {}).get("atol")))
    return ('<p class="note">Distribution of |target - reference| per element (first sample), outputs first, then '
            "the worst layers. Dotted line: atol.</p>" + '<div class="grid">'
            + "".join(figure(s) for s in svgs) + "</div>")


def _percentile(values: list[float], p: float) -> float | None:
    q = sorted(values)
    return q[min(len(q) - 1, round(p / 100 * (len(q) - 1)))] if q else None


def timing_section(res: dict) -> str:
    import statistics

    timing = res.get("timing") or {}
    rows = []
    for side, label in (("ref", "reference"), ("target", "target")):
        t = timing.get(side) or {}
        lat = [fnum(v) for v in t.get("latency_ms") or [] if fnum(v) is not None]
        spec = (res.get(side) or {}).get("spec", side)
        rows.append([f"{label} ({spec})", seconds(t.get("setup_s")), seconds(t.get("build_s")), len(lat),
                     num(fnum(t.get("median_ms")) or (statistics.median(lat) if lat else None)),
                     num(_percentile(lat, 90)), num(_percentile(lat, 99)), num(min(lat) if lat else None),
                     num(max(lat) if lat else None)])
    out = table(["backend", "setup", "build", "runs", "median ms", "p90 ms", "p99 ms", "min ms", "max ms"], rows,
                numeric={1, 2, 3, 4, 5, 6, 7, 8}, sortable=False)
    for side in ("ref", "target"):
        per_layer = (timing.get(side) or {}).get("layers")
        if per_layer:
            rows = sorted(([p.get("name"), num(fnum(p.get("ms") or p.get("time_ms")))] for p in per_layer),
                          key=lambda r: fnum(r[1]) or 0, reverse=True)
            out += big_table(f"Per-layer time, {side}", ["layer", "ms"], rows, table_id=f"layer-time-{side}",
                             numeric={1})
    return out + common.note("Latency is a by-product of the comparison (few runs, tensors exposed); use a "
                             "dedicated benchmark for performance numbers.")


def render(res: dict, run_dir: Path) -> str:
    model = res.get("model") or {}
    ref, tgt = res.get("ref") or {}, res.get("target") or {}
    found = compare_findings(res)
    outputs = res.get("outputs") or []
    out_table = table(METRIC_HEADERS, [metric_row(m) for m in outputs], numeric=METRIC_NUMERIC,
                      table_id="outputs", row_classes=[_row_class(m) for m in outputs])
    unmatched = res.get("unmatched") or []
    misc = common.warnings_list(res.get("warnings"))
    if unmatched:
        misc += big_table("Tensors exposed by one side only", ["tensor", "reason"],
                          [[u.get("tensor"), u.get("reason")] for u in unmatched], table_id="unmatched")
    sections = [("run", "Run", run_section(res, run_dir)), ("findings", "Findings", findings_section(found)),
                ("outputs", "Outputs", out_table if outputs else common.note("No output could be compared.")),
                ("task", "Task metrics", compare_task.section(res, run_dir)),
                ("layers", "Layer-wise error", layers_section(res)),
                ("attribution", "Introduced vs inherited error", attribution_section(res)),
                ("histograms", "Error histograms", histograms_section(res, run_dir)),
                ("timing", "Timing", timing_section(res)),
                ("backends", "Backends", backends_section(res)),
                ("environment", "Environment", common.environment(res)),
                ("warnings", "Warnings and unmatched tensors", misc)]
    subtitle = (f"{esc(tgt.get('spec', 'target'))} vs {esc(ref.get('spec', 'reference'))} &middot; "
                f"{esc((res.get('environment') or {}).get('time', ''))}")
    return page(f"trtlab compare: {model.get('name', run_dir.name)}", subtitle,
                verdict(res) + compare_task.verdict_html(res), sections,
                common.footer(res, run_dir))
