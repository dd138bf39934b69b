"""Segmentation agreement: per-pixel argmax, a confusion matrix, IoU per class and the pixels that disagree.

A map is class scores with a class axis ([N, C, H, W] or [N, H, W, C]), a single-channel probability or logit map
(thresholded), or a label map already ([N, H, W] integers). The confusion matrix is one ``bincount`` over
``ref * C + target``; class IoU is ``diag / (row + column - diag)`` over the classes present on either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def class_axis(shape: tuple[int, ...]) -> int | None:
    """The class axis of a score map: 1 for [N, C, H, W], -1 for [N, H, W, C] (the smaller of the two);
    None for a label map ([N, H, W] or [H, W])."""
    if len(shape) == 4:
        return 1 if shape[1] <= shape[3] else 3
    return None


def labels_of(arr: np.ndarray, axis: int | None, threshold: float = 0.5) -> np.ndarray:
    """Per-pixel class labels [N, H, W] (int64)."""
    a = np.asarray(arr)
    if axis is None or a.dtype.kind in "iub":
        lab = a.astype(np.int64)
        return lab[None] if lab.ndim == 2 else lab.reshape((-1,) + lab.shape[-2:])
    bad = ~np.isfinite(a).all(axis=axis)  # a pixel with NaN/Inf has no class (-1): it never agrees with a real one
    if a.shape[axis] == 1:  # one channel: foreground where the value exceeds the threshold
        lab = (np.take(a, 0, axis=axis) > threshold).astype(np.int64)
    else:
        lab = np.argmax(np.where(np.isnan(a), -np.inf, a), axis=axis).astype(np.int64)
    return np.where(bad, -1, lab)


@dataclass
class SegmentationSample:
    agreement: float
    confusion: np.ndarray  # [K, K] counts, rows reference, columns target, classes 0..K-1
    disagree: np.ndarray  # [H, W] bool of the worst image in the batch
    worst_image: int


def compare_maps(ref: np.ndarray, tgt: np.ndarray, axis: int | None, n_classes: int, threshold: float = 0.5
                 ) -> SegmentationSample:
    r, t = labels_of(ref, axis, threshold), labels_of(tgt, axis, threshold)
    if r.shape != t.shape:
        raise ValueError(f"label maps differ in shape: reference {list(r.shape)}, target {list(t.shape)}")
    k = max(n_classes, int(max(r.max(initial=0), t.max(initial=0))) + 1)
    r_clip, t_clip = np.clip(r, 0, k - 1), np.clip(t, 0, k - 1)
    confusion = np.bincount((r_clip * k + t_clip).ravel(), minlength=k * k).reshape(k, k)
    diff = r != t
    per_image = diff.reshape(diff.shape[0], -1).mean(-1) if diff.size else np.zeros(1)
    worst = int(np.argmax(per_image))
    return SegmentationSample(1.0 - float(diff.mean()) if diff.size else 1.0, confusion, diff[worst], worst)


def class_iou(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes present on either side, their IoU)."""
    diag = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - diag
    present = np.nonzero(union > 0)[0]
    return present, diag[present] / union[present]


def add_confusion(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    if a is None:
        return b.copy()
    k = max(a.shape[0], b.shape[0])
    out = np.zeros((k, k), np.int64)
    out[:a.shape[0], :a.shape[0]] += a
    out[:b.shape[0], :b.shape[0]] += b
    return out
