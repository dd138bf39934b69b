"""Semantic guard for surgeon passes: run the model before and after a pass on the same seeded inputs (onnxrt).

Tensors the rewritten model needs that the original did not expose (an extracted subgraph's new inputs, its
inner outputs) are taken from the original model by marking them as outputs, so every pass is checked the same way.
A model holding FP16/BF16 tensors (after to-fp16, say) runs widened (``trtlab.precision.widen``): onnxruntime's CPU
provider would run its half nodes in FP32 and drop the Casts between them, hiding every overflow of half storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from trtlab.errors import TrtlabError, UnavailableError

# verify by default up to this size (the weights are lent to onnxruntime, not serialized: a 418 MB BERT-base takes
# well under a second per verification; memory: the model, the copy a pass rewrites and the lent arrays) ...
SMALL_BYTES = 1 << 30
SMALL_NODES = 5000  # ... and this node count (a run takes well under a few seconds on a CPU)


def small_enough(model: onnx.ModelProto) -> tuple[bool, str]:
    from trtlab.model import approx_size, walk_nodes

    size = approx_size(model)
    nodes = sum(1 for _ in walk_nodes(model.graph))
    if size > SMALL_BYTES:
        return False, f"model is {size / 2**20:.0f} MB (> {SMALL_BYTES >> 20} MB): verification off, --verify forces it"
    if nodes > SMALL_NODES:
        return False, f"model has {nodes} nodes (> {SMALL_NODES}): verification off, --verify forces it"
    return True, ""


@dataclass
class Check:
    verified: bool | None  # None: could not be checked (reason in note)
    max_abs_error: float | None = None
    note: str | None = None
    failure: str | None = None  # what changed, in words (verified False)
    metrics: list = field(default_factory=list)


class Verifier:
    """Holds the seeded feeds; ``check(before, after, tolerance)`` compares one pass."""

    def __init__(self, feeds: dict[str, np.ndarray]):
        self.feeds = feeds
        self._cache: dict[str, np.ndarray] = {}  # every output of the current model (the last one checked)
        self._cache_lent = False  # ... computed with its large weights lent (see _run)
        self.lend = True  # lend large weights to onnxruntime (off once a model runs only as it is)
        self._lent: tuple[dict, dict] = ({}, {})  # the last run's lent tensors and their arrays, by name

    def _run(self, model: onnx.ModelProto, extra: list[str], feeds: dict[str, np.ndarray]
             ) -> tuple[dict[str, np.ndarray], bool]:
        """Run ``model`` once; (outputs, whether its large weights were lent). Lent (``trtlab.weights``), they go
        to onnxruntime as arrays bound as inputs: no serialization of them and no copy in the session, which on
        a 400 MB model is most of the cost of a verification; the ONNX model and its math are the same. Where
        onnxruntime refuses that form although it runs the model as it is (an op that needs a constant weight),
        the model runs as it is, and so does every later run. ``check`` compares two runs of one form only.

        A tensor equal to one the last run lent (same name, type, dims and bytes: protobuf compares them without
        a copy) reuses its array. That holds because a model the verifier ran is never modified afterwards (the
        runner gives each pass a copy), so the lent tensor still has the bytes its array was made from."""
        from trtlab import weights

        if self.lend:
            light, token = weights.lend_weights(model, reuse=self._reuse)
            if token is not None:
                try:
                    out = self._run_as_is(light, extra, feeds)
                    arrays = weights.shared_arrays(light)
                    tensors: dict[str, onnx.TensorProto] = {}
                    for t in model.graph.initializer:
                        if t.name in arrays:
                            tensors.setdefault(t.name, t)
                    self._lent = (tensors, arrays)
                    return out, True
                except TrtlabError:
                    pass
                finally:
                    weights.release(token)
                out = self._run_as_is(model, extra, feeds)  # raises when the model itself is broken
                self.lend = False
                return out, False
        return self._run_as_is(model, extra, feeds), False

    def lent_arrays(self, model: onnx.ModelProto) -> dict[str, np.ndarray]:
        """The arrays of the last run that ``model``'s own initializers were lent as (same tensor objects: ``model``
        is the model last run, and not modified since), e.g. to write it without copying its weights."""
        tensors, arrays = self._lent
        return {t.name: arrays[t.name] for t in model.graph.initializer if tensors.get(t.name) is t}

    def _reuse(self, tensor: onnx.TensorProto) -> np.ndarray | None:
        tensors, arrays = self._lent
        lent = tensors.get(tensor.name)
        return arrays[tensor.name] if lent is not None and lent == tensor else None

    @staticmethod
    def _run_as_is(model: onnx.ModelProto, extra: list[str], feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from trtlab.backends import create, parse_spec
        from trtlab.precision import has_half, widen

        if has_half(model):  # half storage kept, as an engine keeps it (the module docstring says why)
            model = widen(model)
            # the widened model takes FP32 where the model took FP16/BF16: the same values, exactly
            feeds = {k: v.astype(np.float32) if v.dtype.name in ("float16", "bfloat16") else v
                     for k, v in feeds.items()}
        backend = create(parse_spec("onnxrt"))
        with backend:
            backend.load(model, extra)
            names = {i.name for i in backend.session.get_inputs()}
            return backend.run({k: v for k, v in feeds.items() if k in names})

    def state(self) -> tuple[dict, dict, bool]:
        """What ``check`` advances (the last model's outputs, the feeds): to try rewrites and go back."""
        return dict(self._cache), dict(self.feeds), self._cache_lent

    def restore(self, state: tuple[dict, dict, bool]) -> None:
        self._cache, self.feeds, self._cache_lent = dict(state[0]), dict(state[1]), state[2]

    def baseline(self, model: onnx.ModelProto, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Run the input model once; raise when it cannot run (verification then is impossible). ``arrays``: the
        model's large weights already as arrays (``trtlab.model.file_weights``: its file, memory-mapped), lent
        instead of copies."""
        if arrays:
            tensors: dict[str, onnx.TensorProto] = {}
            for t in model.graph.initializer:
                if t.name in arrays:
                    tensors.setdefault(t.name, t)
            self._lent = (tensors, arrays)
        self._cache, self._cache_lent = self._run(model, [], self.feeds)

    def check(self, before: onnx.ModelProto, after: onnx.ModelProto, tolerance: tuple[float, float],
              pass_name: str, ort_gaps: bool = False) -> Check:
        """Compare ``after`` with ``before``. When ``after`` does not run in onnxruntime although ``before`` did,
        the pass failed, unless ``ort_gaps`` (it may produce types/ops onnxruntime lacks by design: not verified).
        """
        from trtlab.comparators import compare_arrays

        after_inputs = [vi.name for vi in after.graph.input if vi.name not in {t.name for t in after.graph.initializer}]
        after_outputs = [o.name for o in after.graph.output]
        wanted = [n for n in after_inputs if n not in self.feeds] + after_outputs
        if all(n in self._cache for n in wanted):
            ref, ref_lent = self._cache, self._cache_lent
        else:
            try:
                ref, ref_lent = self._run(before, wanted, self.feeds)
            except TrtlabError as exc:
                self._cache = {}
                return Check(None, note="not verified: onnxruntime (CPU) cannot run the model before this pass "
                             f"either: {exc.problem}")
        feeds = dict(self.feeds)
        feeds.update({n: ref[n] for n in after_inputs if n in ref and n not in self.feeds})
        try:
            got, got_lent = self._run(after, [], feeds)
            if got_lent != ref_lent:  # only one of the two ran with its weights lent: both run as they are
                if ref_lent:
                    try:
                        ref = self._run_as_is(before, wanted, self.feeds)
                    except TrtlabError as exc:
                        self._cache = {}
                        return Check(None, note="not verified: onnxruntime (CPU) cannot run the model before this "
                                     f"pass as it is: {exc.problem}")
                    feeds.update({n: ref[n] for n in after_inputs if n in ref and n not in self.feeds})
                got, got_lent = self._run_as_is(after, [], feeds), False
        except UnavailableError as exc:
            if not ort_gaps:
                return Check(False, failure=f"pass {pass_name} made the model unrunnable by onnxruntime, which ran "
                             f"the model before it: {exc.problem}")
            self._cache = {}
            return Check(None, note=f"not verified: onnxruntime (CPU) cannot run the rewritten model: {exc.problem}")
        except TrtlabError as exc:
            return Check(False, failure=f"pass {pass_name} made the model unloadable or unrunnable by onnxruntime: "
                         f"{exc.problem}")
        self._cache, self._cache_lent, self.feeds = got, got_lent, feeds
        atol, rtol = tolerance
        worst, failures, metrics = 0.0, [], []
        for name in after_outputs:
            if name not in ref or name not in got:
                continue
            r, g = ref[name], got[name]
            if r.dtype.kind == "f" and g.dtype.kind == "f" and r.dtype != g.dtype:
                g = g.astype(r.dtype)
            m = compare_arrays(name, r, g, atol, rtol)
            metrics.append(m)
            if m.max_abs is not None and np.isfinite(m.max_abs):
                worst = max(worst, float(m.max_abs))
            if not m.passed:
                failures.append(f"output '{name}' changed: {m.reason or 'beyond tolerance'} "
                                f"(max abs error {m.max_abs}, atol {atol}, rtol {rtol})")
        if failures:
            drift = ""
            if 0 < worst <= 1e-2 * max(1.0, max((float(np.max(np.abs(ref[m.name]))) for m in metrics
                                                 if ref[m.name].size and ref[m.name].dtype.kind == "f"),
                                                default=1.0)):
                drift = (f"; a small drift: if it is acceptable, pass --atol {_round_up(worst)} (and/or --rtol) "
                         "to verify with that tolerance")
            return Check(False, worst, failure=f"pass {pass_name} changed the outputs: " + "; ".join(failures[:3])
                         + drift, metrics=metrics)
        return Check(True, worst, metrics=metrics)


def _round_up(x: float) -> str:
    """A tolerance just above ``x``, written short (2e-05 for 1.3e-05)."""
    import math

    exp = math.floor(math.log10(x))
    lead = math.ceil(x / 10**exp + 1e-9)
    if lead >= 10:
        lead, exp = 1, exp + 1
    return f"{lead}e{exp:+03d}" if exp < -2 or exp > 3 else f"{lead * 10**exp:g}"
