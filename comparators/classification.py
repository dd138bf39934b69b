"""Classification agreement: the same top-1 class, the same top-k set, and the error of the top classes.

Rows are images: class scores [B, C] (logits or probabilities; trailing size-1 dimensions are dropped). Scores are
turned into probabilities with a softmax unless every row already is a distribution (all in [0, 1], summing to 1),
so "probability error" means the same thing for a model that ends in Softmax and one that ends in a Gemm.
A target row with NaN/Inf where the reference row is finite disagrees (its top-1 is -1): argmax of a NaN row is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def as_rows(scores: np.ndarray) -> np.ndarray:
    """[B, C] float64 from [C], [B, C] or [B, C, 1, 1]."""
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim == 1:
        return a[None, :]
    while a.ndim > 2 and a.shape[-1] == 1:
        a = a[..., 0]
    return a.reshape(-1, a.shape[-1]) if a.ndim > 2 else a


def probabilities(rows: np.ndarray) -> np.ndarray:
    finite = np.isfinite(rows).all()
    if finite and rows.size and rows.min() >= 0 and rows.max() <= 1 and np.allclose(rows.sum(-1), 1, atol=1e-3):
        return rows
    with np.errstate(all="ignore"):
        z = rows - np.max(rows, axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)


def topk(rows: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores per row, largest first (ties: lower index first); NaN sorts last."""
    k = min(k, rows.shape[-1])
    key = np.where(np.isnan(rows), -np.inf, rows)
    part = np.argpartition(-key, k - 1, axis=-1)[:, :k] if k < rows.shape[-1] else np.tile(
        np.arange(rows.shape[-1]), (rows.shape[0], 1))
    vals = np.take_along_axis(key, part, -1)
    order = np.lexsort((part, -vals), axis=-1)
    return np.take_along_axis(part, order, -1)


@dataclass
class ClassificationRows:
    """Per image: top-1 of each side, top-k overlap (0..1), the reference's top-1 margin, errors of the top classes."""

    ref_top1: np.ndarray
    target_top1: np.ndarray
    overlap: np.ndarray
    margin: np.ndarray  # reference probability of its top-1 minus that of its second class
    prob_err: np.ndarray  # max |p_target - p_ref| over the reference's top-k classes
    score_err: np.ndarray  # the same on the raw scores (logits)

    @property
    def agree(self) -> np.ndarray:
        return self.ref_top1 == self.target_top1


def compare_scores(ref: np.ndarray, tgt: np.ndarray, k: int = 5) -> ClassificationRows:
    r, t = as_rows(ref), as_rows(tgt)
    k = max(1, min(k, r.shape[-1]))
    rk, tk = topk(r, k), topk(t, k)
    overlap = (rk[:, :, None] == tk[:, None, :]).any(-1).sum(-1) / k
    pr, pt = probabilities(r), probabilities(t)
    top2 = topk(pr, 2) if pr.shape[-1] > 1 else np.zeros((pr.shape[0], 1), np.int64)
    p_sorted = np.take_along_axis(pr, top2, -1)
    margin = p_sorted[:, 0] - (p_sorted[:, 1] if p_sorted.shape[1] > 1 else 0.0)
    with np.errstate(invalid="ignore"):
        prob_err = np.abs(np.take_along_axis(pt, rk, -1) - np.take_along_axis(pr, rk, -1)).max(-1)
        score_err = np.abs(np.take_along_axis(t, rk, -1) - np.take_along_axis(r, rk, -1)).max(-1)
    broken = ~np.isfinite(t).all(-1) & np.isfinite(r).all(-1)  # new NaN/Inf in a row: that image disagrees
    target_top1 = np.where(broken, -1, tk[:, 0])
    overlap = np.where(broken, 0.0, overlap)
    prob_err = np.where(broken, np.inf, prob_err)
    return ClassificationRows(rk[:, 0], target_top1, overlap, margin, prob_err, score_err)
