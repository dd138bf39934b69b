"""Compare at several input shapes: one row per shape with the verdict, the worst output and the latencies.

The shapes come from ``trtlab.shapes`` (``--sweep-shapes``: min, max and points between). Each shape runs the
ordinary output comparison (``run_compare``) on its own seeded samples, so a row is what ``trtlab compare
--input-shapes SHAPE`` would report.
"""

from __future__ import annotations

from collections.abc import Callable

from trtlab.comparison.run import run_compare
from trtlab.shapes import shape_label


def sweep_compare(model, ref_spec, target_spec, sets: list[dict], samples_for: Callable[[dict], list[dict]],
                  tolerances, warmup: int = 1, progress=None) -> tuple[list[dict], dict, list[str]]:
    """(rows, the backends' info, warnings). ``samples_for(shapes)`` gives the input samples at one shape;
    ``progress()`` is called after each shape."""
    rows, info, warnings = [], {}, []
    for shapes in sets:
        result, _ = run_compare(model, ref_spec, target_spec, samples_for(shapes), tolerances, False, None,
                                quiet=True, warmup=warmup)
        floats = [m for m in result.outputs if m.max_abs is not None]
        worst = max(floats, key=lambda m: m.max_abs) if floats else (result.outputs[0] if result.outputs else None)
        rows.append({"shapes": shapes, "label": shape_label(shapes), "passed": result.passed,
                     "worst_output": worst.name if worst else None,
                     "max_abs": worst.max_abs if worst else None, "cosine": worst.cosine if worst else None,
                     "ref_median_ms": result.timing["ref"]["median_ms"],
                     "target_median_ms": result.timing["target"]["median_ms"]})
        info = {"ref": result.ref, "target": result.target}
        warnings += [f"{shape_label(shapes)}: {w}" for w in result.warnings]
        if progress:
            progress()
    return rows, info, warnings
