"""From per-sample task records to the ``task`` section of results.json (one function per task).

Each returns a dict with ``passed``, ``reason`` (the verdict in words), ``summary`` (headline numbers),
``failures`` (the samples that break the verdict, worst first) and the task's tables; plot arrays go into
``arrays`` under ``task_*`` keys (written to histograms.npz with the error histograms).
"""

from __future__ import annotations

import numpy as np

from trtlab.comparators import detection as det_m
from trtlab.comparators import segmentation as seg_m

FAILURES_KEPT = 20
# Segmentation classes smaller than this on the reference (pixels, or fraction of all pixels) are reported but do not
# decide: the IoU of a class of a few pixels swings with a single pixel.
SMALL_CLASS_PIXELS = 64
SMALL_CLASS_FRACTION = 1e-3


def _where(key, batched: bool = False) -> str:
    """``sample 3``, or ``sample 3 image 1`` when samples hold several images."""
    if isinstance(key, tuple):
        sample, image = key
        return f"sample {sample}" + (f" image {image}" if batched or image else "")
    return f"sample {key}"


def detection(records: list, o, arrays: dict) -> dict:
    total = det_m.DetectionSummary()
    failures = []
    batched = any(b for (_, b), _ in records)
    for key, s in records:
        total.add(s)
        missed, spurious = s.n_ref - s.matched, s.n_target - s.matched_target
        if missed or spurious:
            failures.append({"where": _where(key, batched), "ref": s.n_ref, "target": s.n_target, "matched": s.matched,
                             "missed": missed, "spurious": spurious})
    samples = [s for _, s in records]
    recall, precision = total.recall(), total.precision()
    passed = recall >= o.required and precision >= o.required
    arrays["task_iou_hist"] = det_m.iou_histogram(samples)
    arrays["task_iou_edges"] = det_m.IOU_BINS
    summary = {"images": len(records), "ref_detections": total.n_ref, "target_detections": total.n_target,
               "matched": total.matched, "missed": total.n_ref - total.matched,
               "spurious": total.n_target - total.matched_target, "matched_fraction": recall,
               "precision": precision, "mean_iou": total.iou_sum / total.pairs if total.pairs else None,
               "min_iou": total.iou_min,
               "mean_score_change": total.score_abs_sum / total.pairs if total.pairs else None,
               "max_score_change": total.score_abs_max if total.pairs else None}
    reason = (f"{total.matched}/{total.n_ref} reference detections matched ({recall:.2%}), "
              f"{total.n_target - total.matched_target} spurious of {total.n_target} (IoU >= {o.iou:g}, same "
              f"class, score >= {o.score_min:g} with a {o.score_margin:g} margin; required {o.required:.2%})")
    warnings = []
    if total.n_ref == 0:
        warnings.append(f"the reference has no detection with score >= {o.score_min:g}: the detection verdict only "
                        "says the target has none either; lower --score-min or feed real images (--load-inputs)")
    failures.sort(key=lambda f: (f["missed"] + f["spurious"]), reverse=True)
    return {"passed": passed, "reason": reason, "summary": summary, "per_class": det_m.per_class(samples),
            "failures": failures[:FAILURES_KEPT], "failing_samples": len(failures), "warnings": warnings,
            "arrays": {"iou_hist": "task_iou_hist", "iou_edges": "task_iou_edges"}}


def classification(records: list, o, arrays: dict) -> dict:
    keys = [(sample, b) for sample, rows in records for b in range(len(rows.ref_top1))]
    batched = any(len(rows.ref_top1) > 1 for _, rows in records)
    cat = {k: np.concatenate([getattr(rows, k) for _, rows in records]) for k in
           ("ref_top1", "target_top1", "overlap", "margin", "prob_err", "score_err")}
    agree = cat["ref_top1"] == cat["target_top1"]
    n = int(agree.size)
    frac = float(agree.mean()) if n else 1.0
    passed = frac >= o.required
    failures = [{"where": _where(keys[i], batched), "ref_class": int(cat["ref_top1"][i]),
                 "target_class": int(cat["target_top1"][i]), "ref_margin": float(cat["margin"][i]),
                 "prob_error": float(cat["prob_err"][i]), "topk_overlap": float(cat["overlap"][i])}
                for i in np.nonzero(~agree)[0]]
    failures.sort(key=lambda f: f["ref_margin"], reverse=True)
    k = min(o.top_k, 10 ** 9)
    summary = {"images": n, "top1_agreement": frac, "top1_flips": n - int(agree.sum()),
               f"top{k}_overlap": float(cat["overlap"].mean()) if n else 1.0,
               "min_topk_overlap": float(cat["overlap"].min()) if n else 1.0,
               "max_prob_error": _max(cat["prob_err"]), "max_score_error": _max(cat["score_err"]),
               "min_ref_margin": float(cat["margin"].min()) if n else None}
    where = ", ".join(f["where"] for f in failures[:3]) + (" ..." if len(failures) > 3 else "")
    reason = (f"top-1 agrees on {n - len(failures)}/{n} images ({frac:.2%}; required {o.required:.2%})"
              + (f"; flips on {where}" if failures else ""))
    arrays["task_prob_error"] = cat["prob_err"]
    return {"passed": passed, "reason": reason, "summary": summary, "failures": failures[:FAILURES_KEPT],
            "failing_samples": len(failures), "warnings": [], "arrays": {"prob_error": "task_prob_error"}}


def _max(a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)] if a.size else a
    return float(a.max()) if a.size else None


def segmentation(records: list, o, arrays: dict) -> dict:
    confusion = None
    worst_key, worst = None, None
    per_sample = []
    for sample, s in records:
        confusion = seg_m.add_confusion(confusion, s.confusion)
        per_sample.append({"where": _where((sample, s.worst_image)), "agreement": s.agreement})
        if worst is None or s.agreement < worst.agreement:
            worst_key, worst = (sample, s.worst_image), s
    total = int(confusion.sum()) if confusion is not None else 0
    agreement = float(np.trace(confusion) / total) if total else 1.0
    present, ious = seg_m.class_iou(confusion) if confusion is not None else (np.zeros(0), np.zeros(0))
    miou = float(ious.mean()) if ious.size else 1.0
    order = np.argsort(ious)
    classes = [{"class": int(present[i]), "iou": float(ious[i]), "ref_pixels": int(confusion[present[i]].sum()),
                "target_pixels": int(confusion[:, present[i]].sum())} for i in order]
    big = [c for c in classes if c["ref_pixels"] >= max(SMALL_CLASS_PIXELS, SMALL_CLASS_FRACTION * total)]
    worst_big = min(big, key=lambda c: c["iou"]) if big else None
    passed = agreement >= o.required and (worst_big is None or worst_big["iou"] >= o.min_iou)
    if worst is not None:
        arrays["task_disagree"] = worst.disagree.astype(np.uint8)
    failures = sorted((p for p in per_sample if p["agreement"] < 1.0), key=lambda p: p["agreement"])
    worst_class = classes[0] if classes else None
    reason = (f"{agreement:.4%} of pixels agree (required {o.required:.2%}), mean IoU {miou:.4f} over "
              f"{len(classes)} classes present" + (f"; worst class {worst_big['class']} IoU {worst_big['iou']:.4f} "
                                                   f"(required {o.min_iou:g})" if worst_big else ""))
    summary = {"images": len(per_sample), "pixels": total, "pixel_agreement": agreement, "mean_iou": miou,
               "worst_class": worst_class["class"] if worst_class else None,
               "worst_class_iou": worst_class["iou"] if worst_class else None,
               "worst_sample": _where(worst_key) if worst_key else None,
               "worst_sample_agreement": worst.agreement if worst is not None else None}
    return {"passed": passed, "reason": reason, "summary": summary, "classes": classes,
            "failures": failures[:FAILURES_KEPT], "failing_samples": len(failures), "warnings": [],
            "arrays": {"disagree": "task_disagree"} if worst is not None else {}}
