"""Findings derived from a compare run's saved metrics: where / hazard / mitigation / help.

Rules read only results.json (no arrays, no model). Each rule is a small function; ``RULES`` lists them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtlab.reports.html import fnum, num

FP16_MAX = 65504.0
BF16_MAX = 3.3895e38


@dataclass
class Finding:
    severity: str  # "error" | "warning" | "info"
    where: str
    hazard: str
    mitigation: str = ""
    help: str = ""


def _nonfinite(m: dict, side: str) -> int:
    return int((m.get("nan") or {}).get(side, 0) or 0) + int((m.get("inf") or {}).get(side, 0) or 0)


def _precision(res: dict) -> str:
    tgt = res.get("target") or {}
    opts = tgt.get("options") or {}
    return tgt.get("precision") or next((p for p in ("fp16", "bf16") if opts.get(p)), "fp32")


def _keep_hint(res: dict, node: str, op: str | None) -> str:
    tgt = res.get("target") or {}
    if tgt.get("backend") == "onnxrt":
        spec = tgt.get("spec") or "onnxrt:fp16"
        return f"keep it in FP32: `--target {spec},keep={node}` (or `keep={op}` for every {op})"
    return f"keep it in FP32 when building: `--keep-fp32 {node}`"


def _where(m: dict) -> str:
    op = f" ({m['op']})" if m.get("op") else ""
    return f"{m.get('name')}{op}"


def overflow(res: dict) -> list[Finding]:
    """Target non-finite where the reference is finite; an overflow when |ref| exceeds the format's range."""
    prec = _precision(res)
    limit = {"fp16": FP16_MAX, "bf16": BF16_MAX}.get(prec)
    layers = res.get("layers") or res.get("outputs") or []
    origins = [m for m in layers if _nonfinite(m, "target") > _nonfinite(m, "ref")]
    found = []
    for m in origins[:3]:
        ref_max = fnum(m.get("ref_max_abs"))
        node = m.get("node") or m.get("name")
        if limit and ref_max is not None and ref_max > limit:
            found.append(Finding(
                "error", _where(m),
                f"overflows {prec.upper()}: max |ref| = {num(ref_max)} > {num(limit)}, the target has "
                f"{_nonfinite(m, 'target')} NaN/Inf values where the reference has {_nonfinite(m, 'ref')}",
                _keep_hint(res, node, m.get("op")),
                "values above the format's largest number become Inf, and Inf - Inf or 0 * Inf become NaN downstream"))
        else:
            found.append(Finding(
                "error", _where(m),
                f"the target produces {_nonfinite(m, 'target')} NaN/Inf values where the reference has "
                f"{_nonfinite(m, 'ref')} (max |ref| = {num(ref_max)})",
                _keep_hint(res, node, m.get("op")) if limit else "inspect this node's inputs and attributes",
                "the first tensor with new non-finite values is where to look; the following ones inherit them"))
    if len(origins) > 3:
        found.append(Finding("info", f"{len(origins) - 3} more tensors", "also have new NaN/Inf values "
                             "(most inherit them from the tensors above)"))
    return found


def near_overflow(res: dict) -> list[Finding]:
    """Finite in the target but within 2x of the FP16 limit: one more scale-up overflows."""
    if _precision(res) != "fp16":
        return []
    near = [m for m in (res.get("layers") or res.get("outputs") or [])
            if FP16_MAX / 2 < (fnum(m.get("ref_max_abs")) or 0) <= FP16_MAX and _nonfinite(m, "target") == 0]
    return [Finding("warning", _where(m), f"max |ref| = {num(fnum(m.get('ref_max_abs')))} is within 2x of the "
                    f"FP16 limit {num(FP16_MAX)}", _keep_hint(res, m.get("node") or m.get("name"), m.get("op")),
                    "larger inputs than these samples may overflow") for m in near[:3]]


def first_divergence(res: dict) -> list[Finding]:
    fd = res.get("first_divergence")
    if not fd:
        return []
    layers = res.get("layers") or []
    failing = sum(1 for m in layers if not m.get("passed", True))
    idx = next((i for i, m in enumerate(layers) if m.get("name") == fd.get("tensor")), None)
    pos = f"layer {idx + 1} of {len(layers)}, " if idx is not None else ""
    mitigation = (_keep_hint(res, fd.get("node") or fd.get("tensor"), fd.get("op")) + " and compare again to see "
                  "whether the later layers recover") if _precision(res) != "fp32" else \
        "check this node's implementation in the target (attributes, broadcasting, data types)"
    return [Finding("warning", f"{fd.get('tensor')} ({fd.get('op')})",
                    f"first layer out of tolerance ({pos}{failing} failing in all): {fd.get('reason')}",
                    mitigation, "layers after the first divergence may only inherit its error; fix the first one "
                    "first, or raise the tolerance for it with `--atol TENSOR:TOL`")]


def output_agreement(res: dict) -> list[Finding]:
    """Outputs that fail by tolerance yet agree closely, or pass while their direction drifts."""
    found = []
    for m in res.get("outputs") or []:
        cos = fnum(m.get("cosine"))
        if cos is None:
            continue
        if not m.get("passed") and cos >= 0.9999 and _nonfinite(m, "target") == _nonfinite(m, "ref"):
            frac = fnum(m.get("mismatch_fraction")) or 0.0
            found.append(Finding(
                "info", _where(m), f"fails the tolerance on {frac:.2%} of elements but agrees closely overall "
                f"(cosine {cos:.6f}, SNR {num(fnum(m.get('snr_db')))} dB, max abs {num(fnum(m.get('max_abs')))})",
                f"if this error is acceptable for the application, raise the tolerance for this output: "
                f"`--atol {m.get('name')}:{num(_round_up(fnum(m.get('max_abs'))))}`",
                "element-wise tolerances are strict for large-magnitude outputs in reduced precision; judge the "
                "application metric (top-1, boxes) too"))
        elif m.get("passed") and cos < 0.999:
            found.append(Finding("warning", _where(m), f"within tolerance, but cosine similarity is only {cos:.4f}",
                                 "tighten --atol/--rtol for this output, or check it with an application metric",
                                 "small outputs can pass an absolute tolerance while their shape is wrong"))
    return found


def _round_up(x: float | None) -> float | None:
    if not x:
        return x
    import math

    e = math.floor(math.log10(x))
    return math.ceil(x / 10**e) * 10**e


def relative_noise(res: dict) -> list[Finding]:
    """Huge relative error with tiny absolute error: near-zero reference values, not a real problem."""
    atol = fnum((res.get("tolerances") or {}).get("atol")) or 0.0
    noisy = [m for m in (res.get("layers") or res.get("outputs") or [])
             if (fnum(m.get("max_rel")) or 0) > 10 and (fnum(m.get("max_abs")) or 0) <= max(atol, 1e-6) * 10
             and (fnum(m.get("cosine")) or 0) > 0.999]
    if not noisy:
        return []
    names = ", ".join(m.get("name", "?") for m in noisy[:3]) + (" ..." if len(noisy) > 3 else "")
    return [Finding("info", f"{len(noisy)} tensors ({names})", "max relative error is large only because some "
                    "reference values are close to zero (absolute error and cosine are fine)",
                    "judge these tensors by max abs, cosine and SNR", "an element fails only if it exceeds both "
                    "atol and rtol*|ref|")]


def structural(res: dict) -> list[Finding]:
    found = []
    for m in res.get("outputs") or []:
        if m.get("target_shape") or m.get("target_dtype"):
            found.append(Finding("error", _where(m), f"shape/dtype differ: ref {m.get('shape')} {m.get('dtype')}, "
                                 f"target {m.get('target_shape')} {m.get('target_dtype')}",
                                 "check dynamic shapes (--input-shapes) and the target's output types"))
    outputs = {m.get("name") for m in res.get("outputs") or []}
    for u in res.get("unmatched") or []:
        if u.get("tensor") in outputs or not res.get("layers"):
            found.append(Finding("error", str(u.get("tensor")), f"not compared: {u.get('reason')}"))
    missing = len(res.get("unmatched") or [])
    if missing and res.get("layers"):
        found.append(Finding("info", f"{missing} tensors", "exposed by only one side and not compared "
                             "(fused away or not markable)", "", "with TensorRT, fused layers have no output "
                             "to compare; their error shows up in the next layer that survives"))
    return found


RULES = (structural, overflow, near_overflow, first_divergence, output_agreement, relative_noise)


def compare_findings(res: dict) -> list[Finding]:
    found = []
    for rule in RULES:
        found.extend(rule(res))
    return found
