"""FP16/BF16 storage simulation the way a TensorRT engine stores tensors (``onnxrt:fp16``, ``reference:bf16``).

TensorRT folds constants and fuses Conv + BatchNormalization / per-channel scale and shift in FP32 *before* it
picks precisions, so the weights it stores are the fused ones, and tensors that the fusion removes never exist in
the engine. By default (``fold=1``) the simulation does the same, with the surgeon passes (``fold-constants``
with its ``fuse-conv``/``fuse-pad`` fusions), then rounds storage (``trtlab.precision.round_to_half``):

- weights (initializers) are rounded with saturation at the format's largest value, as TensorRT clamps weights
  out of FP16 range instead of storing Inf; BatchNormalization parameters that no Conv absorbed stay in FP32
  (TensorRT computes a scale and shift from them in FP32);
- activations (node outputs) are rounded per node, overflowing to Inf as an FP16 tensor does;
- tensors that folding or fusion removed are reported as fused (``fused``), not compared.

Not modelled: Gemm/MatMul + BatchNormalization fusion, pointwise fusions (Conv+ReLU rounds once in an engine, twice
here), FP32 accumulation choices inside kernels and the builder's per-layer precision choices. ``fold=0`` keeps
the plain per-node simulation on the unfolded graph.
"""

from __future__ import annotations

import onnx
from onnx import numpy_helper

from trtlab import weights
from trtlab.precision import keep_note, round_to_half, unmatched_keep

FUSED_REASON = "folded or fused in FP32 before precisions are chosen, as TensorRT does (fold=0 compares it)"


def resolve_keep(model: onnx.ModelProto, keep: set[str]) -> set[str]:
    """Keep-list entries as the names that survive folding: node names and op types as given, plus the output
    tensors of the nodes they name (also ``OpType_i``, the name trtlab shows for an unnamed node i)."""
    resolved = set(keep)
    for i, node in enumerate(model.graph.node):
        if node.name in keep or f"{node.op_type}_{i}" in keep:
            resolved.update(o for o in node.output if o)
    return resolved


def simulate(model: onnx.ModelProto, precision: str, keep: set[str], fold: bool = True
             ) -> tuple[onnx.ModelProto, list[str], dict[str, str]]:
    """Return (model with half storage simulated, notes, {tensor: why it no longer exists})."""
    unmatched = unmatched_keep(model, keep)
    keep = resolve_keep(model, keep)
    fused: dict[str, str] = {}
    notes: list[str] = []
    work, token = model, None
    if fold:
        work, fold_notes, token = _fold(model)
        notes.extend(fold_notes)
        produced = {o for n in work.graph.node for o in n.output if o}
        fused = {o: FUSED_REASON for n in model.graph.node if n.op_type != "Constant"
                 for o in n.output if o and o not in produced}
        if fused:
            notes.append(f"{precision}: {len(fused)} tensors folded or fused in FP32 as TensorRT does "
                         "(listed as fused, not compared; fold=0 compares them)")
    out, round_notes = round_to_half(work, precision, keep, saturate_weights=fold, fp32_bn_params=fold,
                                     report_keep=False)
    if token is not None and token not in weights.tokens(out):
        weights.release(token)  # every array the fold held apart was replaced by its rounded copy
    if unmatched:
        round_notes.append(keep_note(precision, unmatched))
    return out, notes + round_notes, fused


def _fold(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str], str | None]:
    """Fold and fuse a copy of ``model``. Weights held apart (trtlab.weights) stay apart, except Conv weights,
    which are put back for the fusion to read, and held apart again afterwards."""
    from trtlab.passes.fold_constants import run as fold_constants

    shared = weights.shared_arrays(model)
    conv_weights = {name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")
                    for name in n.input[1:3] if name in shared}
    work = onnx.ModelProto()
    work.CopyFrom(model)
    for i, t in enumerate(work.graph.initializer):
        if t.name in conv_weights:
            work.graph.initializer[i].CopyFrom(numpy_helper.from_array(shared[t.name], t.name))
    try:
        result = fold_constants(work, fuse=True)
    except Exception as exc:  # folding is a fidelity step: the plain simulation still runs without it
        return model, [f"fold: skipped ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); the "
                       "simulation rounds the unfolded graph"], None
    notes = [f"fold: {n}" for n in result.notes]
    token = None
    if conv_weights:
        folded, token = weights.share_weights(result.model)
        return folded, notes, token
    return result.model, notes, token
