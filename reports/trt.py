"""Reports for ``trtlab.check/1`` (parser support: unsupported nodes, partitions) and ``trtlab.build/1`` (options,
profiles, engine layers, build timing; for a failed build, ``passed`` false, why: the refused nodes and hints)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from trtlab.reports import common
from trtlab.reports.generic import dict_table
from trtlab.reports.html import Raw, badge, big_table, esc, figure, fnum, kv, num, page, seconds, table
from trtlab.reports.plots import COLORS, new_figure, to_svg


def _module(res: dict) -> str:
    m = res.get("module")
    if isinstance(m, dict):
        return f"{m.get('name', '?')} {m.get('version', '')}".strip()
    return str(m or "")


PARSER_LEGEND = "node index (green: supported by the parser, red: not supported)"


def partition_plot(partitions: list[dict], n_nodes: int, legend: str = PARSER_LEGEND) -> str:
    """One strip along node index: supported ranges green, unsupported red."""
    spans = []
    for p in partitions:
        rng = p.get("nodes") or []
        if len(rng) == 2 and all(isinstance(v, int) for v in rng):
            spans.append((rng[0], rng[1] - rng[0] + 1, bool(p.get("supported"))))
    if not spans:
        return ""
    fig, axes = new_figure(1, 1, width=11, height=1.3)
    ax = axes[0, 0]
    for start, width, ok in spans:
        ax.broken_barh([(start - 0.5, width)], (0, 1), color=COLORS["alt"] if ok else COLORS["bad"])
    ax.set_xlim(-0.5, max(n_nodes, max(s + w for s, w, _ in spans)) - 0.5)
    ax.set_yticks([])
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(False)
    ax.set_xlabel(legend, fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def _spans(segment: dict) -> list[dict]:
    """A segment's node ids as consecutive [start, end] runs (a segment need not be contiguous in node order)."""
    ids = sorted(i for i in segment.get("node_ids") or [] if isinstance(i, int))
    runs: list[list[int]] = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [{"nodes": r, "supported": segment.get("backend") == "trt"} for r in runs]


def _runs_text(spans: list[dict], limit: int = 6) -> str:
    """"0-3, 7-9, ..." with at most ``limit`` runs (a scattered fallback segment stays one short cell)."""
    text = ", ".join(f"{r['nodes'][0]}-{r['nodes'][1]}" for r in spans[:limit])
    return text + (f", ... ({len(spans) - limit} more)" if len(spans) > limit else "")


def _isolation_section(iso: dict, n_nodes: int) -> str:
    """The partition ``--isolate-unsupported`` builds: a strip along node index and one row per segment."""
    from trtlab.partition.summary import summary_line

    segments = [s for s in iso.get("segments") or [] if isinstance(s, dict)]
    plot = partition_plot([r for s in segments for r in _spans(s)], n_nodes,
                          "node index (green: in a TensorRT segment, red: on the fallback)")
    rows = [[s.get("index"), _runs_text(_spans(s)), len(s.get("node_ids") or []),
             Raw(badge(s.get("backend") == "trt", "TensorRT", "fallback"))] for s in segments]
    head = common.note(f"Isolating the refused nodes (`trtlab surgeon MODEL --isolate-unsupported -o DIR`, "
                       f"--min-segment-size {iso.get('min_segment_size')}) builds {summary_line(iso)}.")
    return head + (figure(plot) if plot else "") + table(["#", "nodes", "size", "runs on"], rows, numeric={0, 2},
                                                         table_id="partitions")


def render_check(res: dict, run_dir: Path) -> str:
    from trtlab.partition.summary import summary_line

    nodes = [n for n in res.get("nodes") or [] if isinstance(n, dict)]
    partitions = [p for p in res.get("partitions") or [] if isinstance(p, dict)]
    iso = res.get("isolation") if isinstance(res.get("isolation"), dict) else {}
    bad = [n for n in nodes if n.get("supported") is False or n.get("error")]
    ok = res.get("parseable")
    summary = f"{len(bad)} of {len(nodes)} nodes unsupported" if nodes else ""
    if iso.get("segments"):
        summary += f" &middot; isolation: {esc(summary_line(iso))}"
    banner = (f'<div class="verdict {"ok" if ok else "bad"}"><b>{"PARSEABLE" if ok else "NOT PARSEABLE"}</b>'
              f"<span>{summary} &middot; {esc(_module(res))}</span></div>")
    ops = Counter(f"{n.get('domain') or 'ai.onnx'}::{n.get('op')}" for n in bad)
    unsupported = (table(["index", "node", "op", "domain", "parser message", "hint"],
                         [[n.get("index", "-"), n.get("name"), n.get("op"), n.get("domain") or "ai.onnx",
                           n.get("error") or "", n.get("hint") or ""] for n in bad],
                         numeric={0}, table_id="unsupported")
                   + "<h3>By op type</h3>" + table(["op type", "nodes"], [[k, v] for k, v in ops.most_common()],
                                                   numeric={1}, sortable=False)) if bad else \
        common.note("Every node is supported." if nodes else "No per-node results were recorded.")
    part_rows = []
    for i, p in enumerate(partitions):
        rng = p.get("nodes") or []
        size = rng[1] - rng[0] + 1 if len(rng) == 2 and all(isinstance(v, int) for v in rng) else "-"
        part_rows.append([i, "-".join(map(str, rng)), size, Raw(badge(bool(p.get("supported")), "supported",
                                                                      "not as a whole"))])
    n_nodes = len(nodes) or max((p["nodes"][1] + 1 for p in partitions if len(p.get("nodes") or []) == 2),
                                default=0)
    if iso.get("segments"):
        parts = _isolation_section(iso, n_nodes) + "<h3>Parser capability query</h3>" + common.note(
            "The node ranges the parser's capability query (supports_model_v2) returns; a range is not a segment "
            "(isolation above re-parses each TensorRT segment on its own and drops those under "
            "--min-segment-size).") + (table(["#", "nodes", "size", "parser"], part_rows, numeric={0, 2},
                                             table_id="capability") if part_rows else "")
    else:
        plot = partition_plot(partitions, n_nodes) if partitions else ""
        parts = (figure(plot) if plot else "") + (table(["#", "nodes", "size", "parser"], part_rows,
                                                        numeric={0, 2}, table_id="partitions") if part_rows else "")
    all_nodes = big_table("All nodes", ["index", "node", "op", "domain", "supported", "message"],
                          [[n.get("index", "-"), n.get("name"), n.get("op"), n.get("domain") or "ai.onnx",
                            Raw(badge(n.get("supported"), "yes", "no")), n.get("error") or ""] for n in nodes],
                          table_id="all-nodes", numeric={0}) if nodes else ""
    run = common.command_line(res) + kv([("model", model_label(res, run_dir, full=True)),
                                         ("TensorRT module", _module(res)), ("nodes", len(nodes) or None)])
    sections = [("run", "Run", run), ("unsupported", "Unsupported nodes", unsupported),
                ("partitions", "Partitions", parts), ("nodes", "Nodes", all_nodes),
                ("warnings", "Warnings", common.warnings_list(res.get("warnings"))),
                ("environment", "Environment", common.environment(res))]
    return page(f"trtlab check: {model_label(res, run_dir)}", esc(_module(res)), banner,
                sections, common.footer(res, run_dir))


def profile_rows(profiles) -> list[list]:
    """Profiles as rows (profile, input, min, opt, max), from [{input: {min, opt, max}}] or [{name, min, ...}]."""
    rows = []
    for i, prof in enumerate(profiles if isinstance(profiles, list) else [profiles]):
        if not isinstance(prof, dict):
            continue
        if {"min", "opt", "max"} <= set(prof):
            rows.append([i, prof.get("name") or prof.get("input", "-"),
                         *(_dims(prof[k]) for k in ("min", "opt", "max"))])
            continue
        for name, shapes in prof.items():
            if isinstance(shapes, dict):
                rows.append([i, name, *(_dims(shapes.get(k)) for k in ("min", "opt", "max"))])
    return rows


def _dims(value) -> str:
    return "x".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value if value is not None else "-")


def failure_section(res: dict) -> str:
    """A failed build (``passed`` false): the error, and for a parser refusal the refused nodes as in check."""
    failure = res.get("failure") if isinstance(res.get("failure"), dict) else {}
    nodes = [n for n in res.get("nodes") or [] if isinstance(n, dict)]
    errors = [e for e in res.get("errors") or [] if isinstance(e, dict)]
    html = kv([("stage", failure.get("stage")), ("error", failure.get("error")), ("hint", failure.get("hint"))])
    if nodes:
        html += "<h3>Unsupported nodes</h3>" + table(
            ["index", "node", "op", "domain", "parser message", "hint"],
            [[n.get("index", "-"), n.get("name"), n.get("op"), n.get("domain") or "ai.onnx", n.get("error") or "",
              n.get("hint") or ""] for n in nodes], numeric={0}, table_id="unsupported")
    if errors:
        html += "<h3>Model-level parser errors</h3>" + table(
            ["parser message", "hint"], [[e.get("message"), e.get("hint") or ""] for e in errors], sortable=False)
    messages = [m for m in failure.get("messages") or [] if isinstance(m, str)]
    if messages:
        html += "<h3>TensorRT log</h3>" + common.warnings_list(list(dict.fromkeys(messages)))
    return html


def debug_section(debug) -> str:
    """``--mark debug-unfused``: the candidate debug tensors and their ONNX names (survivors known on a GPU)."""
    if not isinstance(debug, dict) or not debug:
        return common.note("No debug tensors (build with --mark debug-unfused to read the tensors that survive "
                           "fusion without preventing it).")
    cands = debug.get("candidates") or []
    head = common.note(f"mode: {debug.get('mode')}; {len(cands)} candidate tensors, "
                       f"{sum(1 for c in cands if c.get('onnx'))} of them ONNX tensors. {debug.get('note') or ''}")
    return head + big_table("Debug tensor candidates", ["tensor", "ONNX tensor"],
                            [[c.get("tensor"), c.get("onnx") or "-"] for c in cands], table_id="debug-tensors")


def render_build(res: dict, run_dir: Path) -> str:
    layers = res.get("layers") or []
    layers = layers.get("items") or [] if isinstance(layers, dict) else layers  # results.json: {source, count, items}
    layers = [layer for layer in layers if isinstance(layer, dict)]
    timing = res.get("timing") or {}
    built = res.get("engine")
    built = built.get("path") if isinstance(built, dict) else built
    failed = res.get("passed") is False or not built
    if failed:
        stage = (res.get("failure") or {}).get("stage") if isinstance(res.get("failure"), dict) else None
        detail = f"{len(res['nodes'])} unsupported node(s)" if isinstance(res.get("nodes"), list) and res["nodes"] \
            else f"the {stage or 'build'} step failed"
    else:
        detail = f"{built} · {len(layers)} engine layers"
    banner = (f'<div class="verdict {"bad" if failed else "ok"}"><b>{"NOT BUILT" if failed else "BUILT"}</b>'
              f"<span>{esc(detail)} &middot; {esc(_module(res))}</span></div>")
    options = res.get("options") or {}
    prof = profile_rows(res.get("profiles") or [])
    prof_html = table(["profile", "input", "min", "opt", "max"], prof, numeric={0}, table_id="profiles") if prof \
        else common.note("Static shapes: no optimization profile.")
    type_key = next((k for k in ("type", "LayerType", "layer_type") if any(k in lay for lay in layers)), None)
    types = Counter(str(lay.get(type_key)) for lay in layers) if type_key else Counter()
    layer_html = (table(["layer type", "layers"], [[k, v] for k, v in types.most_common()], numeric={1},
                        sortable=False) if types else "") + (dict_table("Engine layers", layers, "layers")
                                                             if layers else common.note(
                                                                 "No layer information (the engine inspector was "
                                                                 "not available or the build did not finish)."))
    timing_pairs = [(k.replace("_", " "), seconds(v) if k.endswith("_s") else num(fnum(v)) if fnum(v) is not None
                     else common._flat(v)) for k, v in timing.items()]
    sections = [("run", "Run", common.command_line(res) + kv([("model", model_label(res, run_dir, full=True)),
                                                             ("engine", built), ("TensorRT module", _module(res))]))]
    if failed and (res.get("failure") or res.get("nodes")):
        sections.append(("failure", "Why it did not build", failure_section(res)))
    sections += [
        ("options", "Build options", kv([(k, common._flat(v)) for k, v in options.items()])),
        ("profiles", "Optimization profiles", prof_html), ("layers", "Engine layers", layer_html),
        ("timing", "Timing", kv(timing_pairs)),
        ("provenance", "Provenance", kv([(k, common._flat(v)) for k, v in (res.get("provenance") or {}).items()
                                         if k != "debug_tensors"])),
        ("debug", "Debug tensors", debug_section((res.get("provenance") or {}).get("debug_tensors"))),
        ("warnings", "Warnings", common.warnings_list(res.get("warnings"))),
        ("environment", "Environment", common.environment(res))]
    return page(f"trtlab build: {model_label(res, run_dir)}", esc(_module(res)), banner,
                sections, common.footer(res, run_dir))


def render(res: dict, run_dir: Path) -> str:
    if str(res.get("schema", "")).startswith("trtlab.build/"):
        return render_build(res, run_dir)
    return render_check(res, run_dir)


def model_label(res: dict, run_dir: Path, full: bool = False) -> str:
    """The model's file name (or path) for a title: results hold it as a path or as a summary dict."""
    model = res.get("model")
    if isinstance(model, dict):
        model = model.get("path") or model.get("name")
    text = str(model or run_dir.name)
    return text if full else Path(text).name
