"""The search for a minimal FP32 keep-set.

1. All half, judged on every search sample: if the goal holds with nothing kept, the search is over. Otherwise
   later steps judge the samples worst first and stop at the first miss (a failing step costs about one run).
2. Growth: keep the top 1, 2, 4, ... candidates of the ranking (risk score: what each node introduces on its own,
   measured by the layer-wise pass of the risk analysis) until the goal holds on the search samples; then
   bisect the prefix length between the last failing and the first passing size.
3. Pruning: drop chunks of the kept set (halves, quarters, ..., lowest-ranked first, while a pass removes
   something) whenever the goal still holds without them; then single-node passes, repeated until none is
   removed, so every node left is necessary: removing any one of them misses the goal on the search samples.
``max_evaluations`` and ``max_seconds`` bound the work; a search stopped by them during pruning says so
(``complete`` false) and returns the smallest set reached so far (every set it returns met the goal on every
search sample).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from trtlab.mixed_precision.evaluate import Evaluation, Evaluator


@dataclass
class SearchOutcome:
    kept: list[str]
    reached: bool  # the goal holds on the search samples with ``kept``
    complete: bool  # pruning finished: every kept node is necessary
    best: Evaluation | None
    note: str = ""


class _Budget(Exception):
    pass


def search(ev: Evaluator, ranked: list[str], max_evaluations: int = 200, say=None,
           max_seconds: float | None = None) -> SearchOutcome:
    start = time.monotonic()

    def spent() -> str | None:
        if ev.counts["evaluations"] >= max_evaluations:
            return "--max-evaluations"
        if max_seconds is not None and time.monotonic() - start >= max_seconds:
            return f"--max-seconds ({max_seconds:g} s)"
        return None

    def test(keep: list[str], step: str) -> bool:
        why = spent()
        if why and not ev.known(keep):
            raise _Budget(why)
        result = ev.evaluate(keep, "search", step)
        if say:
            say(f"{step}: {len(keep)} node(s) in FP32 -> {'meets' if result.passed else 'misses'} the goal")
        return result.passed

    first = ev.evaluate([], "search", "all half", stop=False)
    if first.passed:
        return SearchOutcome([], True, True, first)
    ev.hardest_first(first)
    try:
        found = _grow(test, ranked)
    except _Budget as b:
        return _best(ev, False, f"stopped at {b} before the goal was reached")
    if found is None:
        return _best(ev, False, "no keep-set meets the goal, not even every candidate in FP32")
    progress = [found]
    try:
        kept, complete, note = _prune(test, found, progress), True, ""
    except _Budget as b:
        kept, complete = progress[-1], False
        note = (f"pruning stopped at {b} after {ev.counts['evaluations']} evaluations with {len(kept)} node(s) "
                "kept: some may be unnecessary (raise the limit to prune further)")
    return SearchOutcome(kept, True, complete, ev.memo[(frozenset(kept), "search")], note)


def _grow(test, ranked: list[str]) -> list[str] | None:
    k, last_fail = 1, 0
    while True:
        k = min(k, len(ranked))
        if test(ranked[:k], f"grow top {k}"):
            break
        if k == len(ranked):
            return None
        last_fail, k = k, k * 2
    lo, hi = last_fail, k  # ranked[:lo] fails, ranked[:hi] passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(ranked[:mid], f"bisect top {mid}"):
            hi = mid
        else:
            lo = mid
    return ranked[:hi]


def _prune(test, kept: list[str], progress: list) -> list[str]:
    chunk = max(1, len(kept) // 2)
    while chunk > 1:  # chunks while they pay: a pass that removes nothing sends the search to single nodes
        before = len(kept)
        kept = _drop_pass(test, kept, chunk, progress)
        if len(kept) == before:
            break
        chunk //= 2
    while True:  # single nodes, until a whole pass removes nothing
        before = len(kept)
        kept = _drop_pass(test, kept, 1, progress)
        if len(kept) == before:
            return kept


def _drop_pass(test, kept: list[str], chunk: int, progress: list) -> list[str]:
    i = len(kept)
    while i > 0:  # from the end: the lowest-ranked nodes go first
        start = max(0, i - chunk)
        trial = kept[:start] + kept[i:]
        label = f"prune {i - start} node(s)" if chunk > 1 else f"prune {kept[start]}"
        if trial != kept and test(trial, label):
            kept = trial
            progress.append(kept)
        i = start
    return kept


def _best(ev: Evaluator, reached: bool, note: str) -> SearchOutcome:
    tried = [e for e in ev.log if e.split == "search"]
    best = max(tried, key=lambda e: (e.worst.get("cosine") or 0.0, -(e.worst.get("max_abs") or 0.0)), default=None)
    return SearchOutcome(best.keep if best else [], reached, False, best, note)
