"""Load rules: ``builtin`` (or ``builtin:layernorm,gelu-erf``), a YAML file, or a Python file defining ``RULES``.

YAML (see docs/plugins.md)::

    rules:
      - name: my-swish
        pattern:
          inputs: [x]
          nodes:
            - {id: sig, op: Sigmoid, inputs: [x]}
            - {id: mul, op: Mul, inputs: [x, sig]}
          outputs: [mul]
        replacement: {op: Swish_TRT, domain: trt.plugins, version: "1", namespace: "", inputs: [x]}

A Python spec is imported as a module; ``RULES`` is a list of ``trtlab.plugins.rules.Rule`` objects or of dicts
shaped like the YAML rules (dicts may carry ``check``, ``attributes``, ``build`` and ``reference`` callables).
"""

from __future__ import annotations

from pathlib import Path

from trtlab.errors import TrtlabError
from trtlab.plugins.rules import ConstRef, Pattern, PatternNode, Replacement, Rule

RULE_KEYS = {"name", "description", "pattern", "patterns", "replacement", "check", "attributes", "build", "reference"}
NODE_KEYS = {"id", "op", "domain", "inputs", "attrs"}
CONST_KEYS = {"const", "value", "tol", "rank", "scalar"}
REPLACEMENT_KEYS = {"op", "domain", "inputs", "attributes", "min_opset", "version", "namespace", "extra_outputs"}


def load_rules(text: str) -> list[Rule]:
    """Rules from a spec argument; any problem is one clear TrtlabError (exit 2)."""
    from trtlab.plugins.shipped import SHIPPED

    if text == "builtin" or text.startswith("builtin:"):
        names = [n.strip() for n in text.partition(":")[2].split(",") if n.strip()] or list(SHIPPED)
        unknown = [n for n in names if n not in SHIPPED]
        if unknown:
            raise TrtlabError(f"--substitute-plugins {text}", f"no shipped rule named {', '.join(unknown)}",
                              f"shipped rules: {', '.join(SHIPPED)}")
        rules = [SHIPPED[n] for n in names]
        for r in rules:
            r.where = f"builtin rule {r.name}"
        return rules
    path = Path(text)
    if not path.is_file():
        raise TrtlabError(f"--substitute-plugins {text}", "spec file not found",
                          "pass a .yaml or .py rule file, or 'builtin' for the shipped rules")
    if path.suffix == ".py":
        raw = _python_rules(path)
    elif path.suffix in (".yaml", ".yml", ".json"):
        raw = _yaml_rules(path)
    else:
        raise TrtlabError(path, f"unknown spec type '{path.suffix}'", "use a .yaml/.yml or .py file")
    rules = [r if isinstance(r, Rule) else rule_from_dict(r, f"{path} rule {i}") for i, r in enumerate(raw)]
    for i, r in enumerate(rules):
        r.source, r.where = str(path), f"{path} rule {i} ({r.name})"
        _check_attributes(r)
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TrtlabError(path, f"rule name(s) used twice: {', '.join(dupes)}", "give each rule its own name")
    if not rules:
        raise TrtlabError(path, "the spec has no rules", "add at least one rule under 'rules:'")
    return rules


def _yaml_rules(path: Path) -> list:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise TrtlabError(path, f"not valid YAML{at} ({getattr(exc, 'problem', None) or type(exc).__name__})",
                          "check the indentation and quoting (docs/plugins.md has an example)") from None
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        return data["rules"]
    if isinstance(data, list):
        return data
    raise TrtlabError(path, "the spec has no 'rules:' list", "write `rules:` followed by a list of rules")


def _python_rules(path: Path) -> list:
    from trtlab.userfile import import_user_file

    module = import_user_file(path, str(path), "trtlab_user_rules")
    rules = getattr(module, "RULES", None)
    if not isinstance(rules, (list, tuple)):
        raise TrtlabError(path, "the file defines no RULES list", "define RULES = [Rule(...), ...] or a list of dicts")
    return list(rules)


def _need(cond: bool, where: str, problem: str, hint: str) -> None:
    if not cond:
        raise TrtlabError(where, problem, hint)


def rule_from_dict(d, where: str) -> Rule:
    _need(isinstance(d, dict), where, "a rule must be a mapping", "each rule has name, pattern and replacement")
    extra = set(d) - RULE_KEYS
    _need(not extra, where, f"unknown key(s) {', '.join(sorted(extra))}", f"rule keys: {', '.join(sorted(RULE_KEYS))}")
    name = d.get("name")
    _need(isinstance(name, str) and name, where, "the rule has no name", "add name: my-rule")
    where = f"{where} ({name})"
    pats = d.get("patterns") or ([d["pattern"]] if "pattern" in d else None)
    _need(isinstance(pats, list) and pats, where, "the rule has no pattern", "add pattern: {inputs, nodes, outputs}")
    patterns = [_pattern(p, f"{where} pattern {i}") for i, p in enumerate(pats)]
    rep = d.get("replacement")
    _need(isinstance(rep, dict) and isinstance(rep.get("op"), str), where, "the replacement has no op",
          "add replacement: {op: LayerNormalization, inputs: [x, gamma, beta]}")
    extra = set(rep) - REPLACEMENT_KEYS
    _need(not extra, where, f"unknown replacement key(s) {', '.join(sorted(extra))}",
          f"replacement keys: {', '.join(sorted(REPLACEMENT_KEYS))}")
    replacement = Replacement(op=rep["op"], domain=str(rep.get("domain", "")), inputs=list(rep.get("inputs", [])),
                              attributes=dict(rep.get("attributes") or {}), min_opset=rep.get("min_opset"),
                              version=str(rep.get("version", "1")), namespace=str(rep.get("namespace", "")),
                              extra_outputs=list(rep.get("extra_outputs", [])))
    names = {n for p in patterns for n in p.inputs} | {c.name for p in patterns for n in p.nodes
                                                        for c in n.inputs if isinstance(c, ConstRef) and c.name}
    missing = [i for i in replacement.inputs if i and i not in names]
    _need(not missing or "build" in d, where, f"replacement input(s) {', '.join(missing)} are not pattern variables "
          "or named constants", "list variables under pattern.inputs or name constants with {const: NAME}")
    for key in ("check", "attributes", "build", "reference"):
        _need(d.get(key) is None or callable(d.get(key)), where, f"'{key}' must be a Python callable",
              f"'{key}' is only available in Python rule files")
    return Rule(name=name, patterns=patterns, replacement=replacement, description=str(d.get("description", "")),
                check=d.get("check"), attributes=d.get("attributes"), build=d.get("build"),
                reference=d.get("reference"))


def _check_attributes(rule: Rule) -> None:
    """``{value_of: C}`` must name a constant and ``{attr_of: [ID, ATTR]}`` a node of every pattern of the rule
    (checked here, not when a match is rewritten). Skipped when Python ``attributes`` or ``build`` replace them."""
    if rule.attributes is not None or rule.build is not None:
        return
    for key, spec in rule.replacement.attributes.items():
        if not isinstance(spec, dict):
            continue
        _need(set(spec) in ({"value_of"}, {"attr_of"}), rule.where, f"attribute '{key}' is a mapping without "
              "exactly one of value_of / attr_of", "write a literal, {value_of: CONST} or {attr_of: [NODE_ID, ATTR]}")
        for i, pat in enumerate(rule.patterns):
            at = f" of pattern {i}" if len(rule.patterns) > 1 else ""
            if "value_of" in spec:
                consts = sorted({c.name for n in pat.nodes for c in n.inputs if isinstance(c, ConstRef) and c.name})
                _need(spec["value_of"] in consts, rule.where, f"attribute '{key}': value_of '{spec['value_of']}' is "
                      f"not a constant named in the pattern{at}",
                      f"name it in the pattern with {{const: {spec['value_of']}}}" + (
                          f" (named constants: {', '.join(consts)})" if consts else ""))
            else:
                ref = spec["attr_of"]
                _need(isinstance(ref, (list, tuple)) and len(ref) == 2 and all(isinstance(x, str) for x in ref),
                      rule.where, f"attribute '{key}': attr_of must be [NODE_ID, ATTR]",
                      "e.g. {attr_of: [conv, group]}")
                _need(ref[0] in pat.ids, rule.where, f"attribute '{key}': attr_of names '{ref[0]}', which is not a "
                      f"node of the pattern{at}", f"pattern node ids: {', '.join(pat.ids)}")


def _pattern(p, where: str) -> Pattern:
    _need(isinstance(p, dict) and isinstance(p.get("nodes"), list) and p["nodes"], where,
          "a pattern needs a list of nodes", "pattern: {inputs: [x], nodes: [{id: a, op: Relu, inputs: [x]}], "
          "outputs: [a]}")
    nodes = [_node(n, f"{where} node {i}") for i, n in enumerate(p["nodes"])]
    ids = [n.id for n in nodes]
    _need(len(set(ids)) == len(ids), where, "two pattern nodes share an id", "give each node its own id")
    inputs = list(p.get("inputs", []))
    outputs = p.get("outputs") or [ids[-1]]
    for o in outputs:
        _need(str(o).split(":")[0] in ids, where, f"output '{o}' is not a pattern node id", f"ids: {', '.join(ids)}")
    for n in nodes:
        for ref in n.inputs:
            if isinstance(ref, str):
                _need(ref.split(":")[0] in ids or ref in inputs, where,
                      f"node '{n.id}' reads '{ref}', which is neither a pattern node nor a pattern input",
                      "add it to pattern.inputs, or fix the id")
    return Pattern(nodes, [str(o) for o in outputs], inputs)


def _node(n, where: str) -> PatternNode:
    _need(isinstance(n, dict) and isinstance(n.get("id"), str) and isinstance(n.get("op"), str), where,
          "a pattern node needs an id and an op", "{id: m, op: Mul, inputs: [x, y]}")
    extra = set(n) - NODE_KEYS
    _need(not extra, where, f"unknown key(s) {', '.join(sorted(extra))}", f"node keys: {', '.join(sorted(NODE_KEYS))}")
    refs = []
    for ref in n.get("inputs", []):
        if isinstance(ref, dict):
            bad = set(ref) - CONST_KEYS
            _need(not bad, where, f"unknown constant key(s) {', '.join(sorted(bad))}",
                  f"constant keys: {', '.join(sorted(CONST_KEYS))}")
            refs.append(ConstRef(name=ref.get("const") if isinstance(ref.get("const"), str) else None,
                                 value=ref.get("value"), tol=float(ref.get("tol", 1e-4)), rank=ref.get("rank"),
                                 scalar=bool(ref.get("scalar", False))))
        else:
            _need(isinstance(ref, str), where, f"input {ref!r} is not a name or a constant", "x, a, a:1 or {const: c}")
            refs.append(ref)
    return PatternNode(n["id"], n["op"], refs, str(n.get("domain", "")), dict(n.get("attrs") or {}))
