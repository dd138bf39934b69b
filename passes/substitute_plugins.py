"""substitute-plugins: replace subgraphs matched by rules with plugin or standard ops, keeping tensor names.

``spec`` is a rules file (.yaml/.yml or .py) or ``builtin[:rule,...]`` (see docs/plugins.md). A spec that
matches nothing is an error. Near misses are reported in ``skipped`` with the reason the candidate was rejected.
"""

from __future__ import annotations

import onnx
from trtlab.comparators.tolerances import PRECISION_TOLERANCES
from trtlab.passes.base import Pass, PassResult

from trtlab.errors import TrtlabError


def run(model: onnx.ModelProto, spec="builtin") -> PassResult:
    from trtlab.plugins.rewrite import substitute
    from trtlab.plugins.spec import load_rules

    rules = load_rules(str(spec))
    sub = substitute(model, rules)
    if not sub.accepted:
        raise TrtlabError(f"substitute-plugins {spec}",
                          f"no rule matched ({len(sub.candidates)} candidate(s) rejected)",
                          "run `trtlab surgeon MODEL --substitute-plugins SPEC --dry-run` to see why")
    notes = [f"{a['rule']}: {a['replaced']} node(s) at '{a['anchor']}' -> {a['new_op']}" for a in sub.applied]
    skipped = [f"{c.rule} at '{c.node}' ({c.matched}/{c.total}): {c.reason}" for c in sub.candidates
               if c.reason and c.matched >= 3]
    return PassResult(sub.model, notes + sub.notes, skipped, modified=True,
                      verify_tolerance=PRECISION_TOLERANCES["fp32"])


SUBSTITUTE_PLUGINS = Pass(
    name="substitute-plugins", description="replace matched patterns by plugin/standard ops (LayerNorm, GELU, NMS)",
    run=run, options={"spec": "rules .yaml/.py file, or builtin[:rule,...] (default builtin)"}, ort_gaps=True)
