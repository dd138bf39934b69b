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


def topo_tensors(model: LoadedModel) -> tuple[list[LayerInfo], int]:
    """Node outputs of the main graph in topological order, and how many tensors live in subgraph bodies."""
    layers = []
    for i, node in enumerate(model.proto.graph.node):
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


class _Accumulator:
    """Per-tensor metrics over samples, plus error histograms from the first sample."""

    def __init__(self, tolerances: Tolerances):
        self.tol = tolerances
        self.per_tensor: dict[str, list[TensorMetrics]] = {}
        self.hist: dict[str, np.ndarray] = {}

    def add(self, name: str, ref: np.ndarray, out: np.ndarray, sample: int) -> None:
        atol, rtol = self.tol.for_tensor(name)
        self.per_tensor.setdefault(name, []).append(compare_arrays(name, ref, out, atol, rtol))
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
                quiet: bool = False, warmup: int = 1) -> tuple[CompareResult, dict[str, np.ndarray]]:
    """Compare ``target`` against ``ref``; return the result and the histogram arrays (for the run dir).
    ``warmup`` untimed runs of the first sample on each backend come first, so latencies are warm."""
    warnings = list(model.warnings)
    layers, nested = topo_tensors(model) if layerwise else ([], 0)
    if layerwise and nested:
        warnings.append(f"{nested} tensors inside If/Loop/Scan bodies are not compared: the backends expose only "
                        "main-graph tensors")
    layer_names = [layer.tensor for layer in layers]
    output_names = [o.name for o in model.proto.graph.output]
    summary = model_summary(model)
    acc = _Accumulator(tolerances)
    saved: dict[str, dict[str, np.ndarray]] = {"ref": {}, "target": {}}
    with progress(quiet) as bar, backends.create(ref_spec) as ref, backends.create(target_spec) as target:
        task = bar.add_task(f"loading {ref_spec}", total=2 + 2 * len(samples))
        ref.load(model.proto, layer_names, model_sha256=summary["sha256"])
        bar.update(task, advance=1, description=f"loading {target_spec}")
        target.load(model.proto, layer_names, model_sha256=summary["sha256"])
        bar.advance(task)
        if warmup:
            bar.update(task, description="warming up")
            ref.warmup(samples[0], warmup)
            target.warmup(samples[0], warmup)
        for i, feeds in enumerate(samples):
            bar.update(task, description=f"sample {i + 1}/{len(samples)}: running {ref_spec}")
            ref_out = ref.run(feeds)
            bar.update(task, advance=1, description=f"sample {i + 1}/{len(samples)}: running {target_spec}")
            tgt_out = target.run(feeds)
            if save_outputs_to is not None:
                for side, values in (("ref", ref_out), ("target", tgt_out)):
                    saved[side].update({f"{i}/{n}": values[n] for n in output_names if n in values})
            for name in list(ref_out):
                if name in tgt_out:
                    acc.add(name, ref_out.pop(name), tgt_out.pop(name), i)
            bar.advance(task)
        unmatched = _unmatched(ref.exposed, target.exposed, output_names, layer_names)
        ref_info = {**ref.info, "notes": ref.notes, "tensors_exposed": len(ref.exposed)}
        tgt_info = {**target.info, "notes": target.notes, "tensors_exposed": len(target.exposed)}
        timing = {"ref": _timing(ref), "target": _timing(target)}
    if save_outputs_to is not None:
        _save_outputs(save_outputs_to, saved, len(samples))
    return _assemble(model, summary, ref_info, tgt_info, tolerances, samples, layers, output_names, acc,
                     unmatched, timing, warnings)


def _timing(backend) -> dict:
    lat = backend.timing.latency_ms
    return {"setup_s": round(backend.timing.setup_s, 4), "latency_ms": [round(x, 4) for x in lat],
            "median_ms": float(np.median(lat)) if lat else None,
            "warmup_ms": [round(x, 4) for x in backend.timing.warmup_ms]}


def _unmatched(ref_exposed: list[str], tgt_exposed: list[str], outputs: list[str], layers: list[str]) -> list[dict]:
    ref_set, tgt_set = set(ref_exposed), set(tgt_exposed)
    out = []
    for name in dict.fromkeys(outputs + layers):
        if name in ref_set and name not in tgt_set:
            out.append({"tensor": name, "reason": "not exposed by the target (fused away or not markable)"})
        elif name in tgt_set and name not in ref_set:
            out.append({"tensor": name, "reason": "not exposed by the reference"})
    return out


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
