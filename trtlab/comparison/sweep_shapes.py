"""Compare at several input shapes: one row per shape with the verdict, the worst output and the latencies.

The shapes come from ``trtlab.shapes`` (``--sweep-shapes``: min, max and points between). Each shape runs the
ordinary output comparison (``run_compare``, with the same ``--min-cosine`` and ``--task``) on its own seeded
samples, so a row is what ``trtlab compare --input-shapes SHAPE`` would report. The worst output is a failing one
first (NaN/Inf the reference lacks counts as an infinite error); ``rule`` names the rule it failed (``task`` when
only the task metric failed).
"""

from __future__ import annotations

from collections.abc import Callable

from trtlab.comparators.metrics import error_of
from trtlab.comparison.run import run_compare
from trtlab.comparison.task import overall_passed
from trtlab.shapes import shape_label


def _worst(outputs):
    if not outputs:
        return None
    return max(outputs, key=lambda m: (not m.passed, error_of(m) if error_of(m) is not None else -1.0))


def _row(shapes: dict, result) -> dict:
    worst = _worst(result.outputs)
    passed = overall_passed(result)
    task = result.task if result.task and "overall_passed" in result.task else None
    rule = None
    if not passed:
        failing = [r for m in result.outputs if not m.passed for r in (m.rules or ["tolerance"])]
        if worst is not None and worst.rules:
            rule = worst.rules[0]
        elif task is not None and not task["passed"]:
            rule = "task"
        elif failing:
            rule = failing[0]
    return {"shapes": shapes, "label": shape_label(shapes), "passed": passed, "rule": rule,
            "worst_output": worst.name if worst else None,
            "max_abs": worst.max_abs if worst else None, "cosine": worst.cosine if worst else None,
            "nonfinite": worst.nonfinite_diff if worst else 0,
            "task": None if task is None else {"passed": task["passed"], "reason": task.get("reason")},
            "ref_median_ms": result.timing["ref"]["median_ms"],
            "target_median_ms": result.timing["target"]["median_ms"]}


def sweep_compare(model, ref_spec, target_spec, sets: list[dict], samples_for: Callable[[dict], list[dict]],
                  tolerances, warmup: int = 1, progress=None, min_cosine: float | None = None,
                  task=None) -> tuple[list[dict], dict, list[str]]:
    """(rows, the backends' info, warnings). ``samples_for(shapes)`` gives the input samples at one shape;
    ``progress()`` is called after each shape."""
    rows, info, warnings = [], {}, []
    for shapes in sets:
        result, _ = run_compare(model, ref_spec, target_spec, samples_for(shapes), tolerances, False, None,
                                quiet=True, warmup=warmup, min_cosine=min_cosine, task=task)
        rows.append(_row(shapes, result))
        info = {"ref": result.ref, "target": result.target}
        warnings += [f"{shape_label(shapes)}: {w}" for w in result.warnings]
        if progress:
            progress()
    return rows, info, warnings
