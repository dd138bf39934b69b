"""The verdict of a compare run: the rules of ``comparators.verdict`` on the outputs, the first tensor with new
NaN/Inf, tensors the target fused away, and the findings the terminal, ``--json`` and the report all show."""

from __future__ import annotations

from dataclasses import asdict

from trtlab.comparators import verdict as rules
from trtlab.comparators.findings import compare_findings


def nonfinite_origins(model, layers) -> list[str]:
    """Tensors with new NaN/Inf whose node reads no tensor with new NaN/Inf: the nodes that introduce them
    (finite inputs in, Inf out); the others inherit."""
    bad = {m.name for m in layers if m.nonfinite_diff and
           m.nan["target"] + m.inf["target"] > m.nan["ref"] + m.inf["ref"]}
    if not bad or model is None:
        return sorted(bad, key=[m.name for m in layers].index)
    reads = {o: [i for i in n.input if i] for n in model.graph.node for o in n.output}
    return [m.name for m in layers if m.name in bad and not any(i in bad for i in reads.get(m.name, []))]


def apply_verdict(result, stats: dict[str, list[dict]], min_cosine: float, fused: dict[str, str],
                  model=None) -> None:
    """Update ``result`` in place: outputs judged by every rule, ``verdict``, ``first_nonfinite``, ``findings``."""
    merged = {name: rules.merge_stats(per_sample) for name, per_sample in stats.items()}
    verdict = rules.judge(result.outputs, merged, min_cosine)
    result.verdict = verdict
    result.passed = result.passed and verdict["passed"]
    compared = result.layers or result.outputs
    origins = nonfinite_origins(model, compared)
    verdict["nonfinite_origins"] = origins
    first = next((m for m in compared if origins and m.name == origins[0]), None)
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
