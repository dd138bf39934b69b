"""Task metrics in comparators/: IoU, set matching (greedy and Hungarian), top-k agreement, segmentation IoU."""

import itertools

import numpy as np
import pytest
from trtlab.comparators import classification as cls_m
from trtlab.comparators import detection as det_m
from trtlab.comparators import segmentation as seg_m


def _brute_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        w = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        h = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        union = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1]) + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - w * h
        out[i, j] = w * h / union
    return out


def _boxes(rng, n):
    xy = rng.uniform(0, 100, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(1, 40, (n, 2))], 1)


def test_iou_matrix_matches_the_definition():
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 7), _boxes(rng, 5)
    np.testing.assert_allclose(det_m.iou_matrix(a, b), _brute_iou(a, b), rtol=1e-12)
    assert det_m.iou_matrix(a[:0], b).shape == (0, 5)


def test_box_formats_and_flipped_corners():
    b = np.array([[10.0, 20.0, 4.0, 6.0]])
    np.testing.assert_allclose(det_m.to_xyxy(b, "cxcywh"), [[8, 17, 12, 23]])
    np.testing.assert_allclose(det_m.to_xyxy(b, "xywh"), [[10, 20, 14, 26]])
    np.testing.assert_allclose(det_m.to_xyxy(b, "xyxy"), [[4, 6, 10, 20]])  # corners ordered
    assert det_m.flipped(b, "xyxy") == 1


def _best_total(score, thr):
    """Largest summed score of a one-to-one matching keeping only pairs >= thr (brute force)."""
    n, m = score.shape
    best = 0.0
    for perm in itertools.permutations(range(max(n, m)), n) if n <= m else []:
        total = sum(score[i, j] for i, j in enumerate(perm) if j < m and score[i, j] >= thr)
        best = max(best, total)
    return best


def test_hungarian_is_optimal_and_greedy_is_one_to_one():
    rng = np.random.default_rng(3)
    for _ in range(20):
        score = rng.uniform(0, 1, (4, 5))
        ri, ti = det_m._hungarian(score, 0.0)
        assert len(set(ri)) == len(ri) == len(set(ti)) == 4
        assert score[ri, ti].sum() == pytest.approx(_best_total(score, 0.0))
        gr, gt = det_m._greedy(score, 0.3)
        assert len(set(gr)) == len(gr) and len(set(gt)) == len(gt) and (score[gr, gt] >= 0.3).all()
    # the classic case where greedy-by-IoU loses a pair that the assignment keeps
    score = np.array([[0.9, 0.8], [0.85, 0.0]])
    assert len(det_m._greedy(score, 0.5)[0]) == 1 and len(det_m._hungarian(score, 0.5)[0]) == 2
    ri, ti = det_m._hungarian(score.T, 0.5)  # more rows than columns
    assert len(ri) == 2


@pytest.mark.parametrize("classes", [1, 5])  # 1: the dense path; 5: same-class pairs only
def test_matching_is_by_class_and_order_free(classes):
    rng = np.random.default_rng(1)
    boxes, scores, labels = _boxes(rng, 50), rng.uniform(0.1, 1, 50), rng.integers(0, classes, 50)
    ref = det_m.Detections(boxes, scores, labels)
    perm = rng.permutation(50)
    tgt = det_m.Detections(boxes[perm] + 0.01, scores[perm] + 1e-4, labels[perm])
    s = det_m.compare_detections(ref, tgt, iou=0.5)
    assert s.matched == 50 and s.ious.min() > 0.98
    tgt.labels = tgt.labels.copy()
    tgt.labels[:3] = 99  # three detections change class: missed on one side, spurious on the other
    s = det_m.compare_detections(ref, tgt, iou=0.5)
    assert s.matched == 47 and s.n_ref - s.matched == 3
    rows = {r["class"]: r for r in det_m.per_class([s])}
    assert rows[99] == {"class": 99, "ref": 0, "target": 3, "matched": 0, "missed": 0, "spurious": 3}
    assert det_m.iou_histogram([s]).sum() == 47


def test_score_min_filters_both_sides():
    ref = det_m.Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), np.array([0.9, 0.01]), np.array([0, 0]))
    tgt = det_m.Detections(ref.boxes.copy(), np.array([0.9, 0.02]), np.array([0, 0]))
    s = det_m.compare_detections(ref, tgt, score_min=0.05)
    assert (s.n_ref, s.n_target, s.matched) == (1, 1, 1)


def test_topk_ties_and_agreement():
    ref = np.array([[0.1, 0.5, 0.5, 0.2], [3.0, 1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(cls_m.topk(ref, 2), [[1, 2], [0, 2]])
    tgt = np.array([[0.1, 0.5, 0.6, 0.2], [3.0, 1.0, 2.0, 0.0]])
    rows = cls_m.compare_scores(ref, tgt, k=2)
    np.testing.assert_array_equal(rows.agree, [False, True])
    np.testing.assert_allclose(rows.overlap, [1.0, 1.0])
    assert rows.margin[1] == pytest.approx(0.407, abs=1e-3) and rows.margin[0] == pytest.approx(0.0)
    probs = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_array_equal(cls_m.probabilities(probs), probs)  # already a distribution
    assert cls_m.as_rows(np.zeros((2, 1000, 1, 1))).shape == (2, 1000)


def test_segmentation_confusion_and_class_iou():
    ref = np.zeros((1, 3, 8, 8), np.float32)
    ref[0, 0] = 1
    ref[0, 2, :4, :4] = 2  # class 2 in the top-left quarter
    tgt = ref.copy()
    tgt[0, 1, :2, :4] = 3  # half of it becomes class 1
    s = seg_m.compare_maps(ref, tgt, 1, 3)
    assert s.agreement == pytest.approx(1 - 8 / 64) and s.disagree.sum() == 8
    present, iou = seg_m.class_iou(s.confusion)
    assert dict(zip(present.tolist(), iou.tolist())) == pytest.approx({0: 1.0, 1: 0.0, 2: 0.5})
    nhwc = np.moveaxis(ref, 1, -1)
    assert seg_m.class_axis(nhwc.shape) == 3 and seg_m.class_axis(ref.shape) == 1
    assert seg_m.compare_maps(nhwc, nhwc, 3, 3).agreement == 1.0
    labels = np.argmax(ref, 1)
    assert seg_m.compare_maps(labels, labels, None, 0).agreement == 1.0
    one = seg_m.labels_of(np.full((1, 1, 4, 4), 0.7), 1)
    assert one.shape == (1, 4, 4) and one.all()


def _greedy_loop(score, thr):
    """The textbook greedy: every candidate pair from the highest score down, taken when both sides are free."""
    ri, ti = np.nonzero(score >= thr)
    order = np.lexsort((ti, ri, -score[ri, ti]))
    used_r, used_t, pairs = set(), set(), set()
    for k in order:
        if ri[k] not in used_r and ti[k] not in used_t:
            used_r.add(ri[k])
            used_t.add(ti[k])
            pairs.add((int(ri[k]), int(ti[k])))
    return pairs


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_greedy_equals_the_textbook_loop(seed):
    rng = np.random.default_rng(seed)
    a = _boxes(rng, 60)
    b = np.concatenate([a[rng.permutation(60)[:45]] + rng.normal(0, 3, (45, 4)), _boxes(rng, 10)])
    score = det_m.iou_matrix(a, b)
    if seed % 2:
        score = np.round(score, 1)  # many ties
    ri, ti = det_m._greedy(score, 0.3)
    assert set(zip(ri.tolist(), ti.tolist())) == _greedy_loop(score, 0.3)


@pytest.mark.parametrize("method", ["greedy", "hungarian"])
def test_match_on_crowded_boxes_is_one_to_one(method):
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 20, (40, 2))
    ref = det_m.Detections(np.concatenate([xy, xy + 30], 1), rng.uniform(0, 1, 40), rng.integers(0, 2, 40))
    tgt = det_m.Detections(ref.boxes + rng.normal(0, 2, (40, 4)), ref.scores, ref.labels)
    ri, ti, ious = det_m.match(ref, tgt, 0.5, method)
    assert len(set(ri.tolist())) == len(ri) == len(set(ti.tolist())) and (ious >= 0.5).all()
    assert (ref.labels[ri] == tgt.labels[ti]).all() and len(ri) >= 38
    np.testing.assert_allclose(ious, det_m.iou_matrix(ref.boxes, tgt.boxes)[ri, ti])


def test_a_score_rounded_across_the_threshold_is_matched_within_the_margin():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]])
    ref = det_m.Detections(boxes, np.array([0.9, 0.0502]), np.array([0, 1]))
    tgt = det_m.Detections(boxes + 0.01, np.array([0.9, 0.0498]), np.array([0, 1]))
    s = det_m.compare_detections(ref, tgt, score_min=0.05, margin=0.01)
    assert (s.n_ref, s.n_target, s.matched, s.matched_target) == (2, 1, 2, 1)
    s = det_m.compare_detections(ref, tgt, score_min=0.05, margin=0.0)
    assert (s.n_ref, s.n_target, s.matched, s.matched_target) == (2, 1, 1, 1)
    total = det_m.DetectionSummary()
    total.add(s)
    assert total.recall() == 0.5 and total.precision() == 1.0
