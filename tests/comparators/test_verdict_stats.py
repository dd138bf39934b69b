"""comparators.verdict's degenerate-reference rules on arrays built here."""

from __future__ import annotations

import numpy as np
from trtlab.comparators.verdict import merge_stats, output_stats, weak_reason


def _weak(ref: np.ndarray) -> str | None:
    return weak_reason(merge_stats([output_stats(ref, ref.copy())]))


def test_sorted_rows_are_not_one_class():
    """TopK values and sorted scores put the row's maximum first by construction: not a classifier always
    answering class 0."""
    rng = np.random.default_rng(0)
    topk = -np.sort(-rng.random((8, 5)), axis=-1).astype(np.float32)
    assert _weak(topk) is None
    assert _weak(np.sort(rng.random((8, 5)), axis=-1).astype(np.float32)) is None


def test_a_classifier_answering_one_class_is_still_named():
    rng = np.random.default_rng(1)
    scores = rng.random((8, 5)).astype(np.float32)
    scores[:, 3] += 2.0
    assert _weak(scores).startswith("one class (argmax 3")
