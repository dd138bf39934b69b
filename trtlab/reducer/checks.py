"""Failure modes of ``trtlab debug reduce``: does a candidate model still fail the way the original does?

Each mode is a small class with ``original(plan)`` (run once on the whole model; raises when there is nothing to
reduce) and ``__call__(candidate) -> Verdict``. Literal registry: ``MODES``.

- ``check``: TensorRT's ONNX parser refuses the model. The candidate reproduces when the parser refuses one of the
  nodes it refused in the original or, when the parser named no node, with the same error text (names and numbers
  normalised away; ``any_failure`` accepts any refusal), so a cut that breaks something else is not mistaken for
  the bug.
- ``crash``: TensorRT crashes (a native signal, contained in a child process) while parsing the model; ``check``
  accepts a crashing original too, and then only candidates that crash reproduce.
- ``build``: the model parses but the builder fails; a parser refusal of the candidate is a different failure.
- ``compare``: outputs of a reference and a target backend differ beyond atol/rtol on any of several samples.
  A candidate's inputs are the reference model's intermediate values on the original samples; the reproducer's
  are saved beside it (``MIN.inputs.npz``) so ``trtlab compare MIN.onnx --load-inputs MIN.inputs.npz`` fails too.
  ``--metric cosine:C`` judges outputs by cosine similarity instead (fails below C), ``--metric max_abs:X`` by
  max abs error (fails above X): the reducer then keeps what wrecks an output, not the first harmless rounding.
- ``nonfinite``: like ``compare``, but a candidate fails only when the target has NaN/Inf in a tensor (output or
  intermediate) where the reference is finite: the reducer keeps the overflow, not the first harmless rounding.
- ``command``: a shell command with ``{model}``; fails when it exits with ``fail_code`` (default: non-zero)
  and, if ``fail_regex`` is given, the regex matches its stdout or stderr.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from trtlab.errors import EXIT_USAGE, TrtlabError
from trtlab.model import LoadedModel
from trtlab.reducer.graph import Candidate, Plan

NOTHING = "nothing to reduce: the check passes on the original model"
CRASHED = "crash"  # in a parse's node set: TensorRT died on the model


@dataclass
class Verdict:
    reproduces: bool
    detail: str
    failing: list[str] = field(default_factory=list)


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ParseMode:
    name = "check"

    def __init__(self, trt, any_failure: bool = False):
        self.trt, self.any_failure = trt, any_failure
        self.signature: set[int] = set()
        self.keys: set[str] = set()

    def _parse(self, proto, origin: list[int]) -> tuple[bool, set[int], str, set[str]]:
        """Parse in a forked child (``contain.run``): a crash is a result here, whichever parse it hits."""
        from trtlab.trt.contain import TrtCrash, run

        try:
            return run("candidate", "parsing", lambda _bar: self._parse_here(proto, origin))
        except TrtCrash as exc:
            return False, {CRASHED}, _one_line(exc.problem), {"<crash>"}

    def _parse_here(self, proto, origin: list[int]) -> tuple[bool, set[int], str, set[str]]:
        from trtlab.trt.check import parse_network, parser_errors

        _b, _n, parser, logger, ok, _s = parse_network(self.trt, LoadedModel(proto=proto, path=None))
        errors = parser_errors(parser)
        nodes = {origin[e["node"]] for e in errors if 0 <= e["node"] < len(origin)}
        first = errors[0] if errors else {"node_name": "", "op": "", "message": "; ".join(logger.errors())}
        detail = "parses" if ok else _one_line(f"{first['node_name']} ({first['op']}): {first['message']}")
        keys = {error_key(e["message"]) for e in errors} | {error_key(m) for m in logger.errors()}
        return ok, nodes, detail, keys - {""}

    def original(self, plan: Plan) -> Verdict:
        ok, nodes, detail, keys = self._parse(plan.model, list(range(len(plan.model.graph.node))))
        if ok:
            raise TrtlabError("debug reduce --fails check", f"{NOTHING} ({self.trt.name} {self.trt.version} parses "
                              "it)", "nothing to do; for builder failures use --fails build, for accuracy "
                              "--fails compare", code=EXIT_USAGE)
        self.signature, self.keys = nodes, keys
        return Verdict(True, detail, _names(plan, nodes - {CRASHED}))

    def __call__(self, cand: Candidate) -> Verdict:
        ok, nodes, detail, keys = self._parse(cand.proto, cand.origin)
        if self.any_failure:
            same = True
        elif self.signature:
            same = bool(nodes & self.signature)
        else:  # the parser named no node: the same failure is the same error text (names and numbers aside)
            same = same_error(self.keys, keys) or not self.keys
        if not ok and not same:
            detail = "a different failure: " + detail
        return Verdict(not ok and same, detail, sorted(str(n) for n in nodes))


class CrashMode(ParseMode):
    name = "crash"

    def original(self, plan: Plan) -> Verdict:
        ok, nodes, detail, _keys = self._parse(plan.model, list(range(len(plan.model.graph.node))))
        if CRASHED not in nodes:
            raise TrtlabError("debug reduce --fails crash", f"{NOTHING} (TensorRT does not crash on it: {detail})",
                              "use --fails check for parser refusals", code=EXIT_USAGE)
        self.signature = nodes
        return Verdict(True, detail)

    def __call__(self, cand: Candidate) -> Verdict:
        _ok, nodes, detail, _keys = self._parse(cand.proto, cand.origin)
        return Verdict(CRASHED in nodes, detail if CRASHED in nodes else f"no crash: {detail}")


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NODE_PREFIX = re.compile(r"in node -?\d+ with name: .*? and operator: \S+ ?\(?|^\[[^\]]*\]\s*", re.I)
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", re.I)


def error_key(text: str) -> str:
    """A parser error with what a cut changes taken out (tensor and node names, numbers, source locations), so the
    original failure and the same failure on a reduced model compare equal, and a different one does not."""
    text = _NODE_PREFIX.sub(" ", str(text))
    text = _QUOTED.sub("<name>", text)
    text = re.sub(r"\b[\w./-]+\.(cpp|cu|h|hpp):\d+", "<src>", text)
    text = _NUMBER.sub("#", text)
    text = re.sub(r"(network input|input|tensor|node|layer|output)\s+\S*[/_.:#\d]\S*", r"\1 <name>", text,
                  flags=re.I)
    return " ".join(text.lower().split())[:200]


def _core(key: str) -> str:
    """The message proper: the longest ':'-separated part, bracketed values dropped."""
    parts = [re.sub(r"\[[^\]]*\]|\([^)]*\)", "", p).strip(" .") for p in key.split(":")]
    return max(parts, key=len) if parts else ""


def same_error(original: set[str], candidate: set[str]) -> bool:
    """Whether a candidate's parser errors include the original one (``error_key`` texts; one message may be
    reported with or without the parser's prefix and details)."""
    for a in original:
        for b in candidate:
            if a == b or (len(_core(a)) >= 12 and _core(a) in b) or (len(_core(b)) >= 12 and _core(b) in a):
                return True
    return False


class BuildMode(ParseMode):
    name = "build"

    def _build(self, proto) -> tuple[str, str]:
        from trtlab.trt.build import BuildOptions, build_engine

        try:
            build_engine(self.trt, LoadedModel(proto=proto, path=None, label="candidate"), BuildOptions())
        except TrtlabError as exc:
            kind = "parse" if "parser refused" in exc.problem else ("build" if exc.code == 1 else "other")
            return kind, _one_line(exc.problem)
        return "ok", "builds"

    def original(self, plan: Plan) -> Verdict:
        kind, detail = self._build(plan.model)
        if kind == "ok":
            raise TrtlabError("debug reduce --fails build", f"{NOTHING} (the engine builds)", "nothing to do",
                              code=EXIT_USAGE)
        if kind != "build":
            raise TrtlabError("debug reduce --fails build", f"the original model fails before the builder runs: "
                              f"{detail}", "use --fails check for parser refusals", code=EXIT_USAGE)
        return Verdict(True, detail)

    def __call__(self, cand: Candidate) -> Verdict:
        kind, detail = self._build(cand.proto)
        same = kind == "build" or (self.any_failure and kind != "ok")
        return Verdict(same, detail if kind in ("ok", "build") else f"a different failure: {detail}")


METRICS = {"cosine": "fails when an output's cosine similarity is below the threshold",
           "max_abs": "fails when an output's max abs error is above the threshold"}


def parse_metric(text: str | None) -> tuple[str, float] | None:
    """``cosine:0.99`` -> ("cosine", 0.99); None for None."""
    if text is None:
        return None
    name, _, value = text.partition(":")
    try:
        threshold = float(value)
    except ValueError:
        threshold = None
    if name not in METRICS or threshold is None:
        raise TrtlabError(f"--metric {text}", "not METRIC:THRESHOLD with a known metric",
                          f"e.g. --metric cosine:0.99 or --metric max_abs:0.1 (metrics: {', '.join(METRICS)})")
    return name, threshold


def _new_nonfinite(m) -> int:
    return (m.nan["target"] + m.inf["target"]) - (m.nan["ref"] + m.inf["ref"])


class CompareMode:
    name = "compare"

    def __init__(self, ref: str, target: str, atol: float, rtol: float, samples: list[dict],
                 metric: tuple[str, float] | None = None):
        from trtlab.backends import parse_spec

        self.ref, self.target = parse_spec(ref), parse_spec(target)
        self.atol, self.rtol, self.samples = atol, rtol, samples
        self.metric = metric
        self.values: list[dict] = []

    def tensors(self, proto) -> list[str] | None:
        """Tensors compared besides the outputs (none: compare judges outputs)."""
        return None

    def fails(self, m) -> bool:
        """Whether one output's metrics count as failing in this mode."""
        if self.metric is None:
            return not m.passed
        name, threshold = self.metric
        if _new_nonfinite(m) > 0:
            return True
        if name == "cosine":
            return m.cosine is not None and m.cosine < threshold
        return (m.max_abs or 0.0) > threshold

    def criterion(self) -> str:
        if self.metric is None:
            return f"atol {self.atol:g}, rtol {self.rtol:g}"
        name, threshold = self.metric
        return f"{name} {'>=' if name == 'cosine' else '<='} {threshold:g}"

    def _compare(self, proto, feeds_list) -> Verdict:
        from trtlab.backends import create
        from trtlab.comparators import compare_arrays

        worst = None
        layers = self.tensors(proto)
        with create(self.ref) as ref, create(self.target) as tgt:
            ref.load(proto, layers)
            tgt.load(proto, layers)
            for s, feeds in enumerate(feeds_list):
                r, t = ref.run(feeds), tgt.run(feeds)
                for name in r:
                    if name not in t:
                        continue
                    m = compare_arrays(name, r[name], t[name], self.atol, self.rtol)
                    if self.fails(m) and (worst is None or (m.max_abs or 0) > (worst[1].max_abs or 0)):
                        worst = (s, m)
        if worst is None:
            return Verdict(False, f"outputs pass ({self.criterion()}) on {len(feeds_list)} sample(s)")
        s, m = worst
        return Verdict(True, self.describe(s, m), [m.name])

    def describe(self, s: int, m) -> str:
        if self.metric is not None:
            return _one_line(f"'{m.name}' fails {self.criterion()} on sample {s}: cosine "
                             f"{m.cosine if m.cosine is None else round(m.cosine, 6)}, max abs {m.max_abs:.3g}, "
                             f"{_new_nonfinite(m)} new NaN/Inf")
        return _one_line(f"'{m.name}' mismatches on sample {s}: max abs {m.max_abs:.3g}, "
                         f"{m.mismatches} of {m.size} elements ({m.reason or 'over tolerance'})")

    def original(self, plan: Plan) -> Verdict:
        from trtlab.reducer.graph import observe

        names = [o for i in plan.order for o in plan.model.graph.node[i].output if o]
        self.values = observe(plan.model, self.samples, names, str(self.ref))
        for vals, feeds in zip(self.values, self.samples):
            vals.update(feeds)
        plan.add_observed(self.values[0])
        verdict = self._compare(plan.model, self.samples)
        if not verdict.reproduces:
            hint = ("use --fails compare for errors without NaN/Inf, or add --samples" if self.name == "nonfinite"
                    else "lower --atol/--rtol (or raise --metric's threshold), or add --samples")
            raise TrtlabError(f"debug reduce --fails {self.name} --ref {self.ref} --target {self.target}",
                              f"{NOTHING} ({verdict.detail})", hint, code=EXIT_USAGE)
        return verdict

    def feeds(self, cand: Candidate) -> list[dict] | None:
        """The candidate's inputs on every sample (reference intermediates), or None when one is unknown."""
        if any(n not in self.values[0] for n in cand.inputs):
            return None
        return [{n: vals[n] for n in cand.inputs} for vals in self.values]

    def __call__(self, cand: Candidate) -> Verdict:
        feeds = self.feeds(cand)
        if feeds is None:
            missing = [n for n in cand.inputs if n not in self.values[0]]
            return Verdict(False, f"no reference value for input(s) {', '.join(missing[:3])}")
        return self._compare(cand.proto, feeds)

    def reproduce(self, model_path, inputs_path) -> str:
        """The command that shows the reproducer failing on its own, with the boundary feeds it failed on."""
        args = ["trtlab", "compare", str(model_path), "--ref", str(self.ref), "--target", str(self.target),
                "--load-inputs", str(inputs_path), "--atol", f"{self.atol:g}", "--rtol", f"{self.rtol:g}"]
        if self.metric and self.metric[0] == "cosine":
            args += ["--min-cosine", f"{self.metric[1]:g}"]
        return " ".join(shlex.quote(a) for a in args)


class NonfiniteMode(CompareMode):
    """A candidate fails when the target has NaN/Inf in any tensor (outputs and intermediates) where the
    reference is finite: an overflow fails it even when a later Reciprocal or Softmax hides it from the outputs."""

    name = "nonfinite"

    def tensors(self, proto) -> list[str]:
        return [o for n in proto.graph.node if n.op_type != "Constant" for o in n.output if o]

    def fails(self, m) -> bool:
        return _new_nonfinite(m) > 0

    def criterion(self) -> str:
        return "no NaN/Inf the reference lacks"

    def describe(self, s: int, m) -> str:
        return _one_line(f"'{m.name}' has {_new_nonfinite(m)} NaN/Inf the reference lacks on sample {s} "
                         f"(target NaN {m.nan['target']}, Inf {m.inf['target']})")


class CommandMode:
    name = "command"

    def __init__(self, command: str, fail_code: int | None, fail_regex: str | None, workdir, timeout=None):
        if "{model}" not in command:
            raise TrtlabError(f"--check {command!r}", "the command does not mention {model}",
                              "write where the candidate model goes, e.g. --check \"trtexec --onnx={model}\"")
        try:
            self.regex = re.compile(fail_regex) if fail_regex else None
        except re.error as exc:
            raise TrtlabError(f"--fail-regex {fail_regex!r}", f"not a regular expression ({exc})",
                              "escape special characters, e.g. 'Plugin not found'") from None
        self.command, self.fail_code, self.timeout = command, fail_code, timeout
        self.workdir = str(workdir)

    def _run(self, proto) -> Verdict:
        from trtlab.model import save_model

        fd, path = tempfile.mkstemp(prefix="candidate-", suffix=".onnx", dir=self.workdir)
        os.close(fd)
        try:
            save_model(proto, path)
            cmd = self.command.replace("{model}", shlex.quote(path))
            try:
                proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=self.timeout,
                                      check=False, errors="replace")
            except subprocess.TimeoutExpired:
                return Verdict(False, f"timed out after {self.timeout} s (counted as passing)")
        finally:
            os.unlink(path)
            _remove_candidate_runs(path)
        return self._verdict(proc.returncode, proc.stdout, proc.stderr)

    def _verdict(self, rc: int, stdout: str, stderr: str) -> Verdict:
        code_ok = rc == self.fail_code if self.fail_code is not None else (rc != 0 or self.regex is not None)
        match = self.regex.search(stdout) or self.regex.search(stderr) if self.regex else None
        fails = code_ok and (self.regex is None or match is not None)
        last = (stderr.strip() or stdout.strip()).splitlines()[-1:] or [""]
        detail = f"exit {rc}" + (f", matched {match.group(0)!r}" if match else "") + (f": {last[0]}" if rc else "")
        return Verdict(fails, _one_line(detail))

    def original(self, plan: Plan) -> Verdict:
        start = time.perf_counter()
        verdict = self._run(plan.model)
        if verdict.detail.startswith(("exit 126", "exit 127")):
            raise TrtlabError(f"--check {self.command!r}", f"the check command cannot run ({verdict.detail})",
                              "test it by hand on the model first; quote it as one argument")
        if not verdict.reproduces:
            want = f"exit code {self.fail_code}" if self.fail_code is not None else "a non-zero exit code"
            raise TrtlabError(f"--check {self.command!r}", f"{NOTHING} ({verdict.detail}; a failure is {want}"
                              + (f" with output matching {self.regex.pattern!r}" if self.regex else "") + ")",
                              "check the command by hand; adjust --fail-code/--fail-regex", code=EXIT_USAGE)
        self.first_s = time.perf_counter() - start
        return verdict

    def __call__(self, cand: Candidate) -> Verdict:
        return self._run(cand.proto)


def _remove_candidate_runs(candidate: str) -> None:
    """A check command that is itself trtlab (``trtlab check {model}``) leaves a run folder per candidate under
    ./trtlab-runs, named after the candidate's temporary file: remove those (only those)."""
    import shutil

    from trtlab.rundir import DEFAULT_ROOT

    stem = os.path.splitext(os.path.basename(candidate))[0]
    if not DEFAULT_ROOT.is_dir():
        return
    for run in DEFAULT_ROOT.iterdir():
        if run.is_dir() and (run.name.endswith(f"-{stem}") or f"-{stem}-" in run.name):
            shutil.rmtree(run, ignore_errors=True)


def _names(plan: Plan, nodes) -> list[str]:
    graph = plan.model.graph
    return [graph.node[i].name or f"{graph.node[i].op_type}_{i}" for i in sorted(nodes)]


MODES = {"check": ParseMode, "crash": CrashMode, "build": BuildMode, "compare": CompareMode,
         "nonfinite": NonfiniteMode, "command": CommandMode}


FAILS = ("check", "crash", "build", "compare", "nonfinite")


def make_mode(*, fails: str | None = None, check: str | None = None, fail_code: int | None = None,
              fail_regex: str | None = None, check_timeout: float | None = None, any_failure: bool = False,
              ref: str = "onnxrt", target: str | None = None, atol: float | None = None, rtol: float | None = None,
              metric: str | None = None, trt_module: str | None = None, samples: list[dict] = (),
              workdir=None) -> tuple[object, dict]:
    """The failure mode asked for (``--fails`` or ``--check``) and its description for results.json."""
    if check and fails:
        raise TrtlabError("debug reduce", "--check and --fails both given", "choose one way to decide failing")
    if not check and not fails:
        raise TrtlabError("debug reduce", "no failure mode given",
                          "add --fails check|build|compare, or --check \"CMD {model}\"")
    if fails and fails not in FAILS:
        raise TrtlabError(f"--fails {fails}", "unknown failure mode", f"choose from: {', '.join(FAILS)}")
    if (fail_code is not None or fail_regex) and not check:
        raise TrtlabError("debug reduce", "--fail-code/--fail-regex only apply to --check", "add --check \"CMD\"")
    if check:
        return CommandMode(check, fail_code, fail_regex, workdir, check_timeout), \
            {"mode": "command", "check": check, "fail_code": fail_code, "fail_regex": fail_regex}
    if metric and fails != "compare":
        raise TrtlabError("debug reduce", "--metric applies to --fails compare", "add --fails compare")
    if fails in ("compare", "nonfinite"):
        if not target:
            raise TrtlabError(f"debug reduce --fails {fails}", "no --target backend", "e.g. --target onnxrt:fp16")
        from trtlab.backends import parse_spec
        from trtlab.comparators.tolerances import for_target, precision_of

        spec = parse_spec(target)
        tol = for_target(spec, atol, rtol)
        source = {k: "given" if v is not None else f"default for {precision_of(spec).upper()}"
                  for k, v in (("atol", atol), ("rtol", rtol))}
        parsed = parse_metric(metric)
        cls = NonfiniteMode if fails == "nonfinite" else CompareMode
        return cls(ref, target, tol.atol, tol.rtol, samples, parsed), \
            {"mode": fails, "ref": ref, "target": target, "atol": tol.atol, "rtol": tol.rtol,
             "tolerances": source, "samples": len(samples), **({"metric": metric} if parsed else {})}
    from trtlab.trt import module

    trt = module.load(trt_module)
    return MODES[fails](trt, any_failure), {"mode": fails, "module": trt.summary(), "any_failure": any_failure}
