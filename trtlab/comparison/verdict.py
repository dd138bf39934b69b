"""The verdict of a compare run: the rules of ``comparators.verdict`` on the outputs, the first tensor with new
NaN/Inf, tensors the target fused away, and the findings the terminal, ``--json`` and the report all show."""

from __future__ import annotations

from dataclasses import asdict

from trtlab.comparators import verdict as rules
from trtlab.comparators.findings import compare_findings


def apply_verdict(result, stats: dict[str, list[dict]], min_cosine: float, fused: dict[str, str]) -> None:
    """Update ``result`` in place: outputs judged by every rule, ``verdict``, ``first_nonfinite``, ``findings``."""
    merged = {name: rules.merge_stats(per_sample) for name, per_sample in stats.items()}
    verdict = rules.judge(result.outputs, merged, min_cosine)
    result.verdict = verdict
    result.passed = result.passed and verdict["passed"]
    if verdict["weak_inputs"]:
        result.warnings.append(rules.weak_message(verdict["weak_inputs"]))
    first = rules.first_new_nonfinite(result.layers or result.outputs)
    if first is not None:
        result.first_nonfinite = {"tensor": first.name, "node": first.node, "op": first.op,
                                  "count": first.nan["target"] + first.inf["target"] - first.nan["ref"]
                                  - first.inf["ref"], "ref_max_abs": first.ref_max_abs}
    for u in result.unmatched:
        if u["tensor"] in fused:
            u["reason"] = f"fused: {fused[u['tensor']]}"
            u["fused"] = True
    result.findings = findings_of(result)


def settle_disagreement(result, model, ref_spec, target_spec, feeds: dict) -> None:
    """FP32 onnxrt vs reference with a first divergence: say which side is wrong on that node (settle.py)."""
    from trtlab.comparators.tolerances import precision_of
    from trtlab.comparison.settle import involves_reference, settle

    fd = result.first_divergence
    if not fd or not involves_reference(ref_spec, target_spec) or {precision_of(ref_spec),
                                                                    precision_of(target_spec)} != {"fp32"}:
        return
    found = settle(model, feeds, fd["tensor"])
    if found:
        result.settled.append(found)


def findings_of(result) -> list[dict]:
    from trtlab.rundir import jsonable

    return [asdict(f) for f in compare_findings(jsonable(result))]
