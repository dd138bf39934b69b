"""Findings derived from a compare run's saved metrics: where / hazard / mitigation / help.

Rules read only results.json (no arrays, no model). Each rule is a small function; ``RULES`` lists them in order.
The terminal (``trtlab compare``), ``--json`` and the HTML report all show these same findings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from trtlab.ui import fmt_num as num  # one number format for the terminal and the findings

FP16_MAX = 65504.0
BF16_MAX = 3.3895e38


@dataclass
class Finding:
    severity: str  # "error" | "warning" | "info"
    where: str
    hazard: str
    mitigation: str = ""
    help: str = ""


def fnum(value) -> float | None:
    """A results.json number back to float ("inf"/"nan" strings included); None when absent or not numeric."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _nonfinite(m: dict, side: str) -> int:
    return int((m.get("nan") or {}).get(side, 0) or 0) + int((m.get("inf") or {}).get(side, 0) or 0)


def _precision(res: dict) -> str:
    tgt = res.get("target") or {}
    opts = tgt.get("options") or {}
    return tgt.get("precision") or next((p for p in ("fp16", "bf16") if opts.get(p)), "fp32")


UNSAFE_IN_SPEC = set(",+= \t")  # these break a backend spec (NAME:opt,key=a+b) or a shell word


def _keep_hint(res: dict, node: str, op: str | None, tensor: str | None = None) -> str:
    """How to pin ``node`` (several joined by +) to FP32 with the target that was used. Every name printed is
    one the keep-list accepts: node name, op type, output tensor, or ``OpType_i`` for an unnamed node."""
    import shlex

    tgt = res.get("target") or {}
    every = f" (or `keep={op}` for every {op})" if op and op != node else ""
    if tgt.get("backend") == "onnxrt":
        names = node.split("+")
        if tensor and len(names) == 1 and op and re.fullmatch(rf"{re.escape(op)}_\d+", node):
            names = [tensor]  # an unnamed node (trtlab shows it as OpType_i): its output tensor names it best
        if any(set(n) & UNSAFE_IN_SPEC for n in names):
            names = [tensor] if tensor and not set(tensor) & UNSAFE_IN_SPEC else ([op] if op else [])
            every = ""
            if not names:
                return "its name cannot be written in a backend spec; keep its op type in FP32 with keep=OPTYPE"
        base = str(tgt.get("spec") or "onnxrt:fp16").split(",keep=")[0]
        spec = f"{base},keep={'+'.join(names)}"
        return f"keep it in FP32: `--target {shlex.quote(spec)}`{every}"
    return f"keep it in FP32 when building: `--keep-fp32 {' '.join(shlex.quote(n) for n in node.split('+'))}`"


FLOAT_DTYPES = ("float", "half", "bfloat")
CLAMPED_RE = re.compile(r"weight out of range: (?P<w>.+) \(max \|w\| = (?P<peak>[^)]+)\) is (?P<fate>[^;]+); "
                        r"read by (?P<readers>.+)$")


def _is_float(m: dict) -> bool:
    dtype = str(m.get("dtype") or "float")
    return any(dtype.startswith(f) for f in FLOAT_DTYPES)


def _kept(res: dict) -> set[str]:
    """The keep-list of the target that was used (node names, op types, tensors)."""
    spec = str((res.get("target") or {}).get("spec") or "")
    keep = re.search(r"(?:^|,)keep=([^,]*)", spec.split(":", 1)[-1])
    names = set(keep.group(1).split("+")) if keep else set()
    opts = (res.get("target") or {}).get("options") or {}
    extra = opts.get("keep") or []
    names.update(str(extra).split("+") if isinstance(extra, str) else map(str, extra))
    return names - {""}


def _is_kept(res: dict, m: dict) -> bool:
    kept = _kept(res)
    return bool(kept) and any(v in kept for v in (m.get("name"), m.get("node"), m.get("op"), m.get("tensor")) if v)


def _float_upstream(layers: list[dict], idx: int | None) -> dict | None:
    """The nearest float layer before position ``idx`` (a non-float tensor's error starts in a float one)."""
    if idx is None:
        return None
    return next((m for m in reversed(layers[:idx]) if _is_float(m)), None)


def _where(m: dict) -> str:
    op = f" ({m['op']})" if m.get("op") else ""
    return f"{m.get('name')}{op}"


def overflow(res: dict) -> list[Finding]:
    """Target non-finite where the reference is finite; an overflow when |ref| exceeds the format's range."""
    prec = _precision(res)
    limit = {"fp16": FP16_MAX, "bf16": BF16_MAX}.get(prec)
    layers = res.get("layers") or res.get("outputs") or []
    origins = [m for m in layers if _nonfinite(m, "target") > _nonfinite(m, "ref")]
    named = (res.get("verdict") or {}).get("nonfinite_origins")
    if named is not None:  # nodes that turn finite inputs into NaN/Inf first; the rest inherit from them
        inheriting = len(origins) - len(named)
        origins = [m for m in origins if m.get("name") in set(named)]
    else:
        inheriting = 0
    found = []
    layerwise = bool(res.get("layers"))
    for m in origins[:3]:
        ref_max = fnum(m.get("ref_max_abs"))
        node = m.get("node") or m.get("name")
        if not layerwise or _is_kept(res, m) or not _is_float(m):
            why = ("it is already kept in FP32, so the NaN/Inf comes from upstream: "
                   if layerwise and _is_kept(res, m) else "")
            found.append(Finding(
                "error", _where(m),
                f"the target produces {_nonfinite(m, 'target')} NaN/Inf values where the reference has "
                f"{_nonfinite(m, 'ref')} (max |ref| = {num(ref_max)})",
                why + ("find the node where they start with `--attribute`" if layerwise
                       else "run with --layerwise to find where the NaN/Inf starts"),
                "the first tensor with new non-finite values is where to look; the following ones inherit them"))
        elif limit and ref_max is not None and ref_max > limit:
            run = _overflow_run(res, layers, m, limit)
            hint = (_keep_hint(res, node, m.get("op"), m.get("name")) if len(run) == 1 else
                    _keep_hint(res, "+".join(run), None) + f", every layer whose reference exceeds {num(limit)}: "
                    "keeping only the first moves the Inf to the next")
            found.append(Finding(
                "error", _where(m),
                f"overflows {prec.upper()}: max |ref| = {num(ref_max)} > {num(limit)}, the target has "
                f"{_nonfinite(m, 'target')} NaN/Inf values where the reference has {_nonfinite(m, 'ref')}",
                hint,
                "values above the format's largest number become Inf, and Inf - Inf or 0 * Inf become NaN downstream"))
        else:
            found.append(Finding(
                "error", _where(m),
                f"the target produces {_nonfinite(m, 'target')} NaN/Inf values where the reference has "
                f"{_nonfinite(m, 'ref')} (max |ref| = {num(ref_max)})",
                (_keep_hint(res, node, m.get("op"), m.get("name")) if limit
                 else "inspect this node's inputs and attributes"),
                "the first tensor with new non-finite values is where to look; the following ones inherit them"))
    more = max(len(origins) - 3, 0) + inheriting
    if more:
        found.append(Finding("info", f"{more} more tensors", "also have new NaN/Inf values "
                             "(most inherit them from the tensors above)"))
    return found


def _overflow_run(res: dict, layers: list[dict], origin: dict, limit: float) -> list[str]:
    """The nodes to keep in FP32 for an overflow at ``origin``: it and every later float layer, not yet kept, whose
    reference exceeds the format's range (a sum of squares after an overflowing square, say), origin first."""
    names = [origin.get("node") or origin.get("name")]
    start = next((i for i, x in enumerate(layers) if x is origin), 0)
    for x in layers[start + 1:]:
        peak = fnum(x.get("ref_max_abs"))
        name = x.get("node") or x.get("name")
        if peak is not None and peak > limit and _is_float(x) and not _is_kept(res, x) and name not in names:
            names.append(name)
    return names


def near_overflow(res: dict) -> list[Finding]:
    """Finite in the target but within 2x of the FP16 limit (or saturated at it): precision is gone there."""
    if _precision(res) != "fp16":
        return []
    readers = {r for c in clamped(res) for r in c["readers"]}
    near = [m for m in (res.get("layers") or res.get("outputs") or []) if _near_limit(m) and _is_float(m)
            and not _is_kept(res, m) and m.get("name") not in readers]
    found = []
    for m in near[:3]:
        ref_max = fnum(m.get("ref_max_abs"))
        what = ("exceeds the FP16 limit 65504 and was saturated (rounded to the limit, not Inf)"
                if ref_max > FP16_MAX else "is within 2x of the FP16 limit 65504")
        found.append(Finding("warning", _where(m), f"max |ref| = {ref_max:.6g} {what}; FP16 steps are "
                             f"{_fp16_step(ref_max):g} at this magnitude",
                             _keep_hint(res, m.get("node") or m.get("name"), m.get("op"), m.get("name")),
                             "differences of large rounded values (x - y, normalisation) lose all precision; "
                             "larger inputs than these samples may overflow"))
    return found


def _fp16_step(x: float) -> float:
    return 2.0 ** (min(math.floor(math.log2(max(x, 6.1e-5))), 15) - 10)


def _near_limit(m: dict) -> bool:
    return (fnum(m.get("ref_max_abs")) or 0) > FP16_MAX / 2 and _nonfinite(m, "target") <= _nonfinite(m, "ref")


def first_divergence(res: dict) -> list[Finding]:
    fd = res.get("first_divergence")
    if not fd:
        return []
    layers = res.get("layers") or []
    failing = sum(1 for m in layers if not m.get("passed", True))
    idx = next((i for i, m in enumerate(layers) if m.get("name") == fd.get("tensor")), None)
    pos = f"layer #{idx} of {len(layers)}, " if idx is not None else ""
    node = fd.get("node") or fd.get("tensor")
    before = [m for m in layers[max(0, (idx or 0) - 3):idx or 0] if _precision(res) == "fp16" and _near_limit(m)]
    upstream = _float_upstream(layers, idx) if not _is_float(layers[idx] if idx is not None else {}) else None
    if idx is not None and not _is_float(layers[idx]):
        up = upstream or {}
        mitigation = (f"{fd.get('tensor')} is {layers[idx].get('dtype')}, computed from float values: "
                      + (f"the error starts upstream, at or before {_where(up)}: "
                         + _keep_hint(res, up.get("node") or up.get("name"), up.get("op"), up.get("name"))
                         if upstream and _precision(res) != "fp32" and not _is_kept(res, up)
                         else "look at the float layers before it"))
    elif idx is not None and _is_kept(res, layers[idx]):
        mitigation = ("it is already kept in FP32: the error comes from its inputs; `--attribute` ranks the nodes "
                      "that cause it")
    elif before:
        names = "+".join([*(m.get("node") or m.get("name") for m in before), node])
        mitigation = (f"it follows {', '.join(_where(m) for m in before)} with values near the FP16 limit (a "
                      f"difference of large rounded numbers): {_keep_hint(res, names, None)}")
    elif _precision(res) != "fp32":
        mitigation = (_keep_hint(res, node, fd.get("op"), fd.get("tensor"))
                      + " and compare again to see whether the later layers recover")
    else:
        mitigation = "check this node's implementation in the target (attributes, broadcasting, data types)"
    return [Finding("warning", f"{fd.get('tensor')} ({fd.get('op')})",
                    f"first layer out of tolerance ({pos}{failing} failing in all): {fd.get('reason')}",
                    mitigation, "layers after the first divergence may only inherit its error; fix the first one "
                    "first, or raise the tolerance for it with `--atol TENSOR:TOL`")]


def widespread_noise(res: dict) -> list[Finding]:
    """Most layers fail, yet every failing one keeps its direction: the tolerance is tighter than the format."""
    layers = res.get("layers") or []
    failing = [m for m in layers if not m.get("passed", True)]
    if len(layers) < 10 or len(failing) < len(layers) / 2:
        return []
    cosines = [fnum(m.get("cosine")) for m in failing]
    if any(c is None or c < 0.9999 for c in cosines) or any(_nonfinite(m, "target") > _nonfinite(m, "ref")
                                                           for m in failing):
        return []
    tol = res.get("tolerances") or {}
    return [Finding("info", f"{len(failing)} of {len(layers)} layers", "out of tolerance, but every one keeps "
                    f"cosine >= {min(cosines):.6f}: the tolerance (atol={num(fnum(tol.get('atol')))}, "
                    f"rtol={num(fnum(tol.get('rtol')))}) is tighter than {_precision(res).upper()} rounding noise",
                    "judge the outputs (and the application metric); raise --atol/--rtol for layer-wise checks, "
                    "or look at the worst layers by cosine rather than the first failing one",
                    "each reduced-precision layer boundary rounds to ~3 significant digits, and the error adds up "
                    "along the network")]


def output_agreement(res: dict) -> list[Finding]:
    """Outputs that fail by tolerance yet agree closely, or pass while their direction drifts."""
    found = []
    for m in res.get("outputs") or []:
        cos = fnum(m.get("cosine"))
        if cos is None:
            continue
        tol = _round_up(fnum(m.get("max_abs")))
        only_tolerance = set(m.get("rules") or ["tolerance"]) <= {"tolerance"}
        shape_rules = [r for r in m.get("rules") or [] if r in ("constant", "cosine")]
        if (not m.get("passed") and cos >= 0.9999 and _nonfinite(m, "target") == _nonfinite(m, "ref")
                and only_tolerance and tol and tol > (fnum(m.get("atol")) or 0)):
            frac = fnum(m.get("mismatch_fraction")) or 0.0
            found.append(Finding(
                "info", _where(m), f"fails the tolerance on {frac:.2%} of elements but agrees closely overall "
                f"(cosine {cos:.6f}, SNR {num(fnum(m.get('snr_db')))} dB, max abs {num(fnum(m.get('max_abs')))})",
                f"if this error is acceptable for the application, raise the tolerance for this output: "
                f"`--atol {m.get('name')}:{_tol_text(tol)}`",
                "element-wise tolerances are strict for large-magnitude outputs in reduced precision; judge the "
                "application metric (top-1, boxes) too"))
        elif shape_rules and "nonfinite" not in m.get("rules") and _precision(res) != "fp32" and _is_float(m):
            fix = ("it is already kept in FP32: the loss comes from its inputs; `--attribute` (with --layerwise) "
                   "ranks the nodes that cause it" if _is_kept(res, m)
                   else _keep_hint(res, m.get("node") or m.get("name"), m.get("op"), m.get("name")))
            found.append(Finding("warning", _where(m), f"fails {' and '.join(shape_rules)}: reduced precision "
                                 "flattens this output (a tolerance cannot fix that)", fix,
                                 "values that differ only beyond ~3 significant digits (a sigmoid near 0 or 1) "
                                 "round to the same half-precision number"))
        elif m.get("passed") and cos < 0.999:
            found.append(Finding("warning", _where(m), f"within tolerance, but cosine similarity is only {cos:.4f}",
                                 "tighten --atol/--rtol for this output, or check it with an application metric",
                                 "small outputs can pass an absolute tolerance while their shape is wrong"))
    return found


def _tol_text(tol: float) -> str:
    """A tolerance as typed: never rounded below ``tol`` (num() rounds to 3 digits, which may round down)."""
    text = num(tol)
    return text if float(text) >= tol else repr(tol)


def clamped(res: dict) -> list[dict]:
    """Weights the simulation clamped (or stored as Inf) because they exceed the format's range, from its notes."""
    out = []
    for note in (res.get("target") or {}).get("notes") or []:
        hit = CLAMPED_RE.search(str(note))
        if hit:
            out.append({"weight": hit["w"], "peak": hit["peak"], "fate": hit["fate"],
                        "readers": hit["readers"].split("+")})
    return out


def clamped_weights(res: dict) -> list[Finding]:
    """A weight above the format's range: TensorRT clamps it, so every reader computes with a wrong constant."""
    found = []
    for c in clamped(res)[:3]:
        found.append(Finding(
            "error", f"weight {c['weight']}", f"max |w| = {c['peak']} exceeds the {_precision(res).upper()} range "
            f"and is {c['fate']} (as TensorRT does), so {', '.join(c['readers'])} computes with a wrong constant",
            "a layer kept in FP32 keeps its weights in FP32; for its readers, "
            + _keep_hint(res, "+".join(c["readers"]), None),
            "scale the weight down in the model (and the result back up) to run it in reduced precision"))
    return found


def _round_up(x: float | None) -> float | None:
    if not x:
        return x
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
    for m in res.get("outputs") or []:
        if _nonfinite(m, "ref"):
            found.append(Finding("warning", _where(m), f"the reference itself produces {_nonfinite(m, 'ref')} "
                                 "NaN/Inf values (matching ones count as equal)", "check the inputs (--val-range) "
                                 "and the model: the non-finite values are not a conversion problem"))
    outputs = {m.get("name") for m in res.get("outputs") or []}
    for u in res.get("unmatched") or []:
        if u.get("tensor") in outputs or not res.get("layers"):
            found.append(Finding("error", str(u.get("tensor")), f"not compared: {u.get('reason')}"))
    fused = sum(1 for u in res.get("unmatched") or [] if u.get("fused"))
    if fused:
        found.append(Finding("info", f"{fused} tensors", "folded or fused in FP32 before storage is rounded, as "
                             "TensorRT does: they do not exist in an engine and are not compared", "",
                             "their error shows up in the fused layer that writes the next compared tensor; "
                             "`fold=0` in the target spec compares them on the unfolded graph"))
    missing = len(res.get("unmatched") or []) - fused
    if missing and res.get("layers"):
        found.append(Finding("info", f"{missing} tensors", "exposed by only one side and not compared "
                             "(fused away or not markable)", "", "with TensorRT, fused layers have no output "
                             "to compare; their error shows up in the next layer that survives"))
    return found


def reference_disagreement(res: dict) -> list[Finding]:
    """onnx.reference and onnxruntime disagree on a node: the oracle (or a known kernel issue) says who is wrong."""
    found = []
    for s in res.get("settled") or []:
        wrong = s.get("wrong")
        where = f"{s.get('tensor')} ({s.get('op')}, opset {s.get('opset')})"
        errs = (f" (max abs error vs a float64 NumPy oracle: onnxruntime {num(fnum(s.get('onnxrt_error')))}, "
                f"onnx.reference {num(fnum(s.get('reference_error')))})" if s.get("oracle", "").startswith("numpy")
                else "")
        if wrong == "reference":
            found.append(Finding("warning", where, f"onnx.reference is wrong on this node, onnxruntime is right"
                                 f"{errs}" + (f": {s['known_issue']}" if s.get("known_issue") else ""),
                                 "trust onnxrt for this op; the divergence is not a problem of the model",
                                 "the reference evaluator is an independent second opinion, not ground truth"))
        elif wrong == "onnxrt":
            found.append(Finding("error", where, f"onnxruntime is wrong on this node, onnx.reference is right{errs}",
                                 "report it to onnxruntime with this node alone; compare with --ref reference"))
        elif wrong == "onnxrt+reference":
            found.append(Finding("warning", where, f"both onnxruntime and onnx.reference are off on this node{errs}",
                                 "check the node's attributes and inputs against the ONNX spec"))
        else:
            found.append(Finding("info", where, f"onnxruntime and onnx.reference both match the oracle on this node "
                                 f"alone{errs}: the divergence accumulates from earlier rounding",
                                 "raise --atol/--rtol for this tensor, or judge it by cosine"))
    return found


RULES = (structural, reference_disagreement, clamped_weights, overflow, near_overflow, first_divergence,
         widespread_noise, output_agreement, relative_noise)


def compare_findings(res: dict) -> list[Finding]:
    found = []
    for rule in RULES:
        found.extend(rule(res))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order.get(f.severity, 3))  # stable: rule order within a severity
