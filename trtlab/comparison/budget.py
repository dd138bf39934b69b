"""Layer-wise comparison within a memory budget (``compare --layerwise --max-memory SIZE``).

Marking every tensor as an output makes a backend hand back (and hold) every tensor of a sample at once. Here the
tensors to compare are split into chunks whose arrays, on both sides together, fit the budget; each chunk gets its
own pair of backends with only that chunk marked, runs every sample, and each tensor pair is reduced to its metrics
as soon as both exist. Sizes come from ONNX shape inference with the samples' concrete input shapes; a tensor whose
size cannot be inferred is counted at the largest inferred size (a warning says how many).

The budget is everything the comparison holds beyond what the process held when it started (the interpreter and
its libraries, the loaded model and its weights, held once by ``trtlab.weights``; a notebook that has imported
PyTorch does not eat into it): a first run with only the graph outputs marked measures the backends' own peak
(sessions, FP16 weight copies, working memory: VmHWM minus the resident set before it), and the tensors get the
rest. ONNX Runtime sessions run lean here (no arena, no
memory pattern, priority order). Arrays are spilled to disk only for ``--save-outputs`` (graph outputs).

The result records the budget, the measured backend share, the chunks, the largest number of tensor bytes held at
once (counted from the arrays actually returned) and the peak resident set of the comparison.
"""

from __future__ import annotations

import resource
import sys

import numpy as np
import onnx

from trtlab import backends
from trtlab.errors import TrtlabError
from trtlab.ui import progress

_DTYPE_BYTES = {onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.INT64: 8, onnx.TensorProto.UINT64: 8,
                onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.BFLOAT16: 2, onnx.TensorProto.INT16: 2,
                onnx.TensorProto.UINT16: 2, onnx.TensorProto.BOOL: 1, onnx.TensorProto.INT8: 1,
                onnx.TensorProto.UINT8: 1, onnx.TensorProto.COMPLEX64: 8, onnx.TensorProto.COMPLEX128: 16}


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def tensor_sizes(proto: onnx.ModelProto, feeds: dict[str, np.ndarray], names: list[str]) -> dict[str, int | None]:
    """Bytes of each of ``names`` for inputs shaped like ``feeds`` (None where shape inference cannot tell).
    FP16/BF16 tensors are counted at 4 bytes: the backends hand back simulated half precision as FP32."""
    work = onnx.ModelProto()
    work.CopyFrom(proto)
    del work.graph.value_info[:]
    for vi in work.graph.input:
        if vi.name in feeds:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for d in feeds[vi.name].shape:
                dims.add().dim_value = int(d)
    try:
        inferred = onnx.shape_inference.infer_shapes(work, data_prop=True)
    except Exception:  # an invalid or exotic model: every size unknown, the caller falls back
        return {n: None for n in names}
    infos = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    out: dict[str, int | None] = {}
    for name in names:
        vi = infos.get(name)
        out[name] = _bytes_of(vi) if vi is not None else None
    return out


def _bytes_of(vi: onnx.ValueInfoProto) -> int | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape") or not tt.elem_type:
        return None
    count = 1
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None
        count *= d.dim_value
    return count * max(_DTYPE_BYTES.get(tt.elem_type, 4), 4 if tt.elem_type in (10, 16) else 1)


def plan_chunks(names: list[str], sizes: dict[str, int | None], budget: int, first: list[str],
                sides: int = 2, overhead: int = 0) -> tuple[list[list[str]], dict[str, int], list[str]]:
    """Split ``names`` (in order) into chunks whose tensors, held by ``sides`` backends at once, fit ``budget``.
    ``first`` (the graph outputs) are in every chunk (a backend always returns them) and are compared in the first
    one only. Returns chunks, the sizes used, and warnings."""
    known = [s for s in sizes.values() if s is not None]
    fallback = max(known) if known else 0
    unknown = [n for n in names if sizes.get(n) is None]
    warnings = []
    if unknown:
        warnings.append(f"--max-memory: the size of {len(unknown)} tensor(s) could not be inferred from shapes "
                        f"(e.g. {unknown[0]}); each was counted as the largest known size ({_fmt(fallback)})")
    used = {n: sizes.get(n) if sizes.get(n) is not None else fallback for n in dict.fromkeys(first + names)}
    fixed = sum(used[n] for n in first) * sides  # every run returns the graph outputs too
    if fixed > budget:
        raise TrtlabError(f"--max-memory {_fmt(budget + overhead)}", f"the graph outputs alone need {_fmt(fixed)}"
                          + (f" besides the backends' {_fmt(overhead)}" if overhead else ""),
                          f"raise the budget above --max-memory {-(-(fixed + overhead) // 2**20)}M")
    too_big = [n for n in used if n not in first and used[n] * sides + fixed > budget]
    if too_big:
        need = max(used[n] for n in too_big) * sides + fixed + overhead
        raise TrtlabError(f"--max-memory {_fmt(budget + overhead)}", f"tensor '{too_big[0]}' alone needs {_fmt(need)} "
                          f"({sides} sides x {_fmt(used[too_big[0]])}, with the graph outputs)",
                          f"raise the budget to at least --max-memory {-(-need // 2**20)}M")
    chunks: list[list[str]] = []
    current, held = list(dict.fromkeys(first)), fixed
    for name in used:
        if name in first:
            continue
        size = used[name] * sides
        if len(current) > len(first) and held + size > budget:
            chunks.append(current)
            current, held = list(dict.fromkeys(first)), fixed
        current.append(name)
        held += size
    chunks.append(current)
    return chunks, used, warnings


def _fmt(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def current_rss_bytes() -> int | None:
    """Resident set now (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so that ``window_peak_bytes`` measures from here (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def window_peak_bytes() -> int | None:
    """VmHWM: the peak resident set since the last ``reset_peak_rss`` (None where /proc has no such field)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def run_bounded(model, ref_spec, target_spec, samples, acc, layer_names, output_names, budget: int,
                save, quiet: bool, warmup: int, model_sha256: str | None = None):
    """The chunked loop. Fills ``acc`` (run.py's accumulator) and ``save`` ({side: {key: array}}, graph outputs,
    or None); returns (ref_info, target_info, exposed (ref, target), timing, memory, warnings).

    The budget covers everything the comparison holds beyond the weights (held once): the runtimes' sessions and
    working memory as well as the tensors. A first run with only the graph outputs marked measures what the
    backends need (peak resident set minus the shared weights, where /proc tells); the tensors then get the rest
    of the budget. Where it cannot be measured the whole budget goes to the tensors."""
    from trtlab import weights

    sizes = tensor_sizes(model.proto, samples[0], list(dict.fromkeys(output_names + layer_names)))
    weights_bytes = int(sum(a.nbytes for a in weights.shared_arrays(model.proto).values()))
    state = {"exposed": {"ref": [], "target": []}, "infos": {}, "timing": {"ref": [], "target": []},
             "held_peak": 0, "prepared": {}}
    try:
        return _run_all(model, ref_spec, target_spec, samples, acc, layer_names, output_names, budget, save,
                        quiet, warmup, model_sha256, sizes, weights_bytes, state)
    finally:  # the backends' prepared (rounded) models and their weight copies
        for base, *_rest in state["prepared"].values():
            for token in weights.tokens(base) - weights.tokens(model.proto):
                weights.release(token)


def _run_all(model, ref_spec, target_spec, samples, acc, layer_names, output_names, budget, save, quiet, warmup,
             model_sha256, sizes, weights_bytes, state):
    from trtlab import weights

    weights.return_freed_memory(lean=True)
    held_before = current_rss_bytes()  # the interpreter, its libraries, the model and its weights: not the run's
    measured = reset_peak_rss() and held_before is not None
    warnings: list[str] = []
    with progress(quiet) as bar:
        task = bar.add_task("layer-wise within budget: graph outputs", total=None)
        _run_chunk(model, ref_spec, target_spec, samples, acc, output_names, output_names, save, 0,
                   model_sha256, state, bar, task, "graph outputs")  # no warm-up: one chunk's latency means little
        probe_peak = window_peak_bytes() if measured else None
        overhead = max(probe_peak - held_before, 0) if probe_peak else 0
        tensor_budget = budget - overhead
        if tensor_budget <= 0:
            raise TrtlabError(f"--max-memory {_fmt(budget)}", f"the backends alone need {_fmt(overhead)} beyond "
                              f"what the process held before ({_fmt(held_before)}, the {_fmt(weights_bytes)} of "
                              f"weights included)", f"raise it above --max-memory {-(-overhead // 2**20) * 2}M")
        lean = {ref_spec.name, target_spec.name} <= {"onnxrt"}  # else the graph outputs come back on every run
        planned, used, warnings = plan_chunks([n for n in layer_names if n not in output_names], sizes,
                                              tensor_budget, [] if lean else output_names, overhead=overhead)
        chunks = [c for c in ([n for n in chunk if n not in output_names] for chunk in planned) if c]
        for c, chunk in enumerate(chunks):
            _run_chunk(model, ref_spec, target_spec, samples, acc, chunk, output_names, None, 0, model_sha256,
                       state, bar, task, f"chunk {c + 1}/{len(chunks)} ({len(chunk)} tensors)")
    held_peak = state["held_peak"]
    memory = {"budget_bytes": budget, "weights_bytes": weights_bytes, "held_before_bytes": held_before,
              "backend_bytes": overhead,
              "tensor_budget_bytes": tensor_budget, "chunks": len(chunks) + 1,
              "chunk_tensors": [len(output_names)] + [len(c) for c in chunks],
              "estimated_chunk_bytes": [sum(used[n] for n in c) * 2 for c in planned],
              "peak_tensor_bytes": held_peak, "peak_rss_bytes": peak_rss_bytes(),
              "peak_rss_compare_bytes": window_peak_bytes() if measured else None,
              "note": "no warm-up runs; latencies are per chunk (lean sessions), not a benchmark"}
    if held_peak > tensor_budget:
        warnings.append(f"--max-memory: tensors held at once reached {_fmt(held_peak)}, over the "
                        f"{_fmt(tensor_budget)} left to them (shape inference underestimated them)")
    infos = state["infos"]
    for side in ("ref", "target"):
        infos[side]["tensors_exposed"] = len(state["exposed"][side])
    return infos["ref"], infos["target"], state["exposed"], _merge_timing(state["timing"]), memory, warnings


def _run_chunk(model, ref_spec, target_spec, samples, acc, marked, output_names, save, warmup, model_sha256,
               state, bar, task, label) -> None:
    """One pair of backends with ``marked`` exposed; every sample; each pair reduced to metrics at once.
    Lean ONNX Runtime backends return only ``marked`` and run only the nodes it depends on; other backends also
    return the graph outputs, which are compared only when they are in ``marked``."""
    from trtlab import weights
    from trtlab.comparison.run import _timing

    compare = set(marked)
    with backends.create(ref_spec) as ref, backends.create(target_spec) as target:
        for backend in (ref, target):
            backend.lean, backend.prepared = True, state["prepared"]
            bar.update(task, description=f"{label}: loading {backend.spec}")
            backend.load(model.proto, marked, model_sha256=model_sha256)  # lean onnxrt returns only these
        if warmup:
            ref.warmup(samples[0], warmup)
            target.warmup(samples[0], warmup)
        for i, feeds in enumerate(samples):
            bar.update(task, description=f"{label}: sample {i + 1}/{len(samples)}")
            ref_out = ref.run(feeds)
            tgt_out = target.run(feeds)
            state["held_peak"] = max(state["held_peak"], _nbytes(ref_out) + _nbytes(tgt_out))
            if save is not None:
                for side, values in (("ref", ref_out), ("target", tgt_out)):
                    save[side].update({f"{i}/{n}": values[n] for n in output_names if n in values})
            for name in [n for n in ref_out if n in compare and n in tgt_out]:
                acc.add(name, ref_out.pop(name), tgt_out.pop(name), i)
            del ref_out, tgt_out
        for side, backend in (("ref", ref), ("target", target)):
            state["exposed"][side] += [n for n in backend.exposed if n not in state["exposed"][side]]
            state["timing"][side].append(_timing(backend))
            state["infos"].setdefault(side, {**backend.info, "notes": backend.notes})
    weights.return_freed_memory()


def _nbytes(values: dict) -> int:
    return int(sum(v.nbytes for v in values.values() if isinstance(v, np.ndarray)))


def _merge_timing(per_chunk: dict) -> dict:
    out = {}
    for side, chunks in per_chunk.items():
        lat = [x for t in chunks for x in t["latency_ms"]]
        out[side] = {"setup_s": round(sum(t["setup_s"] for t in chunks), 4), "latency_ms": lat,
                     "median_ms": float(np.median(lat)) if lat else None,
                     "warmup_ms": [x for t in chunks for x in t["warmup_ms"]], "runs_per_sample": len(chunks)}
    return out
