"""NumPy reference implementations of plugin ops, so a rewritten model still runs on the CPU.

Each implementation takes the node's inputs as arrays and its attributes as keyword arguments and returns a
tuple of arrays, one per node output. ``REFERENCES`` is the literal registry of shipped ones (keyed by plugin
name: TensorRT looks plugins up by name, whatever the node's domain); rules loaded from a spec add their own.
"""

from __future__ import annotations

import numpy as np


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box against many; corners in any order (as ONNX NonMaxSuppression allows)."""
    a = np.concatenate([np.minimum(box[:2], box[2:]), np.maximum(box[:2], box[2:])])
    b = np.concatenate([np.minimum(others[:, :2], others[:, 2:]), np.maximum(others[:, :2], others[:, 2:])], axis=1)
    lo = np.maximum(a[:2], b[:, :2])
    hi = np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area_a = np.prod(a[2:] - a[:2])
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _corners(boxes: np.ndarray, box_coding: int) -> np.ndarray:
    if box_coding == 1:  # center: (x, y, w, h)
        c, half = boxes[..., :2], boxes[..., 2:] / 2
        return np.concatenate([c - half, c + half], axis=-1)
    return boxes


def _greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if len(keep) >= limit:
            break
        if keep and np.any(_iou(boxes[i], boxes[keep]) > iou_threshold):
            continue
        keep.append(int(i))
    return keep


def efficient_nms(boxes, scores, anchors=None, *, score_threshold=0.0, iou_threshold=0.5, max_output_boxes=100,
                  background_class=-1, score_activation=0, box_coding=0, class_agnostic=0, **_ignored):
    """EfficientNMS_TRT: boxes [B, N, 4] (or [B, N, 1, 4]), scores [B, N, C] ->
    num_detections [B, 1] int32, detection_boxes [B, K, 4], detection_scores [B, K], detection_classes [B, K] int32.
    Per class (or across classes when class_agnostic), greedy NMS of boxes scoring above score_threshold; the
    survivors of all classes sorted by score, the best max_output_boxes kept, the rest zero-padded."""
    boxes = np.asarray(boxes, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    if boxes.ndim == 4:
        boxes = boxes[:, :, 0, :]
    if score_activation:
        scores = 1.0 / (1.0 + np.exp(-scores))
    batch, _n, classes = scores.shape
    k = int(max_output_boxes)
    num = np.zeros((batch, 1), np.int32)
    out_boxes = np.zeros((batch, k, 4), np.float32)
    out_scores = np.zeros((batch, k), np.float32)
    out_classes = np.zeros((batch, k), np.int32)
    for b in range(batch):
        corner = _corners(boxes[b], int(box_coding))
        found: list[tuple[float, int, int]] = []
        groups = [[c for c in range(classes) if c != background_class]] if class_agnostic else \
            [[c] for c in range(classes) if c != background_class]
        for group in groups:
            best = scores[b][:, group].max(axis=1)
            cls = np.asarray(group)[scores[b][:, group].argmax(axis=1)]
            cand = np.nonzero(best > score_threshold)[0]
            for i in _greedy_nms(corner[cand], best[cand], float(iou_threshold), k):
                found.append((float(best[cand[i]]), int(cls[cand[i]]), int(cand[i])))
        found.sort(key=lambda t: -t[0])
        found = found[:k]
        num[b, 0] = len(found)
        for j, (score, cls_, idx) in enumerate(found):
            out_boxes[b, j], out_scores[b, j], out_classes[b, j] = boxes[b, idx], score, cls_
    return num, out_boxes, out_scores, out_classes


# plugin name -> implementation (literal on purpose)
REFERENCES = {
    "EfficientNMS_TRT": efficient_nms,
}
