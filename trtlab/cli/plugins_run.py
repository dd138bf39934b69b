"""``trtlab surgeon MODEL --substitute-plugins SPEC [-o OUT.onnx] [--dry-run]``.

Lists every match and every near miss with its reason; unless ``--dry-run``, writes the rewritten model, asks the
TensorRT parser (when one is installed) whether each new node imports, explaining plugin lookup failures, and
compares the rewritten model (plugin nodes on their NumPy references, the rest on onnxrt) against the original,
tensor by tensor. A spec that matches nothing is an error (exit 2) and nothing is written.
"""

from __future__ import annotations

import time
from pathlib import Path

from trtlab.cli.common import command_argv
from trtlab.errors import EXIT_MISMATCH, EXIT_OK, TrtlabError

SCHEMA = "trtlab.substitute/1"
NEAR = 3  # pattern nodes matched before a candidate counts as a near miss ...


def is_near_miss(c) -> bool:
    """... and most of the pattern: 3 of a 12-node pattern is a coincidence (every Add-Mul-Add looks like it)."""
    if c.reason is None:
        return False
    return c.match is not None or (c.matched >= NEAR and 2 * c.matched > c.total)


def run_substitute(args) -> int:
    from trtlab.model import load_model, save_model
    from trtlab.plugins.rewrite import substitute
    from trtlab.plugins.spec import load_rules
    from trtlab.rundir import new_run_dir

    rules = load_rules(args.substitute_plugins)
    model_path = Path(args.model)
    loaded = load_model(model_path, check=False)
    start = time.perf_counter()
    sub = substitute(loaded.proto, rules, dry_run=args.dry_run)
    match_s = time.perf_counter() - start
    matches = [_cand(c) for c in sub.candidates if c.match is not None and c.reason is None]
    near = [_cand(c) for c in sub.candidates if is_near_miss(c)]
    per_rule = [{"rule": r.name, "source": r.source, "description": r.description,
                 "matches": sum(1 for m in matches if m["rule"] == r.name),
                 "near_misses": sum(1 for m in near if m["rule"] == r.name),
                 "candidates": sum(1 for c in sub.candidates if c.rule == r.name)} for r in rules]
    result = {"schema": SCHEMA, "command": "surgeon --substitute-plugins", "argv": command_argv(args),
              "model": str(model_path), "spec": args.substitute_plugins, "dry_run": bool(args.dry_run),
              "rules": per_rule, "matches": matches, "near_misses": near, "notes": list(sub.notes),
              "timing": {"match_s": round(match_s, 4)}, "passed": bool(matches)}
    if not matches:
        _print(args, result, None)
        raise TrtlabError(model_path, f"no rule of {args.substitute_plugins} matched "
                          f"({sum(len(r.patterns) for r in rules)} pattern(s), {len(sub.candidates)} candidate(s) "
                          f"rejected{', reasons above' if near else ''})",
                          "check the pattern against the graph (`trtlab inspect MODEL`), or run with --dry-run; "
                          "nothing was written")
    out = None
    if not args.dry_run:
        out = Path(args.output) if args.output else None
        if out is None:
            raise TrtlabError("--substitute-plugins", "no output given", "add -o OUT.onnx, or --dry-run to only list")
        if out.resolve() == model_path.resolve():
            raise TrtlabError(f"-o {out}", "would overwrite the input model", "choose another path")
        result["applied"] = sub.applied
        save_model(sub.model, out)
        result["output"] = str(out)
        result["parse"] = _parse(sub, out)
        result["verify"] = _verify(args, loaded, out)
        result["passed"] = result["verify"].get("passed", True) is not False
    run_dir = Path(args.run_dir) if args.run_dir else new_run_dir("substitute", model_path.stem)
    _write_run(run_dir, result)
    _print(args, result, run_dir)
    return EXIT_OK if result["passed"] else EXIT_MISMATCH


def _cand(c) -> dict:
    d = {"rule": c.rule, "node": c.node, "index": c.index, "matched": f"{c.matched}/{c.total}"}
    if c.reason:
        d["reason"] = c.reason
    elif c.match is not None:
        d["replaces"] = len(c.match.nodes)
        d["inputs"] = sorted(c.match.vars.values())
        d["outputs"] = list(c.match.outputs)
    return d


def _parse(sub, out: Path) -> dict:
    """The TensorRT parser's verdict on the rewritten model, per new node (plugin lookups explained)."""
    from trtlab.model import load_model
    from trtlab.trt.module import load

    try:
        trt = load(None)
    except TrtlabError as exc:
        return {"checked": False, "reason": exc.problem}
    from trtlab.partition.support import parser_support

    model = load_model(out, check=False).proto
    support, notes = parser_support(trt, model)
    new_names = {n for a in sub.applied for n in a["new_nodes"]}
    nodes = [{"node": s.name, "op": s.op, "domain": s.domain or "ai.onnx", "parsed": s.supported,
              "reason": s.reason} for s in support if s.name in new_names]
    others = [{"node": s.name, "op": s.op, "reason": s.reason} for s in support
              if not s.supported and s.name not in new_names]
    return {"checked": True, "module": trt.summary(), "parseable": all(s.supported for s in support) and not notes,
            "new_nodes": nodes, "other_unsupported": others, "notes": notes}


def _verify(args, loaded, out: Path) -> dict:
    """The original (onnxrt) against the rewritten model (onnxrt + NumPy plugin references), layer-wise."""
    if args.verify is False:
        return {"enabled": False, "reason": "--no-verify"}
    from trtlab import backends
    from trtlab.cli.common import make_samples
    from trtlab.comparators.tolerances import for_target
    from trtlab.comparison.run import run_compare

    tol = for_target(backends.parse_spec("onnxrt"), args.atol, args.rtol)  # FP32 defaults unless given
    spec = f"hybrid:{out}" + (f",spec={args.substitute_plugins}" if args.substitute_plugins.endswith(".py") else "")
    try:
        samples, _w = make_samples(args, loaded)
        res, _h = run_compare(loaded, backends.parse_spec("onnxrt"), backends.parse_spec(spec), samples, tol, True,
                              quiet=True)
    except TrtlabError as exc:
        return {"enabled": False, "reason": f"the comparison could not run here: {exc.problem}"}
    # graph outputs are also layers of a layer-wise comparison: one entry per tensor
    metrics = list({m.name: m for m in (res.layers or []) + res.outputs}.values())
    compared = {m.name for m in metrics}
    out_names = [o.name for o in loaded.proto.graph.output]
    passed = all(m.passed for m in metrics) if compared else None
    return {"enabled": True, "passed": passed, "atol": tol.atol, "rtol": tol.rtol, "tensors_compared": len(compared),
            "outputs_compared": [n for n in out_names if n in compared],
            "outputs_not_compared": [n for n in out_names if n not in compared],
            "max_abs_error": max((m.max_abs or 0.0 for m in metrics), default=None),
            "worst": [{"tensor": m.name, "max_abs": m.max_abs, "passed": m.passed}
                      for m in sorted(metrics, key=lambda m: -(m.max_abs or 0))[:5]],
            "notes": res.target.get("notes", [])}


def _write_run(run_dir: Path, result: dict) -> None:
    from trtlab.rundir import RESULTS, atomic_write_json, environment
    from trtlab.ui import warn

    run_dir.mkdir(parents=True, exist_ok=True)
    result["environment"] = environment()
    atomic_write_json(run_dir / RESULTS, result)
    try:
        from trtlab.reports import write_report

        write_report(run_dir)
    except Exception as exc:
        warn(f"report.html not written: {type(exc).__name__}: {exc}")


def _print(args, result: dict, run_dir: Path | None) -> None:
    from trtlab.ui import out, print_json

    if args.json:
        if run_dir is not None:
            print_json(result)
        return
    for r in result["rules"]:
        out.print(f"rule {r['rule']}: {r['matches']} match(es), {r['near_misses']} near miss(es), "
                  f"{r['candidates']} candidate(s)", markup=False)
    for m in result["matches"]:
        out.print(f"  match  {m['rule']} at '{m['node']}': {m['replaces']} node(s), inputs "
                  f"{', '.join(m['inputs'])} -> {', '.join(m['outputs'])}", markup=False)
    for m in result["near_misses"]:
        out.print(f"  near miss  {m['rule']} at '{m['node']}' ({m['matched']} pattern nodes): {m['reason']}",
                  markup=False)
    for note in result["notes"]:
        out.print(f"note: {note}", markup=False)
    parse = result.get("parse") or {}
    for n in parse.get("new_nodes", []):
        verdict = "imports" if n["parsed"] else f"REFUSED: {n['reason']}"
        out.print(f"  {parse['module']['name']} parser: {n['node']} ({n['op']}) {verdict}", markup=False)
    v = result.get("verify") or {}
    if v.get("enabled"):
        verdict = {True: "matches", False: "DOES NOT match", None: "shares no tensor with"}[v["passed"]]
        err = "-" if v["max_abs_error"] is None else f"{v['max_abs_error']:.3g}"
        out.print(f"rewritten model {verdict} the original over {v['tensors_compared']} tensors: max |error| "
                  f"{err} (atol {v['atol']:g}, rtol {v['rtol']:g})", markup=False)
        if v["outputs_not_compared"]:
            out.print(f"  outputs not compared (replaced): {', '.join(v['outputs_not_compared'])}", markup=False)
    elif v:
        out.print(f"not verified: {v.get('reason')}", markup=False)
    if result.get("output"):
        out.print(f"wrote {result['output']}", markup=False)
    if run_dir is not None:
        out.print(f"run: {run_dir}", markup=False)
