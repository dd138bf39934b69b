"""``compare --target onnxrt:fp16`` on PyTorch exports (tests/models/torch_zoo.py: architectures with seeded random
weights, exported by torch.onnx and cached), judged against checks that do not use trtlab's code:

- the verdict recomputed with NumPy from the outputs trtlab saved, at the tolerances results.json states (the rules
  of comparators/verdict.py, written out again here);
- the reference recomputed with onnxruntime directly, and PyTorch's own FP32 outputs;
- PyTorch running the module in FP16 (an FP16 computation that shares nothing with trtlab's simulation): when
  that output is broken (NaN/Inf, constant, cosine below 0.99) the verdict must not be PASSED, and the
  architectures whose FP16 storage overflows by construction must fail.

Fast: two architectures in the default run; the whole corpus is marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.models import torch_zoo as zoo

pytestmark = pytest.mark.skipif(zoo.torch_version() is None, reason="torch is not installed (the dev extra has it)")

FAST = ["resnet", "risky_softmax"]
MARGIN = 4.0


def _cosine(r: np.ndarray, t: np.ndarray) -> float | None:
    r, t = r.astype(np.float64).ravel(), t.astype(np.float64).ravel()
    if not (np.isfinite(r).all() and np.isfinite(t).all()):
        return None
    nr, nt = np.linalg.norm(r), np.linalg.norm(t)
    if nr == 0 or nt == 0:
        return 1.0 if nr == nt else 0.0
    return float(r @ t / (nr * nt))


def _failed_rules(r: np.ndarray, t: np.ndarray, atol: float, rtol: float, min_cosine: float) -> set[str]:
    """The verdict rules one output fails, computed here from the arrays alone."""
    if r.dtype.kind != "f":
        return set() if np.array_equal(r, t) else {"tolerance"}
    r64, t64 = r.astype(np.float64), t.astype(np.float64)
    rules = set()
    if (~np.isfinite(t64) & np.isfinite(r64)).any():
        rules.add("nonfinite")
    both = np.isfinite(r64) & np.isfinite(t64)
    diff = np.abs(t64 - r64)
    same_special = (np.isnan(r64) & np.isnan(t64)) | (np.isinf(r64) & (r64 == t64))
    if ((diff > atol) & (diff > rtol * np.abs(r64)) & both).any() or (~both & ~same_special).any():
        rules.add("tolerance")
    if r.size >= 2 and np.isfinite(t64).all() and t64.min() == t64.max() and r64.max() - r64.min() > 1e-6 * np.abs(
            r64).max():
        rules.add("constant")
    cos = _cosine(r, t)
    if min_cosine > 0 and cos is not None and cos < min_cosine:
        rules.add("cosine")
    return rules


def _broken(r: np.ndarray, t: np.ndarray) -> bool:
    """An FP16 output no one would ship: NaN/Inf the reference lacks, constant, or pointing elsewhere."""
    if r.dtype.kind != "f":
        return False
    rules = _failed_rules(r, t, np.inf, np.inf, 0.99)
    return bool(rules & {"nonfinite", "constant", "cosine"}) or _cosine(r, t) is None


def _compare(cli, tmp_path, name: str) -> tuple[int, dict, dict, dict]:
    data = zoo.data(name)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **data["input"])
    run = tmp_path / "run"
    r = cli("compare", str(zoo.export(name)), "--target", "onnxrt:fp16", "--load-inputs", str(feeds),
            "--save-outputs", "--no-report", "--json", "--out", str(run))
    assert r.code in (0, 1), r
    res = json.loads(r.out)
    with np.load(run / "ref_outputs.npz") as z:
        ref = {k: z[k] for k in z.files}
    with np.load(run / "target_outputs.npz") as z:
        out = {k: z[k] for k in z.files}
    return r.code, res, ref, out


def _check(cli, tmp_path, name: str) -> None:
    import onnxruntime as ort

    code, res, ref, out = _compare(cli, tmp_path, name)
    data, arch = zoo.data(name), zoo.arch(name)
    assert res["passed"] == (code == 0), res["verdict"]
    # the reference is onnxruntime FP32 on the given inputs, and it is what PyTorch computes
    session = ort.InferenceSession(str(zoo.export(name)), providers=["CPUExecutionProvider"])
    direct = dict(zip(arch.output_names, session.run(list(arch.output_names), data["input"])))
    for o in arch.output_names:
        np.testing.assert_allclose(ref[o], direct[o], rtol=1e-6, atol=1e-6, err_msg=o)
        np.testing.assert_allclose(ref[o], data["torch_fp32"][o], rtol=1e-3, atol=1e-4, err_msg=o)
    # the verdict follows from the saved arrays at the stated tolerances
    tol, min_cosine = res["tolerances"], res["verdict"]["min_cosine"]
    rules = {m["name"]: set(m["rules"]) for m in res["outputs"]}
    for o in arch.output_names:
        atol, rtol = tol["per_atol"].get(o, tol["atol"]), tol["per_rtol"].get(o, tol["rtol"])
        mine = _failed_rules(ref[o], out[o], atol, rtol, min_cosine)
        assert mine == rules[o], (o, mine, rules[o], res["verdict"])
    # an FP16 output PyTorch itself computes as broken is never PASSED; the overflowing designs fail
    broken = [o for o in arch.output_names if _broken(ref[o], data["torch_fp16"][o])]
    assert broken or not arch.fp16_broken, (name, "PyTorch FP16 no longer breaks this design")
    # PyTorch FP16 and the simulation agree on the gross rules, and on the tolerance rule unless PyTorch's own
    # error lies within a factor MARGIN of the tolerance (the two round in different places)
    for o in arch.output_names:
        atol, rtol = tol["per_atol"].get(o, tol["atol"]), tol["per_rtol"].get(o, tol["rtol"])
        independent = _failed_rules(ref[o], data["torch_fp16"][o], atol, rtol, min_cosine)
        assert rules[o] - {"tolerance"} == independent - {"tolerance"}, (o, rules[o], independent)
        if not _failed_rules(ref[o], data["torch_fp16"][o], atol / MARGIN, rtol / MARGIN, min_cosine):
            assert not rules[o], (o, "PyTorch FP16 passes with a margin, the simulation fails", res["verdict"])
        if "tolerance" in _failed_rules(ref[o], data["torch_fp16"][o], atol * MARGIN, rtol * MARGIN, min_cosine):
            assert "tolerance" in rules[o], (o, "PyTorch FP16 fails with a margin, the simulation passes")
    if broken or arch.fp16_broken:
        assert code == 1 and not res["passed"], res["verdict"]
        assert {f["tensor"] for f in res["verdict"]["failures"]} >= set(broken), res["verdict"]


@pytest.mark.parametrize("name", zoo.names(FAST))
def test_fp16_verdict_agrees_with_independent_checks(cli, tmp_path, name):
    _check(cli, tmp_path, name)


def _mitigations(cli, tmp_path, name: str) -> None:
    """Every `--target ...`/`--atol ...` a layer-wise finding prints is accepted verbatim; an overflow's keep-list,
    typed, fixes the output of the designs that overflow."""
    import re
    import shlex

    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **zoo.data(name)["input"])
    model, common = str(zoo.export(name)), ["--load-inputs", str(feeds), "--no-report", "--json"]
    r = cli("compare", model, "--target", "onnxrt:fp16", "--layerwise", *common, "--out", str(tmp_path / "lw"))
    assert r.code in (0, 1), r
    findings = json.loads(r.out)["findings"]
    for i, f in enumerate(findings):
        for typed in re.findall(r"`(--(?:target|atol) [^`]+)`", f["mitigation"]):
            args = shlex.split(typed)
            target = [] if args[0] == "--target" else ["--target", "onnxrt:fp16"]
            again = cli("compare", model, *target, *args, *common, "--out", str(tmp_path / f"m{i}"))
            assert again.code in (0, 1), (typed, again)
            assert "match no" not in " ".join(json.loads(again.out)["target"]["notes"]), typed
            if f["severity"] == "error" and "overflows" in f["hazard"]:
                assert again.code == 0, (typed, json.loads(again.out)["verdict"])
    if zoo.arch(name).fp16_broken:
        assert any(f["severity"] == "error" and "overflows" in f["hazard"] for f in findings), findings


@pytest.mark.parametrize("name", zoo.names(["risky_softmax"]))
def test_layerwise_mitigations_work_when_typed(cli, tmp_path, name):
    _mitigations(cli, tmp_path, name)
