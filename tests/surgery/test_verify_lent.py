"""Verification with lent weights: large initializers go to onnxruntime as arrays (not serialized), and weights a
pass left alone reuse the arrays of the run before. It must still catch every broken rewrite, fall back to the
model as it is where onnxruntime refuses the lent form, and compare two runs of the same form only."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper
from trtlab.passes.base import Pass, PassResult

from tests.passes.helpers import const, make_model, tensor
from trtlab import weights
from trtlab.errors import TrtlabError
from trtlab.surgery.pipeline import Step, run_pipeline
from trtlab.surgery.verify import Verifier, small_enough

N = 256  # a 256x256 float32 weight is 256 KB: lent (>= 64 KB)


def _model():
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    return make_model(nodes, [tensor("x", [2, N])], [tensor("y", [2, N])],
                      [const("w", rng.normal(0, 0.1, (N, N))), const("b", rng.normal(0, 0.1, (N,)))])


def _feeds():
    return {"x": np.random.default_rng(1).normal(0, 1, (2, N)).astype(np.float32)}


def _nudge_weight(model):  # a wrong fold: one element of the large weight off by 0.5, same name and dims
    for i, t in enumerate(model.graph.initializer):
        if t.name == "w":
            arr = numpy_helper.to_array(t).copy()
            arr[3, 5] += 0.5
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, "w"))
    return PassResult(model, ["nudged"], modified=True)


def _drop_weight(model):  # a fold that loses the weight its consumer still reads
    kept = [t for t in model.graph.initializer if t.name != "w"]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return PassResult(model, ["dropped"], modified=True)


def _harmless(model):  # y = h + b written as y = h - (-b): the large weight untouched
    for i, t in enumerate(model.graph.initializer):
        if t.name == "b":
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(t), "b"))
    model.graph.node[1].op_type = "Sub"
    return PassResult(model, ["rewritten"], modified=True)


def _run(monkeypatch, rewrite, verifier=None):
    from trtlab.passes import registry

    monkeypatch.setitem(registry.PASSES, "planted", Pass("planted", "test", rewrite))
    model = _model()
    verifier = verifier or Verifier(_feeds())
    verifier.baseline(model)
    _, result = run_pipeline(model, [Step("planted")], verifier=verifier)
    return result, verifier


def test_the_model_given_is_lent_not_copied_into_the_light_one():
    model = _model()
    light, token = weights.lend_weights(model)
    try:
        assert token is not None
        assert model.graph.initializer[0].raw_data  # the original keeps its bytes
        arrays = weights.shared_arrays(light)
        assert set(arrays) == {"w"}  # b (1 KB) stays in the light model
        np.testing.assert_array_equal(arrays["w"], numpy_helper.to_array(model.graph.initializer[0]))
        assert not arrays["w"].flags.writeable
    finally:
        weights.release(token)


@pytest.mark.parametrize("rewrite,said", [(_nudge_weight, "changed the outputs"),
                                          (_drop_weight, "unloadable or unrunnable")])
def test_a_broken_rewrite_of_a_lent_weight_is_caught(monkeypatch, rewrite, said):
    result, verifier = _run(monkeypatch, rewrite)
    assert result.passed is False and said in result.failure, result.failure
    assert verifier.lend  # caught in the lent form, not by a fallback


def test_an_untouched_weight_reuses_the_array_of_the_run_before(monkeypatch):
    from trtlab.passes import registry

    monkeypatch.setitem(registry.PASSES, "planted", Pass("planted", "test", _harmless))
    model = _model()
    verifier = Verifier(_feeds())
    verifier.baseline(model)
    baseline_array = verifier._lent[1]["w"]
    _, result = run_pipeline(model, [Step("planted")], verifier=verifier)
    assert result.passed and result.passes[0].verified, result.failure
    assert verifier._lent[1]["w"] is baseline_array  # the pass's run reused it: no copy
    assert model.graph.node[1].op_type == "Add"  # the pass rewrote a copy: the verified model is as it was run


def test_where_onnxruntime_refuses_the_lent_form_the_model_runs_as_it_is(monkeypatch):
    real = Verifier._run_as_is

    def refuse_lent(model, extra, feeds):
        if weights.tokens(model):
            raise TrtlabError("onnxrt", "needs a constant weight", "")
        return real(model, extra, feeds)

    monkeypatch.setattr(Verifier, "_run_as_is", staticmethod(refuse_lent))
    result, verifier = _run(monkeypatch, _harmless)
    assert result.passed and result.passes[0].verified and not verifier.lend
    result, _ = _run(monkeypatch, _nudge_weight)
    assert result.passed is False and "changed the outputs" in result.failure


def test_a_fold_that_makes_a_large_weight_compares_runs_of_one_form(monkeypatch):
    """Before: no large weight (a small tile); after folding: a 256 KB initializer, lent. Lent weights skip
    onnxruntime's pre-packing, so the two forms can differ in the last bits: both must run as they are."""
    nodes = [helper.make_node("Tile", ["seed", "reps"], ["w"]), helper.make_node("MatMul", ["x", "w"], ["y"])]
    rng = np.random.default_rng(2)
    model = make_model(nodes, [tensor("x", [2, N])], [tensor("y", [2, N])],
                       [const("seed", rng.normal(0, 1, (N // 16, N // 16))), const("reps", [16, 16], np.int64)])
    calls = []
    real = Verifier._run_as_is

    def spy(m, extra, feeds):
        calls.append(bool(weights.tokens(m)))
        return real(m, extra, feeds)

    monkeypatch.setattr(Verifier, "_run_as_is", staticmethod(spy))
    verifier = Verifier(_feeds())
    verifier.baseline(model)
    out, result = run_pipeline(model, [Step("fold-constants")], verifier=verifier)
    assert result.passed and result.passes[0].verified, result.failure
    assert [n.op_type for n in out.graph.node] == ["MatMul"]
    assert calls == [False, True, False]  # baseline as is, after lent, after again as is (the before's form)


def test_models_up_to_1_gb_verify_by_default():
    big = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1])], [tensor("y", [1])],
                     [numpy_helper.from_array(np.zeros((100 << 20) // 4, np.float32), "unused")])
    assert small_enough(big)[0]


def test_the_written_model_is_the_verified_one_byte_for_byte(cli, tmp_path, monkeypatch):
    """End to end: the baseline lends the input file's weights (memory-mapped), the fold's run reuses the untouched
    ones, and the output is written from those arrays; the file must be exactly the folded model's serialization
    (and the folded Constant must have been folded)."""
    import onnx

    from tests.passes.helpers import run as ort_run
    from trtlab import model as M

    monkeypatch.setattr(M, "STREAM_ABOVE", 0)
    written = []
    real = M.write_proto
    monkeypatch.setattr(M, "write_proto", lambda proto, path, arrays=None: written.append(
        (proto.SerializeToString(), dict(arrays or {}))) or real(proto, path, arrays))
    model = _model()
    model.graph.node.insert(0, helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(
        np.float32(2.0))))
    model.graph.node[2].input[1] = "b2"
    model.graph.node.insert(2, helper.make_node("Mul", ["b", "c"], ["b2"]))
    onnx.save(model, tmp_path / "m.onnx")
    r = cli("surgeon", "m.onnx", "--fold-constants", "-o", "out.onnx", "--json")
    assert r.code == 0, r
    (data, arrays), = written
    assert "w" in arrays  # written from the lent array, not copied out of the proto
    assert (tmp_path / "out.onnx").read_bytes() == data
    out = onnx.load(tmp_path / "out.onnx")
    assert [n.op_type for n in out.graph.node] == ["MatMul", "Add"]
    np.testing.assert_allclose(ort_run(out, _feeds())[0], ort_run(model, _feeds())[0], rtol=1e-6, atol=1e-6)
