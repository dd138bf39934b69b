"""Layer-wise comparison of two backends on the same inputs.

The work streams sample by sample: both backends run one sample, every matched tensor is compared and its
arrays dropped, so peak memory is one sample's tensors per backend, not all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trtlab import backends
from trtlab.backends import BackendSpec
from trtlab.comparators import TensorMetrics, Tolerances, compare_arrays, merge_samples
from trtlab.comparators import verdict as rules
from trtlab.comparators.tolerances import precision_of
from trtlab.comparison.task import TaskOptions, Tracker
from trtlab.model import LoadedModel, model_summary, walk_nodes
from trtlab.results import Result
from trtlab.ui import progress

SCHEMA = "trtlab.compare/1"
HIST_EDGES = np.arange(-12.0, 6.01, 0.25)  # log10 |error| bins; exact matches are counted apart
HIST_TOP = 12
HIST_BLOCK = 1 << 16


@dataclass
class LayerInfo:
    tensor: str
    node: str
    op: str


def topo_tensors(model: LoadedModel, weights: bool = False) -> tuple[list[LayerInfo], int]:
    """Node outputs of the main graph in topological order, and how many tensors live in subgraph bodies.
    Weights (Constant outputs) are not layers unless ``weights``."""
    layers = []
    for i, node in enumerate(model.proto.graph.node):
        if node.op_type == "Constant" and not weights:
            continue
        for out in node.output:
            if out:
                layers.append(LayerInfo(out, node.name or f"{node.op_type}_{i}", node.op_type))
    nested = sum(sum(1 for o in n.output if o) for n, depth in walk_nodes(model.proto.graph) if depth > 0)
    return layers, nested


@dataclass
class CompareResult(Result):
    schema: str
    model: dict
    ref: dict
    target: dict
    tolerances: dict
    samples: int
    passed: bool
    outputs: list[TensorMetrics]
    layers: list[TensorMetrics] | None
    first_divergence: dict | None
    worst_layers: list[str]
    unmatched: list[dict]
    timing: dict
    warnings: list[str]
    histograms: list[dict] = field(default_factory=list)
    files: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    command: str = "compare"
    argv: list[str] = field(default_factory=list)
    attribution: list[dict] = field(default_factory=list)  # --attribute: introduced vs total error per layer
    attribution_skipped: list[dict] = field(default_factory=list)
    verdict: dict = field(default_factory=dict)  # comparators.verdict: rules, failures, weak inputs
    first_nonfinite: dict | None = None  # the first tensor where the target has NaN/Inf the reference lacks
    findings: list[dict] = field(default_factory=list)  # comparators.findings, as the report shows them
    settled: list[dict] = field(default_factory=list)  # reference vs onnxrt disagreements judged by an oracle
    task: dict | None = None  # --task metrics (trtlab.comparison.task), or a hint naming the flag
    memory: dict = field(default_factory=dict)  # --max-memory: budget, chunks, peaks (comparison/budget.py)
    fp16_risk: list[dict] = field(default_factory=list)  # --fp16-risk: ranked FP16/BF16 risk per node
    qdq: list[dict] = field(default_factory=list)  # --target-model with Q/DQ pairs: per-pair SQNR, worst first
    qdq_exclude: list[str] = field(default_factory=list)  # ModelOpt --nodes_to_exclude for the worst pairs


class _Accumulator:
    """Per-tensor metrics over samples, plus error histograms from the first sample."""

    def __init__(self, tolerances: Tolerances, outputs: list[str] = ()):
        self.tol = tolerances
        self.per_tensor: dict[str, list[TensorMetrics]] = {}
        self.hist: dict[str, np.ndarray] = {}
        self.outputs = set(outputs)
        self.stats: dict[str, list[dict]] = {}  # graph outputs: what the verdict rules need (verdict.py)

    def add(self, name: str, ref: np.ndarray, out: np.ndarray, sample: int) -> None:
        atol, rtol = self.tol.for_tensor(name)
        self.per_tensor.setdefault(name, []).append(compare_arrays(name, ref, out, atol, rtol))
        if name in self.outputs and ref.shape == out.shape:
            self.stats.setdefault(name, []).append(rules.output_stats(ref, out))
        if sample == 0 and ref.shape == out.shape and ref.dtype.kind == "f":
            self.hist[name] = _histogram(ref, out)


def _histogram(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Counts: [exact, non-finite, then one per log10 bin in HIST_EDGES]. Blockwise in float64 (no full-size
    copies); uniform bins give the same counts as the explicit edges, faster."""
    r_all, o_all = ref.reshape(-1), out.reshape(-1)
    lo, hi, bins = HIST_EDGES[0], HIST_EDGES[-1], len(HIST_EDGES) - 1
    counts = np.zeros(bins, np.int64)
    exact = nonfinite = 0
    for start in range(0, r_all.size, HIST_BLOCK):
        block = slice(start, start + HIST_BLOCK)
        with np.errstate(all="ignore"):
            err = np.abs(o_all[block].astype(np.float64) - r_all[block].astype(np.float64))
            finite = np.isfinite(err)
            exact += int(np.count_nonzero(err == 0))
            nonfinite += int(err.size - np.count_nonzero(finite))
            nonzero = err[finite & (err > 0)]
            if nonzero.size:
                counts += np.histogram(np.clip(np.log10(nonzero), lo, hi), bins=bins, range=(lo, hi))[0]
    return np.concatenate([[exact, nonfinite], counts]).astype(np.int64)


def run_compare(model: LoadedModel, ref_spec: BackendSpec, target_spec: BackendSpec, samples: list[dict],
                tolerances: Tolerances, layerwise: bool, save_outputs_to: Path | None = None,
                quiet: bool = False, warmup: int = 1, min_cosine: float | None = None,
                layerwise_weights: bool = False, task: TaskOptions | None = None,
                max_memory: int | None = None, target_model: LoadedModel | None = None
                ) -> tuple[CompareResult, dict[str, np.ndarray]]:
    """Compare ``target`` against ``ref``; return the result and the histogram arrays (for the run dir).
    ``warmup`` untimed runs of the first sample on each backend come first, so latencies are warm.
    ``min_cosine`` None: the default for the target's precision (comparators.verdict).
    ``max_memory`` (bytes, layer-wise only): run in chunks of marked tensors that fit it (comparison/budget.py).
    ``target_model``: the target runs this model instead (``compare A --target-model B``); tensors are matched by
    name, graph outputs by position where their names differ."""
    warnings = list(model.warnings)
    if min_cosine is None:
        min_cosine = rules.default_min_cosine(precision_of(target_spec))
    layers, nested = topo_tensors(model, layerwise_weights) if layerwise else ([], 0)
    other = target_model or model
    other_layers = [layer.tensor for layer in topo_tensors(other)[0]] if layerwise and target_model else None
    rename = output_map(model.proto, other.proto) if target_model else {}
    if layerwise and nested:
        warnings.append(f"{nested} tensors inside If/Loop/Scan bodies are not compared: the backends expose only "
                        "main-graph tensors")
    layer_names = [layer.tensor for layer in layers]
    output_names = [o.name for o in model.proto.graph.output]
    summary = model_summary(model)
    acc = _Accumulator(tolerances, output_names)
    tracker = Tracker(task, output_names)
    saved: dict[str, dict[str, np.ndarray]] = {"ref": {}, "target": {}}
    if max_memory is not None and layerwise:
        if target_model is not None:
            from trtlab.errors import TrtlabError

            raise TrtlabError("--target-model", "is not available with --max-memory", "drop --max-memory")
        if task is not None:
            from trtlab.errors import TrtlabError

            raise TrtlabError("--task", "is not available with --max-memory (chunked runs keep no outputs)",
                              "run the task comparison without --max-memory")
        result, hist = _run_bounded(model, summary, ref_spec, target_spec, samples, tolerances, layers,
                                    output_names, acc, saved, save_outputs_to, quiet, warmup, max_memory, warnings)
        fused = {}
    else:
        pair = (target_model, other_layers, rename)
        result, hist, fused = _run_streaming(model, summary, ref_spec, target_spec, samples, tolerances, layers,
                                             layer_names, output_names, acc, tracker, saved, save_outputs_to,
                                             quiet, warmup, warnings, pair)
    from trtlab.comparison.verdict import apply_verdict, settle_disagreement

    settle_disagreement(result, model.proto, ref_spec, target_spec, samples[0])
    apply_verdict(result, acc.stats, min_cosine, fused, model.proto)
    tracker.finish(result, hist)
    return result, hist


def _run_streaming(model, summary, ref_spec, target_spec, samples, tolerances, layers, layer_names, output_names,
                   acc, tracker, saved, save_outputs_to, quiet, warmup, warnings, pair):
    """Both backends loaded once, samples streamed through them; the usual (unbounded) path. ``pair``:
    (the target's own model or None, its layer tensors, {its output name: the reference's})."""
    target_model, other_layers, rename = pair
    other = target_model or model
    from trtlab.comparison.spill import Spill

    with progress(quiet) as bar, backends.create(ref_spec) as ref, backends.create(target_spec) as target, \
            Spill() as spill:
        task = bar.add_task(f"loading {ref_spec}", total=2 + 2 * len(samples))
        ref.load(model.proto, layer_names, model_sha256=summary["sha256"])
        bar.update(task, advance=1, description=f"loading {target_spec}")
        target.load(other.proto, layer_names if other_layers is None else other_layers,
                    model_sha256=summary["sha256"] if target_model is None else None)
        bar.advance(task)
        if warmup:
            bar.update(task, description="warming up")
            ref.warmup(samples[0], warmup)
            target.warmup(samples[0], warmup)
        for i, feeds in enumerate(samples):
            bar.update(task, description=f"sample {i + 1}/{len(samples)}: running {ref_spec}")
            ref_out = ref.run(feeds)
            spill.park(ref_out, keep=set(output_names))  # layer tensors wait on disk while the target runs
            bar.update(task, advance=1, description=f"sample {i + 1}/{len(samples)}: running {target_spec}")
            tgt_out = target.run(feeds)
            if rename:
                tgt_out = {rename.get(k, k): v for k, v in tgt_out.items()}
            if save_outputs_to is not None:
                for side, values in (("ref", ref_out), ("target", tgt_out)):
                    saved[side].update({f"{i}/{n}": values[n] for n in output_names if n in values})
            tracker.add(i, ref_out, tgt_out)
            for name in list(ref_out):
                if name in tgt_out:
                    acc.add(name, ref_out.pop(name), tgt_out.pop(name), i)
            for name in spill.names():
                value = spill.take(name)
                if name in tgt_out:
                    acc.add(name, value, tgt_out.pop(name), i)
            bar.advance(task)
        tgt_exposed = [rename.get(x, x) for x in target.exposed]
        unmatched = _unmatched(ref.exposed, tgt_exposed, output_names,
                               layer_names + [n for n in (other_layers or []) if n not in set(layer_names)],
                               two_models=target_model is not None)
        ref_info = {**ref.info, "notes": ref.notes, "tensors_exposed": len(ref.exposed)}
        tgt_info = {**target.info, "notes": target.notes, "tensors_exposed": len(target.exposed)}
        if target_model is not None:
            tgt_info["model"] = model_summary(target_model)
            tgt_info["outputs_by_position"] = rename
        timing = {"ref": _timing(ref), "target": _timing(target)}
    if save_outputs_to is not None:
        _save_outputs(save_outputs_to, saved, len(samples))
    result, hist = _assemble(model, summary, ref_info, tgt_info, tolerances, samples, layers, output_names, acc,
                             unmatched, timing, warnings)
    return result, hist, getattr(target, "fused", {})


def _run_bounded(model, summary, ref_spec, target_spec, samples, tolerances, layers, output_names, acc, saved,
                 save_outputs_to, quiet, warmup, max_memory, warnings):
    from trtlab.comparison.budget import run_bounded

    layer_names = [layer.tensor for layer in layers]
    ref_info, tgt_info, exposed, timing, memory, more = run_bounded(
        model, ref_spec, target_spec, samples, acc, layer_names, output_names, max_memory,
        saved if save_outputs_to is not None else None, quiet, warmup, summary["sha256"])
    if save_outputs_to is not None:
        _save_outputs(save_outputs_to, saved, len(samples))
    unmatched = _unmatched(exposed["ref"], exposed["target"], output_names, layer_names)
    result, hist = _assemble(model, summary, ref_info, tgt_info, tolerances, samples, layers, output_names, acc,
                             unmatched, timing, warnings + more)
    result.memory = memory
    return result, hist


def _timing(backend) -> dict:
    lat = backend.timing.latency_ms
    return {"setup_s": round(backend.timing.setup_s, 4), "latency_ms": [round(x, 4) for x in lat],
            "median_ms": float(np.median(lat)) if lat else None,
            "warmup_ms": [round(x, 4) for x in backend.timing.warmup_ms]}


def _unmatched(ref_exposed: list[str], tgt_exposed: list[str], outputs: list[str], layers: list[str],
               two_models: bool = False) -> list[dict]:
    ref_set, tgt_set = set(ref_exposed), set(tgt_exposed)
    only_ref = "only in the original model" if two_models else "not exposed by the target (fused away or not markable)"
    only_tgt = "only in the target model" if two_models else "not exposed by the reference"
    out = []
    for name in dict.fromkeys(outputs + layers):
        if name in ref_set and name not in tgt_set:
            out.append({"tensor": name, "reason": only_ref})
        elif name in tgt_set and name not in ref_set:
            out.append({"tensor": name, "reason": only_tgt})
    return out


def output_map(original, other) -> dict[str, str]:
    """``other``'s graph outputs whose names ``original`` lacks -> ``original``'s output at the same position."""
    names = [o.name for o in original.graph.output]
    mapping = {}
    for i, o in enumerate(other.graph.output):
        if o.name not in names and i < len(names):
            mapping[o.name] = names[i]
    return mapping


def _save_outputs(run_dir: Path, saved: dict, n_samples: int) -> None:
    from trtlab.rundir import atomic_savez

    for side, arrays in saved.items():
        if n_samples == 1:
            arrays = {k.split("/", 1)[1]: v for k, v in arrays.items()}
        atomic_savez(run_dir / f"{side}_outputs.npz", arrays)


def _assemble(model, summary, ref_info, tgt_info, tolerances, samples, layers, output_names, acc, unmatched, timing,
              warnings) -> tuple[CompareResult, dict[str, np.ndarray]]:
    merged = {name: merge_samples(ms) for name, ms in acc.per_tensor.items()}
    node_of = {layer.tensor: layer for layer in layers}
    producers = {o: (n.name or f"{n.op_type}_{i}", n.op_type) for i, n in enumerate(model.proto.graph.node)
                 for o in n.output}
    for name, m in merged.items():
        m.node, m.op = producers.get(name, (None, None))
    outputs = [merged[n] for n in output_names if n in merged]
    layer_metrics = [merged[layer.tensor] for layer in layers if layer.tensor in merged] if layers else None
    first = None
    if layer_metrics:
        bad = next((m for m in layer_metrics if not m.passed), None)
        if bad is not None:
            first = {"tensor": bad.name, "node": node_of[bad.name].node, "op": node_of[bad.name].op,
                     "reason": bad.reason}
    worst = _worst(layer_metrics or outputs)
    passed = bool(outputs) and all(m.passed for m in outputs) and not any(
        u["tensor"] in output_names for u in unmatched)
    if not outputs:
        warnings.append("no graph output could be compared")
    hist_arrays, hist_index = {}, []
    keep = list(dict.fromkeys([m.name for m in outputs] + worst))
    for i, name in enumerate(n for n in keep if n in acc.hist):
        hist_arrays[f"h{i}"] = acc.hist[name]
        hist_index.append({"tensor": name, "key": f"h{i}"})
    if hist_index:
        hist_arrays["edges_log10"] = HIST_EDGES
    result = CompareResult(
        schema=SCHEMA, model=summary, ref=ref_info, target=tgt_info,
        tolerances={"atol": tolerances.atol, "rtol": tolerances.rtol, "per_atol": tolerances.per_atol,
                    "per_rtol": tolerances.per_rtol},
        samples=len(samples), passed=passed, outputs=outputs, layers=layer_metrics, first_divergence=first,
        worst_layers=worst, unmatched=unmatched, timing=timing, warnings=warnings, histograms=hist_index)
    return result, hist_arrays


def _badness(m: TensorMetrics) -> tuple:
    nonfinite = (m.nan["target"] - m.nan["ref"]) + (m.inf["target"] - m.inf["ref"])
    cos = m.cosine if m.cosine is not None else 1.0
    return (not m.passed, nonfinite > 0, m.mismatch_fraction, 1.0 - cos, m.max_rel or 0.0)


def _worst(metrics: list[TensorMetrics], k: int = HIST_TOP) -> list[str]:
    ranked = sorted(metrics, key=_badness, reverse=True)
    return [m.name for m in ranked[:k] if _badness(m)[0] or (m.max_abs or 0) > 0]
