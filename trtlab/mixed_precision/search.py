"""The search for a minimal FP32 keep-set.

1. All half, judged on every search sample: if the goal holds with nothing kept, the search is over. Otherwise
   later steps judge the samples worst first and stop at the first miss (a failing step costs about one run).
2. Growth: keep the top 1, 2, 4, 8 candidates of the search order (``risk.search_order``) and then all of them
   until the goal holds on the search samples; then bisect the prefix length between the last failing and the
   first passing size.
3. Pruning by group testing: try the kept set without a whole group, and only where that misses the goal, halve
   the group (a few necessary nodes among n cost about 2 d log2(n/d) evaluations, not n); groups are taken the
   most compute first (a Conv returned to half raises the FP16 share, a Relu barely does: a search stopped by its
   budget has spent it where it pays). Then single-node passes, repeated until none is removed, so every node left
   is necessary: removing any one of them misses the goal on the search samples.
``max_evaluations`` bounds the work, ``max_seconds`` the search time (growth is never cut by time: it takes about
2 log2(candidates) steps). Without ``max_seconds``, pruning may take as long as the risk analysis and growth
took together (``spent_before`` + growth), at least ``MIN_PRUNE_S``: it refines a set that already meets the goal.
A search stopped during pruning says so (``complete`` false) and returns the smallest set reached so far (every
set it returns met the goal on every search sample).
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


MIN_PRUNE_S = 30.0
PRUNE_SHARE = 1.0  # default pruning time: as long as the first answer took (analysis + growth)


def search(ev: Evaluator, ranked: list[str], max_evaluations: int = 200, say=None,
           max_seconds: float | None = None, cost: dict[str, float] | None = None,
           spent_before: float = 0.0) -> SearchOutcome:
    start = time.monotonic()
    deadline: list = []  # set when pruning starts: (seconds since start, what the note says)

    def spent() -> str | None:
        if ev.counts["evaluations"] >= max_evaluations:
            return "--max-evaluations"
        if deadline and time.monotonic() - start >= deadline[0]:
            return deadline[1]
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
    if max_seconds is not None:
        deadline[:] = [max_seconds, f"--max-seconds ({max_seconds:g} s)"]
    else:
        budget = max(MIN_PRUNE_S, PRUNE_SHARE * (spent_before + time.monotonic() - start))
        deadline[:] = [time.monotonic() - start + budget,
                       f"its default time budget ({budget:.0f} s, the time the analysis and growth took, at least "
                       f"{MIN_PRUNE_S:.0f} s; "
                       "--max-seconds sets it)"]
    try:
        kept, complete, note = _prune(test, found, progress, cost or {}), True, ""
    except _Budget as b:
        kept, complete = progress[-1], False
        note = (f"pruning stopped at {b} after {ev.counts['evaluations']} evaluations with {len(kept)} node(s) "
                "kept: some may be unnecessary (raise the limit to prune further; --max-seconds inf: no time limit)")
    return SearchOutcome(kept, True, complete, ev.memo[(frozenset(kept), "search")], note)


GALLOP = 8  # growth doubles up to this prefix, then bisects up to every candidate


def _grow(test, ranked: list[str]) -> list[str] | None:
    k, last_fail = 1, 0
    while True:
        k = min(k, len(ranked))
        if test(ranked[:k], f"grow top {k}"):
            break
        if k == len(ranked):
            return None
        # a few hazards need a short prefix; past that the error is spread and the prefix long: bisect at once
        last_fail, k = k, (k * 2 if k < GALLOP else len(ranked))
    lo, hi = last_fail, k  # ranked[:lo] fails, ranked[:hi] passes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(ranked[:mid], f"bisect top {mid}"):
            hi = mid
        else:
            lo = mid
    return ranked[:hi]


def _prune(test, kept: list[str], progress: list, cost: dict[str, float]) -> list[str]:
    """Drop what the goal does not need, by group testing: try without a whole group, and only where that misses,
    halve it. A few necessary nodes among many cost about 2 d log2(n / d) evaluations instead of n. Groups are
    taken the most compute first (a search stopped by its budget has returned the costly nodes to half). A last
    pass over single nodes, repeated until it removes none, makes every kept node necessary."""
    rank = {n: i for i, n in enumerate(kept)}

    def costly_first(names: list[str]) -> list[str]:  # then the lowest-ranked
        return sorted(names, key=lambda n: (-cost.get(n, 0.0), -rank[n]))

    kept = _drop_group(test, kept, costly_first(kept), progress)
    while True:
        before = len(kept)
        for node in costly_first(kept):
            trial = [n for n in kept if n != node]
            if test(trial, f"prune {node}"):
                kept = trial
                progress.append(kept)
        if len(kept) == before:
            return kept


def _drop_group(test, kept: list[str], group: list[str], progress: list, known_needed: bool = False) -> list[str]:
    """``kept`` without ``group`` if the goal holds without it, else each half tried the same way.
    ``known_needed``: the group is known to hold a necessary node (its sibling was dropped), so it is split at
    once."""
    if not group:
        return kept
    if not known_needed:
        gone = set(group)
        trial = [n for n in kept if n not in gone]
        step = f"prune {group[0]}" if len(group) == 1 else f"prune {len(group)} node(s)"
        if test(trial, step):
            progress.append(trial)
            return trial
    if len(group) == 1:
        return kept
    half = len(group) // 2
    after_first = _drop_group(test, kept, group[:half], progress)
    return _drop_group(test, after_first, group[half:], progress, known_needed=len(after_first) < len(kept))


def _best(ev: Evaluator, reached: bool, note: str) -> SearchOutcome:
    tried = [e for e in ev.log if e.split == "search"]
    best = max(tried, key=lambda e: (e.worst.get("cosine") or 0.0, -(e.worst.get("max_abs") or 0.0)), default=None)
    return SearchOutcome(best.keep if best else [], reached, False, best, note)
