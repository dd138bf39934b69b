"""The search for a minimal FP32 keep-set.

1. All half: if the goal holds with nothing kept, the search is over.
2. Growth: keep the top 1, 2, 4, ... candidates of the ranking (risk score + introduced error) until the goal
   holds on the search samples; then bisect the prefix length between the last failing and the first passing size.
3. Pruning: drop chunks of the kept set (halves, quarters, ..., lowest-ranked first, while a pass removes
   something) whenever the goal still holds without them; then single-node passes, repeated until none is
   removed, so every node left is necessary: removing any one of them breaks the goal on the search samples.
``max_evaluations`` bounds the work; a search stopped by it says so (``complete`` false).
"""

from __future__ import annotations

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


def search(ev: Evaluator, ranked: list[str], max_evaluations: int = 200, say=None) -> SearchOutcome:
    def test(keep: list[str], step: str) -> bool:
        if ev.counts["evaluations"] >= max_evaluations and (frozenset(keep), "search") not in ev.memo:
            raise _Budget
        result = ev.evaluate(keep, "search", step)
        if say:
            say(f"{step}: {len(keep)} node(s) in FP32 -> {'meets' if result.passed else 'misses'} the goal")
        return result.passed

    try:
        if test([], "all half"):
            return SearchOutcome([], True, True, ev.memo[(frozenset(), "search")])
        found = _grow(test, ranked)
    except _Budget:
        return _best(ev, False, "stopped at --max-evaluations before the goal was reached")
    if found is None:
        return _best(ev, False, "no keep-set meets the goal, not even every candidate in FP32")
    kept = found
    try:
        kept = _prune(test, found)
        complete, note = True, ""
    except _Budget:
        kept = _smallest_passing(ev, found)
        complete, note = False, "pruning stopped at --max-evaluations: some kept nodes may be unnecessary"
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


def _prune(test, kept: list[str]) -> list[str]:
    chunk = max(1, len(kept) // 2)
    while chunk > 1:  # chunks while they pay: a pass that removes nothing sends the search to single nodes
        before = len(kept)
        kept = _drop_pass(test, kept, chunk)
        if len(kept) == before:
            break
        chunk //= 2
    while True:  # single nodes, until a whole pass removes nothing
        before = len(kept)
        kept = _drop_pass(test, kept, 1)
        if len(kept) == before:
            return kept


def _drop_pass(test, kept: list[str], chunk: int) -> list[str]:
    i = len(kept)
    while i > 0:  # from the end: the lowest-ranked nodes go first
        start = max(0, i - chunk)
        trial = kept[:start] + kept[i:]
        label = f"prune {i - start} node(s)" if chunk > 1 else f"prune {kept[start]}"
        if trial != kept and test(trial, label):
            kept = trial
        i = start
    return kept


def _smallest_passing(ev: Evaluator, fallback: list[str]) -> list[str]:
    passing = [e for e in ev.log if e.split == "search" and e.passed]
    return min(passing, key=lambda e: len(e.keep)).keep if passing else fallback


def _best(ev: Evaluator, reached: bool, note: str) -> SearchOutcome:
    tried = [e for e in ev.log if e.split == "search"]
    best = max(tried, key=lambda e: (e.worst.get("cosine") or 0.0, -(e.worst.get("max_abs") or 0.0)), default=None)
    return SearchOutcome(best.keep if best else [], reached, False, best, note)
