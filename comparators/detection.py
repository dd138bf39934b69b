"""Detections compared as sets: reference and target detections matched by class and IoU.

Two backends may return the same objects in a different order (scores that differ by ~1e-6 swap places in a
TopK or an NMS), so a position-by-position comparison reports label mismatches and huge box errors on outputs that
mean the same thing. Here every detection at or above ``score_min`` is a set member; pairs of the same class whose
IoU is at least ``iou`` are matched one-to-one, greedily from the highest IoU down (``greedy``) or so that the
summed IoU of the matching is largest (``hungarian``). Counts: matched, missed (reference detections without a
partner: recall), spurious (target detections without a partner: precision).

Pure NumPy; the IoU matrix is computed at once for all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IOU_BINS = np.linspace(0.0, 1.0, 51)


@dataclass
class Detections:
    """One image's detections: boxes [N, 4] as x1, y1, x2, y2; scores [N]; labels [N] (integers)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    flipped: int = 0  # boxes given with x2 < x1 or y2 < y1 (see ``flipped``)

    def keep(self, score_min: float) -> Detections:
        m = (self.scores >= score_min) & np.isfinite(self.scores) & np.isfinite(self.boxes).all(-1)
        return Detections(self.boxes[m], self.scores[m], self.labels[m])

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def to_xyxy(boxes: np.ndarray, fmt: str) -> np.ndarray:
    """``xyxy`` (x1, y1, x2, y2), ``xywh`` (x1, y1, w, h) or ``cxcywh`` (centre, size) to x1, y1, x2, y2, with
    the corners ordered (a box is compared as it would be drawn)."""
    b = boxes.astype(np.float64, copy=False)
    if fmt == "xyxy":
        pass
    elif fmt == "xywh":
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4]], axis=1)
    elif fmt == "cxcywh":
        half = b[:, 2:4] / 2
        b = np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)
    else:
        raise ValueError(f"unknown box format {fmt!r}")
    return np.concatenate([np.minimum(b[:, :2], b[:, 2:4]), np.maximum(b[:, :2], b[:, 2:4])], axis=1)


def flipped(boxes: np.ndarray, fmt: str) -> int:
    """How many boxes have a corner before the other one (x2 < x1 or y2 < y1; a negative size): the sign that the
    box format or the column layout is not the one assumed (boxes are compared as drawn, corners ordered)."""
    b = np.asarray(boxes)
    if fmt == "xyxy":
        return int(np.count_nonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])))
    return int(np.count_nonzero((b[:, 2] < 0) | (b[:, 3] < 0)))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` [N, 4] with every box in ``b`` [M, 4] (x1, y1, x2, y2): [N, M], in float64.
    Degenerate boxes have area 0; 0/0 is IoU 0, except for two identical points (the same detection)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    ax1, ay1, ax2, ay2 = (c[:, None] for c in a.T)
    bx1, by1, bx2, by2 = b.T
    inter = np.minimum(ax2, bx2)
    inter -= np.maximum(ax1, bx1)
    np.maximum(inter, 0, out=inter)
    h = np.minimum(ay2, by2)
    h -= np.maximum(ay1, by1)
    np.maximum(h, 0, out=h)
    inter *= h
    union = h
    np.add((ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1), out=union)
    union -= inter
    positive = union > 0
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=positive)
    if not positive.all():
        same = (a[:, None, :] == b[None, :, :]).all(-1) & ~positive
        iou[same] = 1.0
    return iou


def _firsts(key: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal ``key`` in ``order``."""
    k = key[order]
    first = np.ones(k.size, bool)
    first[1:] = k[1:] != k[:-1]
    mask = np.zeros(k.size, bool)
    mask[order[first]] = True
    return mask


def greedy_pairs(ri: np.ndarray, ti: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Greedy one-to-one matching of candidate pairs (ri[k], ti[k]) with score v[k], from the highest score down
    (ties: lower row, then lower column); returns the indexes k taken. Vectorised in rounds: a candidate that is the
    best of its row and of its column among the live ones is exactly what greedy takes next, so each round takes
    all of those and drops the candidates that share their rows or columns."""
    live = np.arange(ri.size)
    taken = []
    while live.size:
        r, t, s = ri[live], ti[live], v[live]
        row_best = _firsts(r, np.lexsort((t, -s, r)))
        col_best = _firsts(t, np.lexsort((r, -s, t)))
        mutual = row_best & col_best
        taken.append(live[mutual])
        blocked = np.isin(r, r[mutual]) | np.isin(t, t[mutual])
        live = live[~blocked]
    return np.concatenate(taken) if taken else np.zeros(0, np.int64)


def _greedy(score: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching on a dense score matrix (pairs with score >= thr)."""
    ri, ti = np.nonzero(score >= thr)
    k = greedy_pairs(ri, ti, score[ri, ti])
    return ri[k], ti[k]


def _hungarian(score: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Assignment maximising the summed score (shortest augmenting paths, O(n^3), rows relaxed vectorised);
    pairs below ``thr`` are dropped afterwards."""
    n_r, n_t = score.shape
    if not n_r or not n_t:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transpose = n_r > n_t
    cost = -(score.T if transpose else score)  # rows <= columns
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    p = np.zeros(m + 1, np.int64)  # p[j]: row (1-based) assigned to column j; column 0 is the free slot
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            cur = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.nonzero(p[1:])[0]
    rows = p[1:][cols] - 1
    ri, ti = (cols, rows) if transpose else (rows, cols)
    keep = score[ri, ti] >= thr
    return ri[keep], ti[keep]


def same_class_pairs(ref_labels: np.ndarray, tgt_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (ref index, target index) of the same class, without a Python loop: targets sorted by class, each
    reference detection paired with the run of its class."""
    order = np.argsort(tgt_labels, kind="stable")
    sorted_t = tgt_labels[order]
    start = np.searchsorted(sorted_t, ref_labels, "left")
    counts = np.searchsorted(sorted_t, ref_labels, "right") - start
    ri = np.repeat(np.arange(len(ref_labels)), counts)
    offsets = np.arange(ri.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return ri, order[np.repeat(start, counts) + offsets]


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of a[k] with b[k] (x1, y1, x2, y2), for every k."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    positive = union > 0
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=positive)
    iou[~positive & (a == b).all(-1)] = 1.0  # two identical points: the same detection
    return iou


def match(ref: Detections, tgt: Detections, iou: float = 0.5, method: str = "greedy") -> tuple[np.ndarray, ...]:
    """Matched pairs (ref index, target index, their IoU): same class, IoU >= ``iou``, one-to-one.

    Only same-class pairs are scored (``same_class_pairs``); when no detection has two candidates (the usual case:
    the same detections, maybe reordered) the candidates are the matching. Otherwise ``greedy_pairs`` works on the
    candidate list, and ``hungarian`` on the dense matrix of the rows and columns that have candidates (where
    non-candidates weigh 0, so the assignment maximises the summed IoU of valid pairs only)."""
    ri, ti = same_class_pairs(np.asarray(ref.labels), np.asarray(tgt.labels))
    if ri.size * 4 > len(ref) * len(tgt):  # few classes: the dense matrix is cheaper than gathering pairs
        dense = iou_matrix(ref.boxes, tgt.boxes)
        np.putmask(dense, ref.labels[:, None] != tgt.labels[None, :], -1.0)
        ri, ti = np.nonzero(dense >= iou)
        v = dense[ri, ti]
    else:
        v = pair_iou(ref.boxes[ri], tgt.boxes[ti])
        keep = v >= iou
        ri, ti, v = ri[keep], ti[keep], v[keep]
    if np.unique(ri).size == ri.size and np.unique(ti).size == ti.size:
        return ri, ti, v
    if method != "hungarian":
        k = greedy_pairs(ri, ti, v)
        return ri[k], ti[k], v[k]
    rows, r_inv = np.unique(ri, return_inverse=True)
    cols, c_inv = np.unique(ti, return_inverse=True)
    dense = np.zeros((rows.size, cols.size))
    dense[r_inv, c_inv] = v
    a, b = _hungarian(dense, iou)
    return rows[a], cols[b], dense[a, b]


@dataclass
class DetectionSample:
    """The comparison of one image. Counts are of detections at or above ``score_min``; pairs are those with at
    least one side at or above it (the other side may sit within the margin below)."""

    n_ref: int
    n_target: int
    ref_labels: np.ndarray  # of the reference's detections >= score_min
    target_labels: np.ndarray
    matched_labels: np.ndarray  # of matched reference detections >= score_min
    matched_target_labels: np.ndarray  # of matched target detections >= score_min
    ious: np.ndarray
    score_delta: np.ndarray  # target - reference score of each pair

    @property
    def matched(self) -> int:
        return int(self.matched_labels.size)

    @property
    def matched_target(self) -> int:
        return int(self.matched_target_labels.size)


def compare_detections(ref: Detections, tgt: Detections, iou: float = 0.5, score_min: float = 0.0,
                       method: str = "greedy", margin: float = 0.0) -> DetectionSample:
    """Match the detections at or above ``score_min - margin``; count those at or above ``score_min``. A detection
    just over the threshold whose partner fell just under it (scores that differ by rounding) is matched, not
    missed and spurious at once."""
    ref, tgt = ref.keep(score_min - margin), tgt.keep(score_min - margin)
    ri, ti, ious = match(ref, tgt, iou, method)
    r_in, t_in = ref.scores >= score_min, tgt.scores >= score_min
    pair = r_in[ri] | t_in[ti]
    ri, ti, ious = ri[pair], ti[pair], ious[pair]
    return DetectionSample(int(r_in.sum()), int(t_in.sum()), ref.labels[r_in], tgt.labels[t_in],
                           ref.labels[ri[r_in[ri]]], tgt.labels[ti[t_in[ti]]], ious,
                           tgt.scores[ti].astype(np.float64) - ref.scores[ri].astype(np.float64))


@dataclass
class DetectionSummary:
    """Totals over images; the verdict needs recall (matched reference detections / reference detections) and
    precision (matched target detections / target detections) >= min_match."""

    n_ref: int = 0
    n_target: int = 0
    matched: int = 0
    matched_target: int = 0
    pairs: int = 0
    iou_sum: float = 0.0
    iou_min: float | None = None
    score_abs_sum: float = 0.0
    score_abs_max: float = 0.0

    def add(self, s: DetectionSample) -> None:
        self.n_ref += s.n_ref
        self.n_target += s.n_target
        self.matched += s.matched
        self.matched_target += s.matched_target
        self.pairs += int(s.ious.size)
        if s.ious.size:
            self.iou_sum += float(s.ious.sum())
            lo = float(s.ious.min())
            self.iou_min = lo if self.iou_min is None else min(self.iou_min, lo)
            d = np.abs(s.score_delta)
            self.score_abs_sum += float(d.sum())
            self.score_abs_max = max(self.score_abs_max, float(d.max()))

    def recall(self) -> float:
        return self.matched / self.n_ref if self.n_ref else 1.0

    def precision(self) -> float:
        return self.matched_target / self.n_target if self.n_target else 1.0


def per_class(samples: list[DetectionSample]) -> list[dict]:
    """Reference, target and matched counts per class, over all images (vectorised with bincount)."""
    if not samples:
        return []
    cat = [np.concatenate([getattr(s, k) for s in samples]).astype(np.int64) for k in
           ("ref_labels", "target_labels", "matched_labels", "matched_target_labels")]
    lo = min((int(c.min()) for c in cat if c.size), default=0)
    size = max((int(c.max()) for c in cat if c.size), default=-1) - lo + 1
    counts = [np.bincount(c - lo, minlength=size) if c.size else np.zeros(size, np.int64) for c in cat]
    rows = []
    for k in np.nonzero(counts[0] + counts[1])[0]:
        ref_n, tgt_n, m, mt = (int(c[k]) for c in counts)
        rows.append({"class": int(k) + lo, "ref": ref_n, "target": tgt_n, "matched": m, "missed": ref_n - m,
                     "spurious": tgt_n - mt})
    return rows


def iou_histogram(samples: list[DetectionSample]) -> np.ndarray:
    ious = np.concatenate([s.ious for s in samples]) if samples else np.zeros(0)
    return np.histogram(np.clip(ious, 0, 1), bins=IOU_BINS)[0].astype(np.int64)
