"""The goal on the outputs, and the evaluator that judges keep-sets.

An evaluation runs the mixed model for one keep-set on the samples of a split (search or held-out) and compares
its outputs with the FP32 reference's, which are computed once per split and cached. Search steps run the hardest
sample first and stop at the first sample that misses (``stop``); held-out verdicts judge every sample. (Judging
search steps on the hardest sample alone and confirming at the end was tried: a set pruned to the edge of the
goal on one sample missed it by 3-4 dB on the others, and the search had to start over.) Search steps may run on
a faster backend spec
(``search_spec``: onnxruntime's extended graph optimizations, which fuse but keep the explicit Cast pairs of the
storage simulation). Results are memoized by keep-set and samples, so asking twice costs nothing; ``counts`` says
how many evaluations, sessions and reference runs the search took and how many answers came from the cache.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from trtlab import backends
from trtlab.comparators import Tolerances, compare_arrays
from trtlab.mixed_precision.sim import HalfPlan, simulate


@dataclass
class Goal:
    tolerances: Tolerances | None  # None: no element-wise tolerance check
    min_cosine: float | None = None
    min_snr: float | None = None
    margin: float = 1.0  # the search judges with tolerances x margin (and cosine/SNR tightened to match)

    def tightened(self) -> Goal:
        """The goal the search uses: tolerances scaled by ``margin``, so what it finds generalizes."""
        if self.margin >= 1.0:
            return self
        tol = None
        if self.tolerances is not None:
            t = self.tolerances
            tol = Tolerances(t.atol * self.margin, t.rtol * self.margin,
                             {k: v * self.margin for k, v in t.per_atol.items()},
                             {k: v * self.margin for k, v in t.per_rtol.items()})
        cos = None if self.min_cosine is None else 1.0 - (1.0 - self.min_cosine) * self.margin ** 2
        snr = None if self.min_snr is None else self.min_snr - 20 * math.log10(self.margin)
        return Goal(tol, cos, snr, 1.0)

    def describe(self) -> str:
        parts = []
        if self.tolerances is not None:
            parts.append(f"atol {self.tolerances.atol:g}, rtol {self.tolerances.rtol:g}")
        if self.min_cosine is not None:
            parts.append(f"cosine >= {self.min_cosine:g}")
        if self.min_snr is not None:
            parts.append(f"SNR >= {self.min_snr:g} dB")
        return " and ".join(parts)

    def judge(self, name: str, ref: np.ndarray, out: np.ndarray) -> tuple[bool, dict]:
        atol, rtol = self.tolerances.for_tensor(name) if self.tolerances is not None else (math.inf, math.inf)
        m = compare_arrays(name, ref, out, atol if math.isfinite(atol) else 0.0, rtol if math.isfinite(rtol) else 0.0)
        nonfinite = (m.nan["target"] - m.nan["ref"]) + (m.inf["target"] - m.inf["ref"])
        ok = nonfinite == 0 and ref.shape == out.shape
        if self.tolerances is not None:
            ok = ok and m.passed
        cos = 1.0 if m.cosine is None else m.cosine
        snr = math.inf if m.snr_db is None else m.snr_db
        if self.min_cosine is not None:
            ok = ok and cos >= self.min_cosine
        if self.min_snr is not None:
            ok = ok and snr >= self.min_snr
        return bool(ok), {"max_abs": m.max_abs, "mismatch_fraction": m.mismatch_fraction if self.tolerances else None,
                          "cosine": cos, "snr_db": snr if math.isfinite(snr) else None, "nonfinite": int(nonfinite)}


@dataclass
class Evaluation:
    keep: list[str]
    split: str
    passed: bool
    worst: dict  # over outputs and samples: max max_abs, max mismatch, min cosine, min SNR
    outputs: dict = field(default_factory=dict)  # output -> worst metrics over samples
    seconds: float = 0.0
    step: str = ""
    samples: list[int] = field(default_factory=list)  # the sample indices judged
    per_sample: dict = field(default_factory=dict)  # sample index -> worst SNR over outputs (None: not finite)

    def to_json(self) -> dict:
        return {"kept": len(self.keep), "split": self.split, "passed": self.passed, "worst": self.worst,
                "seconds": round(self.seconds, 3), "step": self.step, "samples": len(self.samples)}


class Evaluator:
    """Judge keep-sets on the search or held-out samples (see the module docstring)."""

    def __init__(self, model, plan: HalfPlan, goal: Goal, splits: dict[str, list[dict]], ref_spec, run_spec,
                 real_spec=None, search_spec=None):
        self.model, self.plan, self.goal, self.splits = model, plan, goal, splits
        self.ref_spec, self.run_spec, self.real_spec = ref_spec, run_spec, real_spec
        self.search_spec = search_spec or run_spec
        self.outputs = [o.name for o in model.graph.output]
        self.search_goal = goal.tightened()
        self.order = list(range(len(splits.get("search", []))))  # search samples, the last to miss first
        self.reference: dict[str, list[dict]] = {}
        self.memo: dict[tuple, Evaluation] = {}
        self.log: list[Evaluation] = []
        self.counts = {"evaluations": 0, "cache_hits": 0, "sessions": 0, "reference_runs": 0}

    def reference_outputs(self, split: str) -> list[dict]:
        if split not in self.reference:
            with backends.create(self.ref_spec) as ref:
                ref.load(self.model, None)
                self.counts["sessions"] += 1
                self.reference[split] = [ref.run(f) for f in self.splits[split]]
                self.counts["reference_runs"] += len(self.splits[split])
        return self.reference[split]

    def mixed_model(self, keep, split: str = "holdout"):
        """The model that an evaluation runs: the storage simulation, or (real_spec) the converted model."""
        if self.real_spec is not None:
            from trtlab.passes.to_half import convert_to_half

            return convert_to_half(self.model, self.plan.precision, keep), self.real_spec
        return simulate(self.model, self.plan, keep), self.search_spec if split == "search" else self.run_spec

    def hardest_first(self, first: Evaluation) -> None:
        """Search steps judge the samples in the order of ``first``'s SNR (all of them judged), the worst first."""
        if sorted(first.per_sample) == sorted(self.order):
            self.order.sort(key=lambda i: _snr_key(first.per_sample[i]))

    def known(self, keep, split: str = "search") -> bool:
        """Whether judging ``keep`` would come from the cache."""
        return (frozenset(keep), split) in self.memo

    def evaluate(self, keep, split: str = "search", step: str = "", stop: bool = True) -> Evaluation:
        """Judge ``keep`` on ``split``: search steps hardest sample first (``stop``: the first miss decides),
        held-out verdicts on every held-out sample."""
        key = (frozenset(keep), split)
        if key in self.memo:
            self.counts["cache_hits"] += 1
            return self.memo[key]
        model, spec = self.mixed_model(frozenset(keep), split)
        if split == "search":
            indices = list(self.order)
        else:
            indices, stop = list(range(len(self.splits[split]))), False
        ev = self.judge_model(model, spec, split, step, sorted(keep), indices, stop)
        self.memo[key] = ev
        return ev

    def judge_model(self, model, spec, split: str, step: str, keep: list[str] | None = None,
                    indices: list[int] | None = None, stop_on_miss: bool = False) -> Evaluation:
        """Run ``model`` on ``spec`` over the samples of ``split`` (``indices``: these, in this order) and judge its
        outputs against the reference; ``stop_on_miss``: a miss on one sample decides (search steps)."""
        start = time.perf_counter()
        refs = self.reference_outputs(split)
        goal = self.search_goal if split == "search" else self.goal
        indices = list(range(len(self.splits[split]))) if indices is None else indices
        passed, per_output, per_sample, judged = True, {}, {}, []
        with backends.create(spec) as b:
            b.load(model, None)
            self.counts["sessions"] += 1
            for i in indices:
                out = b.run(self.splits[split][i])
                judged.append(i)
                sample_ok = True
                for name in self.outputs:
                    ok, metrics = goal.judge(name, refs[i][name], out[name])
                    sample_ok = sample_ok and ok
                    per_output[name] = _worse(per_output.get(name), metrics)
                    per_sample[i] = _min_snr(per_sample.get(i, math.inf), metrics)
                passed = passed and sample_ok
                if not sample_ok and split == "search" and i in self.order:
                    self.order.remove(i)  # the sample that missed goes first next time: misses end sooner
                    self.order.insert(0, i)
                if not passed and stop_on_miss:
                    break
        self.counts["evaluations"] += 1
        worst: dict = {}
        for metrics in per_output.values():
            worst = _worse(worst or None, metrics)
        ev = Evaluation(keep or [], split, passed, worst, per_output, time.perf_counter() - start, step, judged,
                        per_sample)
        self.log.append(ev)
        return ev


def _min_snr(current, metrics: dict):
    """The worse of an SNR so far and this output's (None: non-finite values, worse than any SNR)."""
    if current is None or metrics.get("nonfinite"):
        return None
    snr = metrics.get("snr_db")
    return min(current, snr if snr is not None else math.inf)


def _snr_key(snr) -> float:
    return -math.inf if snr is None else snr


def _worse(a: dict | None, b: dict) -> dict:
    if a is None:
        return dict(b)
    out = {}
    for k in ("max_abs", "mismatch_fraction", "nonfinite"):
        vals = [v for v in (a.get(k), b.get(k)) if v is not None]
        out[k] = max(vals) if vals else None
    for k in ("cosine", "snr_db"):
        vals = [v for v in (a.get(k), b.get(k)) if v is not None]
        out[k] = min(vals) if vals else None
    return out
