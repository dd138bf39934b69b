"""The compare verdict (trtlab.comparison.run): what passes, what the first divergence and worst layers are.

Built on the accumulator and ``_assemble`` directly (arrays in, verdict out) plus one end-to-end run, so each
rule is pinned by a test that fails when the rule is broken (the mutation run in docs/mutation.md checks that)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from trtlab.comparators import TensorMetrics, Tolerances

from trtlab.comparison import run as cr
from trtlab.model import LoadedModel


def _model(outputs=("y",)) -> LoadedModel:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="n_a"), helper.make_node("Neg", ["a"], ["b"], name="n_b"),
             helper.make_node("Abs", ["b"], ["y"], name="n_y"), helper.make_node("Relu", ["b"], ["z"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, [4]) for o in outputs])
    return LoadedModel(proto=helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path=None,
                       label="m")


def _verdict(pairs: dict, outputs=("y",), layerwise=True, unmatched=(), tol=None):
    """Assemble a result from {tensor: (ref, target)} arrays (one sample)."""
    model = _model(outputs)
    layers, _ = cr.topo_tensors(model) if layerwise else ([], 0)
    acc = cr._Accumulator(tol or Tolerances())
    for name, (ref, out) in pairs.items():
        acc.add(name, np.asarray(ref, np.float32), np.asarray(out, np.float32), 0)
    warnings: list[str] = []
    result, hist = cr._assemble(model, {"sha256": None}, {}, {}, tol or Tolerances(), [{}], layers, list(outputs),
                                acc, list(unmatched), {}, warnings)
    return result, hist


SAME = ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
OFF = ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.5, 4.0])
SLIGHT = ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0 + 3e-6, 4.0])  # within 1e-5, nonzero error


def test_all_outputs_within_tolerance_pass():
    result, _ = _verdict({"a": SAME, "b": SAME, "y": SAME, "z": SAME})
    assert result.passed is True and result.first_divergence is None
    assert [m.name for m in result.outputs] == ["y"]


def test_one_failing_output_fails():
    result, _ = _verdict({"a": SAME, "b": SAME, "y": OFF, "z": SAME}, outputs=("y", "z"))
    assert result.passed is False
    result, _ = _verdict({"a": SAME, "b": SAME, "y": SAME, "z": OFF}, outputs=("y", "z"))
    assert result.passed is False, "a failing second output must fail the verdict"


def test_failing_layer_with_passing_outputs_passes_and_names_the_first_divergence():
    result, _ = _verdict({"a": SAME, "b": OFF, "y": SAME, "z": OFF})
    assert result.passed is True, "layers are diagnostics; the outputs decide"
    fd = result.first_divergence
    assert fd == {"tensor": "b", "node": "n_b", "op": "Neg", "reason": result.layers[1].reason}
    assert fd["reason"] and "out of tolerance" in fd["reason"]


def test_first_divergence_is_the_first_in_topological_order_not_the_worst():
    worse = ([1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0])
    result, _ = _verdict({"a": OFF, "b": worse, "y": SAME, "z": SAME})
    assert result.first_divergence["tensor"] == "a"
    assert result.worst_layers[0] == "b"


def test_no_compared_output_fails_with_a_warning():
    result, _ = _verdict({"a": SAME, "b": SAME})
    assert result.passed is False and result.outputs == []
    assert "no graph output could be compared" in result.warnings


def test_an_output_the_target_does_not_expose_fails():
    unmatched = [{"tensor": "z", "reason": "not exposed by the target"}]
    result, _ = _verdict({"a": SAME, "b": SAME, "y": SAME}, outputs=("y", "z"), unmatched=unmatched)
    assert result.passed is False
    ok, _ = _verdict({"a": SAME, "b": SAME, "y": SAME}, outputs=("y",),
                     unmatched=[{"tensor": "b", "reason": "not exposed by the target"}])
    assert ok.passed is True, "an unmatched intermediate layer does not fail the verdict"


def test_outputs_only_run_has_no_layers():
    result, _ = _verdict({"y": OFF}, layerwise=False)
    assert result.layers is None and result.first_divergence is None and result.worst_layers == ["y"]


def test_worst_layers_rank_failing_first_and_drop_exact_matches():
    result, _ = _verdict({"a": SLIGHT, "b": SAME, "y": OFF, "z": SAME})
    assert result.worst_layers == ["y", "a"], "failing first, then nonzero error; exact layers are left out"


def test_worst_is_capped():
    metrics = [TensorMetrics(name=f"t{i}", passed=False, max_abs=1.0) for i in range(cr.HIST_TOP + 5)]
    assert len(cr._worst(metrics)) == cr.HIST_TOP
    assert len(cr._worst(metrics, k=3)) == 3


def test_badness_orders_by_failure_then_new_nonfinite_then_fraction_cosine_rel():
    def m(**kw):
        return TensorMetrics(name="t", **kw)

    assert cr._badness(m(passed=False)) > cr._badness(m(passed=True, mismatch_fraction=1.0))
    new_inf = m(passed=True, inf={"ref": 0, "target": 1})
    assert cr._badness(new_inf) > cr._badness(m(passed=True, mismatch_fraction=0.5))
    same_inf = m(passed=True, inf={"ref": 1, "target": 1}, nan={"ref": 2, "target": 2})
    assert cr._badness(same_inf)[1] is False
    new_nan = m(passed=True, nan={"ref": 0, "target": 3})
    assert cr._badness(new_nan)[1] is True
    assert cr._badness(m(mismatch_fraction=0.2)) > cr._badness(m(mismatch_fraction=0.1))
    assert cr._badness(m(cosine=0.9)) > cr._badness(m(cosine=0.99))
    assert cr._badness(m(cosine=None)) == cr._badness(m(cosine=1.0))
    assert cr._badness(m(max_rel=0.5)) > cr._badness(m(max_rel=0.1))
    assert cr._badness(m(max_rel=None))[4] == 0.0


def test_unmatched_names_the_side_that_lacks_the_tensor():
    got = cr._unmatched(["y", "a", "b"], ["y", "c"], ["y"], ["a", "c", "y"])
    assert got == [{"tensor": "a", "reason": "not exposed by the target (fused away or not markable)"},
                   {"tensor": "c", "reason": "not exposed by the reference"}]
    assert cr._unmatched(["y"], ["y"], ["y"], []) == []


def test_histograms_kept_for_outputs_and_worst_layers():
    result, hist = _verdict({"a": SLIGHT, "b": SAME, "y": OFF, "z": SAME})
    names = [h["tensor"] for h in result.histograms]
    assert names == ["y", "a"] and set(hist) == {"h0", "h1", "edges_log10"}
    counts = hist["h0"]
    assert counts[0] == 3 and counts[1] == 0 and counts[2:].sum() == 1, "3 exact, 0 non-finite, 1 binned error"


def test_histogram_counts_nonfinite_and_bins():
    ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    out = np.array([1.0, np.inf, 3.5, 4.0, 5.0 + 1e-3], np.float32)
    counts = cr._histogram(ref, out)
    assert counts[0] == 2 and counts[1] == 1 and counts[2:].sum() == 2
    b = int(np.searchsorted(cr.HIST_EDGES, np.log10(0.5), side="right")) - 1
    assert counts[2 + b] == 1, "an error of 0.5 goes to the bin holding log10(0.5)"


def test_tolerances_recorded_and_per_tensor_applied():
    tol = Tolerances(per_atol={"y": 1.0})
    result, _ = _verdict({"a": SAME, "b": SAME, "y": OFF, "z": SAME}, tol=tol)
    assert result.passed is True and result.tolerances["per_atol"] == {"y": 1.0}
    assert result.tolerances["atol"] == tol.atol and result.tolerances["rtol"] == tol.rtol


@pytest.mark.parametrize("target, passed", [("reference", True), ("onnxrt:fp16", False)])
def test_end_to_end_verdict(target, passed):
    from trtlab.backends import parse_spec

    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["m"], name="big"),
                               helper.make_node("Min", ["m", "one"], ["y"], name="clamp"),
                               helper.make_node("Sub", ["m", "k"], ["w"], name="back")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3]),
                               helper.make_tensor_value_info("w", TensorProto.FLOAT, [3])],
                              [helper.make_tensor("k", TensorProto.FLOAT, [], [1e5]),
                               helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    model = LoadedModel(proto=helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path=None)
    feeds = [{"x": np.array([0.5, 0.9, 1.0], np.float32)}]
    result, _ = cr.run_compare(model, parse_spec("onnxrt"), parse_spec(target), feeds,
                               Tolerances(1e-3, 1e-2), True, quiet=True, warmup=0)
    assert result.passed is passed
    assert result.samples == 1 and [m.name for m in result.outputs] == ["y", "w"]
    if not passed:
        assert result.first_divergence["tensor"] == "m" and result.outputs[0].passed


def test_layers_of_unnamed_nodes_and_nested_bodies():
    """Unnamed nodes are named OP_INDEX (what first_divergence prints); tensors inside bodies are counted apart."""
    body_out = helper.make_tensor_value_info("bo", TensorProto.FLOAT, [1])
    then = helper.make_graph([helper.make_node("Identity", ["x"], ["bo"]), helper.make_node("Neg", ["x"], ["",])],
                             "then", [], [body_out])
    deeper = helper.make_graph([helper.make_node("If", ["c"], ["io"], then_branch=then, else_branch=then)],
                               "deeper", [], [helper.make_tensor_value_info("io", TensorProto.FLOAT, [1])])
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"], name="named"),
             helper.make_node("If", ["c"], ["y"], then_branch=deeper, else_branch=then)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
                                           helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = LoadedModel(proto=helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path=None)
    layers, nested = cr.topo_tensors(model)
    assert [(x.tensor, x.node, x.op) for x in layers] == [("a", "Relu_0", "Relu"), ("b", "named", "Neg"),
                                                          ("y", "If_2", "If")]
    # bodies: deeper (If -> io) 1 tensor at depth 1, its branches 1 each at depth 2, else_branch `then` 1 at depth 1
    assert nested == 4


def test_first_divergence_names_an_unnamed_producer():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = LoadedModel(proto=helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path=None)
    layers, _ = cr.topo_tensors(model)
    acc = cr._Accumulator(Tolerances())
    for name, (ref, out) in {"a": OFF, "y": SAME}.items():
        acc.add(name, np.asarray(ref, np.float32), np.asarray(out, np.float32), 0)
    result, _ = cr._assemble(model, {}, {}, {}, Tolerances(), [{}], layers, ["y"], acc, [], {}, [])
    assert result.first_divergence["node"] == "Relu_0" and result.first_divergence["op"] == "Relu"
    assert (result.outputs[0].node, result.outputs[0].op) == ("Neg_1", "Neg")


def test_histogram_index_keys_and_edges():
    result, hist = _verdict({"a": SLIGHT, "b": SAME, "y": OFF, "z": SAME})
    assert result.histograms == [{"tensor": "y", "key": "h0"}, {"tensor": "a", "key": "h1"}]
    assert np.array_equal(hist["edges_log10"], cr.HIST_EDGES)


def test_histograms_only_from_the_first_sample_and_float_tensors():
    acc = cr._Accumulator(Tolerances())
    f = np.array([1.0, 2.0], np.float32)
    acc.add("later", f, f + 1, 1)
    acc.add("ints", np.array([1, 2]), np.array([1, 3]), 0)
    acc.add("shape", f, np.zeros(3, np.float32), 0)
    acc.add("first", f, f + 1, 0)
    assert set(acc.hist) == {"first"}
    assert set(acc.per_tensor) == {"later", "ints", "shape", "first"}
    assert acc.per_tensor["first"][0].atol == Tolerances().atol


def test_failing_tensor_without_a_finite_error_is_still_among_the_worst():
    """A shape mismatch or NaN-only difference has no max_abs; it fails, so it must be listed."""
    shape = TensorMetrics(name="s", passed=False, max_abs=None, reason="shape mismatch")
    nan_only = TensorMetrics(name="n", passed=False, max_abs=0.0, nan={"ref": 0, "target": 1})
    exact = TensorMetrics(name="e", passed=True, max_abs=0.0)
    assert cr._worst([exact, shape, nan_only]) == ["n", "s"]


def test_tolerances_record_is_complete():
    tol = Tolerances(atol=1e-3, rtol=1e-2, per_atol={"y": 1.0}, per_rtol={"z": 0.5})
    result, _ = _verdict({"a": SAME, "b": SAME, "y": SAME, "z": SAME}, tol=tol)
    assert result.tolerances == {"atol": 1e-3, "rtol": 1e-2, "per_atol": {"y": 1.0}, "per_rtol": {"z": 0.5}}
