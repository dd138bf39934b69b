"""trtlab debug reduce: bisection and linear pass with the real TensorRT parser, onnxruntime and shell checks.

Graphs are built in code (a 1000+-node chain and DAG with one unsupported node planted in the middle) and cached
per session; the public models come from ../shared/models.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from tests.conftest import shared_model

OPSETS = [h.make_opsetid("", 17), h.make_opsetid("com.acme", 1)]


def _model(nodes, inputs, outputs, inits=(), value_info=()):
    graph = h.make_graph(nodes, "planted", inputs, outputs, list(inits), value_info=list(value_info))
    m = h.make_model(graph, opset_imports=OPSETS)
    m.ir_version = 10
    return m


def planted_chain(n: int = 1001, plant: int | None = 500) -> onnx.ModelProto:
    """A chain of n unary ops; node ``plant`` is a com.acme op no parser knows."""
    nodes, prev = [], "x"
    for i in range(n):
        if i == plant:
            nodes.append(h.make_node("Planted", [prev], [f"t{i}"], name="planted", domain="com.acme"))
        else:
            nodes.append(h.make_node(("Relu", "Sigmoid", "Neg", "Abs")[i % 4], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    vi = [h.make_tensor_value_info(f"t{plant}", T.FLOAT, [1, 16])] if plant is not None else []
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 16])],
                  [h.make_tensor_value_info(prev, T.FLOAT, None)], value_info=vi)


def planted_dag(blocks: int = 240, plant: int | None = 120, nonzero: bool = False) -> onnx.ModelProto:
    """Diamond blocks (Constant -> Mul -> Relu, Sigmoid, Add; Clip with an empty optional min every 5th block,
    an If reading an outer-scope tensor every 7th). Block ``plant`` holds a 2-in/2-out com.acme op, or with
    ``nonzero`` a NonZero side branch (a standard op that onnxruntime runs and tensorrt_rtx cannot parse)."""
    nodes, p = [], "x"
    for i in range(blocks):
        c, a, b, s, q = (f"{k}{i}" for k in "cabsq")
        nodes += [h.make_node("Constant", [], [c], name=f"const{i}",
                              value=h.make_tensor(c, T.FLOAT, [1], [0.5 + (i % 3) * 0.25])),
                  h.make_node("Mul", [p, c], [a], name=f"mul{i}"),
                  h.make_node("Relu", [a], [b], name=f"relu{i}"),
                  h.make_node("Sigmoid", [p], [s], name=f"sig{i}")]
        if i == plant and nonzero:
            nodes += [h.make_node("NonZero", [b], [f"nz{i}"], name="planted"),
                      h.make_node("Cast", [f"nz{i}"], [f"nzf{i}"], name=f"cast{i}", to=T.FLOAT),
                      h.make_node("ReduceSum", [f"nzf{i}"], [f"nzs{i}"], name=f"rsum{i}", keepdims=0),
                      h.make_node("Add", [b, s], [f"bs{i}"], name=f"add{i}"),
                      h.make_node("Add", [f"bs{i}", f"nzs{i}"], [q], name=f"addnz{i}")]
        elif i == plant:
            nodes += [h.make_node("Planted2", [b, s], [f"y{i}", f"z{i}"], name="planted", domain="com.acme"),
                      h.make_node("Add", [f"y{i}", f"z{i}"], [q], name=f"add{i}")]
        else:
            nodes.append(h.make_node("Add", [b, s], [q], name=f"add{i}"))
        if i % 5 == 4:
            nodes += [h.make_node("Constant", [], [f"hi{i}"], name=f"hi{i}",
                                  value=h.make_tensor(f"hi{i}", T.FLOAT, [], [4.0])),
                      h.make_node("Clip", [q, "", f"hi{i}"], [f"cl{i}"], name=f"clip{i}")]
            q = f"cl{i}"
        if i % 7 == 6:
            then_g = h.make_graph([h.make_node("Identity", [q], ["then_out"])], f"then{i}", [],
                                  [h.make_tensor_value_info("then_out", T.FLOAT, None)])
            else_g = h.make_graph([h.make_node("Neg", [q], ["else_out"])], f"else{i}", [],
                                  [h.make_tensor_value_info("else_out", T.FLOAT, None)])
            nodes += [h.make_node("Constant", [], [f"cond{i}"], name=f"cond{i}",
                                  value=h.make_tensor(f"cond{i}", T.BOOL, [], [True])),
                      h.make_node("If", [f"cond{i}"], [f"if{i}"], name=f"if{i}",
                                  then_branch=then_g, else_branch=else_g)]
            q = f"if{i}"
        p = q
    vi = [h.make_tensor_value_info(f"{k}{plant}", T.FLOAT, [1, 16]) for k in "yz"] \
        if plant is not None and not nonzero else []
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [1, 16])],
                  [h.make_tensor_value_info(p, T.FLOAT, None)], value_info=vi)


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """Build each test model once per session; return its path."""
    root = tmp_path_factory.mktemp("reduce-models")
    cache: dict[str, str] = {}

    def _get(name: str, build):
        if name not in cache:
            path = root / f"{name}.onnx"
            onnx.save(build(), path)
            cache[name] = str(path)
        return cache[name]

    return _get


def _results(res) -> dict:
    return json.loads(res.out)


def _reduce(cli, tmp_path, model, *extra):
    res = cli("debug", "reduce", str(model), "-o", str(tmp_path / "min.onnx"), "--out", str(tmp_path / "run"),
              "--json", *extra)
    assert res.code == 0, res
    return _results(res)


def _work(results) -> list[str]:
    return [k["name"] for k in results["kept"] if not k["constant"]]


def test_planted_chain_within_budget(cli, tmp_path, saved):
    model = saved("chain", planted_chain)
    r = _reduce(cli, tmp_path, model, "--fails", "check")
    n = r["work_nodes_before"]
    assert n == 1001 and _work(r) == ["planted"] and r["nodes_after"] == 1
    assert r["schema"] == "trtlab.debug.reduce/1" and r["reproduced"]
    assert r["checks"]["bisect"] <= 2 * math.ceil(math.log2(n)) + 4 == r["checks"]["bisect_budget"]
    assert r["checks"]["original"] == 1 and r["checks"]["total"] == len(r["history"])
    assert all(isinstance(x["reproduces"], bool) and isinstance(x["nodes"], int) for x in r["history"])
    log = [json.loads(line) for line in (tmp_path / "run" / "reduce.jsonl").read_text().splitlines()]
    assert log[0]["schema"] == "trtlab.debug.reduce.log/1" and len(log) == 1 + r["checks"]["total"]
    assert (tmp_path / "run" / "report.html").stat().st_size > 1000
    reduced = onnx.load(tmp_path / "min.onnx")
    assert [nd.name for nd in reduced.graph.node] == ["planted"]
    assert reduced.graph.input[0].type.tensor_type.elem_type == T.FLOAT  # typed boundary


def test_planted_dag_multi_io_constants_if(cli, tmp_path, saved):
    model = saved("dag", planted_dag)
    r = _reduce(cli, tmp_path, model, "--fails", "check")
    assert r["work_nodes_before"] >= 1000 and r["nodes_before"] > r["work_nodes_before"]
    assert _work(r) == ["planted"]
    assert r["checks"]["bisect"] <= r["checks"]["bisect_budget"]
    assert sorted(r["inputs"]) == ["b120", "s120"] and sorted(r["outputs"]) == ["y120", "z120"]
    reduced = onnx.load(tmp_path / "min.onnx")
    assert all(vi.type.tensor_type.elem_type == T.FLOAT for vi in reduced.graph.input)


def test_planted_nonzero_dag(cli, tmp_path, saved):
    model = saved("dag-nonzero", lambda: planted_dag(nonzero=True))
    r = _reduce(cli, tmp_path, model, "--fails", "check")
    assert _work(r) == ["planted"] and r["inputs"] == ["b120"]
    assert r["checks"]["bisect"] <= r["checks"]["bisect_budget"]


def test_candidates_are_runnable_models(saved):
    """Any cut of the DAG (If with outer-scope reads, Clip with an empty optional input, Constants) runs in ORT
    and gives the original model's values for its outputs."""
    import onnxruntime as ort

    from trtlab.reducer.graph import Plan, observe

    proto = onnx.load(saved("dag-clean", lambda: planted_dag(40, None)))
    plan = Plan.of(proto)
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)}
    values = observe(proto, [feeds], [o for n in proto.graph.node for o in n.output if o])[0]
    values.update(feeds)
    rng = np.random.default_rng(1)
    seen_if = False
    for _ in range(12):
        lo, hi = sorted(rng.integers(0, plan.size, 2))
        cand = plan.candidate(range(lo, hi + 1))
        onnx.checker.check_model(cand.proto)
        sess = ort.InferenceSession(cand.proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(cand.outputs, {n: values[n] for n in cand.inputs})
        for name, arr in zip(cand.outputs, got):
            np.testing.assert_allclose(arr, values[name], rtol=1e-6)
        produced = {o for nd in cand.proto.graph.node for o in nd.output}
        for nd in cand.proto.graph.node:  # If is atomic: its bodies' outer-scope reads are inputs or computed
            if nd.op_type == "If":
                outer = nd.attribute[0].g.node[0].input[0]
                assert outer in produced or outer in cand.inputs
                seen_if = True
    assert seen_if


def test_failure_inside_if_body_keeps_the_if(cli, tmp_path):
    x = h.make_tensor_value_info("x", T.FLOAT, [2])
    then_g = h.make_graph([h.make_node("Planted", ["r"], ["o"], domain="com.acme", name="inner")], "then", [],
                          [h.make_tensor_value_info("o", T.FLOAT, [2])])
    else_g = h.make_graph([h.make_node("Neg", ["r"], ["o2"])], "else", [],
                          [h.make_tensor_value_info("o2", T.FLOAT, [2])])
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"),
             h.make_node("ReduceSum", ["r"], ["sum"], name="sum", keepdims=0),
             h.make_node("Greater", ["sum", "zero"], ["cond"], name="gt"),
             h.make_node("If", ["cond"], ["y"], name="the_if", then_branch=then_g, else_branch=else_g),
             h.make_node("Abs", ["y"], ["out"], name="abs")]
    m = _model(nodes, [x], [h.make_tensor_value_info("out", T.FLOAT, [2])],
               [h.make_tensor("zero", T.FLOAT, [], [0.0])])
    onnx.save(m, tmp_path / "if.onnx")
    r = _reduce(cli, tmp_path, tmp_path / "if.onnx", "--fails", "check")
    assert _work(r) == ["the_if"]
    assert sorted(r["inputs"]) == ["cond", "r"]  # the body's outer-scope read is a boundary input


@pytest.mark.parametrize("name, kept", [("poly_capability", ["Fake1"]), ("poly_loop", ["while_loop"]),
                                        ("poly_nonzero", ["onnx_graphsurgeon_node_1"])])
def test_shared_models_check(cli, tmp_path, name, kept):
    r = _reduce(cli, tmp_path, shared_model(f"{name}.onnx"), "--fails", "check")
    assert _work(r) == kept and r["checks"]["bisect"] <= r["checks"]["bisect_budget"]


def test_compare_mode_several_samples(cli, tmp_path):
    r = _reduce(cli, tmp_path, shared_model("poly_needs_constraints.onnx"), "--fails", "compare",
                "--target", "onnxrt:fp16", "--atol", "1e-3", "--rtol", "1e-3")
    assert r["failure"]["samples"] == 3 and len(_work(r)) == 1 and r["nodes_after"] < r["nodes_before"]
    assert "mismatches" in r["final"]


def test_compare_reproducer_fails_on_its_own_with_saved_inputs(cli, tmp_path):
    """QA: the reduced model passed `trtlab compare` alone (its inputs were reference intermediates, never saved).
    The printed command, with the saved feeds, must fail (exit 1)."""
    import shlex

    res = cli("debug", "reduce", str(shared_model("poly_needs_constraints.onnx")), "--fails", "compare",
              "--target", "onnxrt:fp16", "--samples", "3", "-o", "nc_min.onnx", "--out", str(tmp_path / "run"))
    assert res.code == 0, res
    line = next(x for x in res.out.splitlines() if x.startswith("reproduce: "))
    argv = shlex.split(line.removeprefix("reproduce: "))
    assert argv[:3] == ["trtlab", "compare", "nc_min.onnx"] and "--load-inputs" in argv
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["inputs_file"] == "nc_min.inputs.npz" and saved["reproduce"] == line.removeprefix("reproduce: ")
    with np.load(tmp_path / "nc_min.inputs.npz") as z:
        assert sorted(z.files) == [f"{s}/{n}" for s in range(3) for n in saved["inputs"]]
    assert cli(*argv[1:], "--out", str(tmp_path / "cmp")).code == 1


def test_types_learned_past_a_com_microsoft_op():
    """QA: a com.microsoft op (no onnx.defs schema, but onnxruntime runs it) left every tensor downstream untyped.
    The whole model runs in onnxruntime first, so none stays untyped."""
    from trtlab.reducer.graph import Plan
    from trtlab.reducer.search import learn_types

    n, plant = 300, 150
    nodes, prev = [], "x"
    for i in range(n):
        if i == plant:
            nodes.append(h.make_node("FusedMatMul", [prev, "w"], [f"t{i}"], name="fused", domain="com.microsoft",
                                     alpha=1.0))
        else:
            nodes.append(h.make_node(("Relu", "Sigmoid", "Neg", "Abs")[i % 4], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    graph = h.make_graph(nodes, "ms", [h.make_tensor_value_info("x", T.FLOAT, [4, 4])],
                         [h.make_tensor_value_info(prev, T.FLOAT, None)],
                         [h.make_tensor("w", T.FLOAT, [4, 4], np.eye(4, dtype=np.float32).ravel())])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
    model.ir_version = 10
    plan = Plan.of(model)
    assert len(plan.untyped()) >= n - plant - 1  # shape inference stops at the FusedMatMul
    notes = learn_types(plan, [{"x": np.ones((4, 4), np.float32)}])
    assert plan.untyped() == [], notes
    assert not any("schema" in note for note in notes), notes
    assert plan.facts[f"t{n - 1}"] == (T.FLOAT, [4, 4])


def test_command_mode_on_shared_model(cli, tmp_path):
    script = tmp_path / "has_mul.py"
    script.write_text("import sys, onnx\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m)\n"
                      "print('found Mul' if any(n.op_type == 'Mul' for n in m.graph.node) else 'clean')\n")
    r = _reduce(cli, tmp_path, shared_model("poly_reduce_example.onnx"),
                "--check", f"{sys.executable} {script} {{model}}", "--fail-regex", "found Mul")
    assert [k["op"] for k in r["kept"]] == ["Mul"]
    assert all("exit 0" in x["detail"] for x in r["history"])  # every candidate was a valid model


def test_replay_answers_from_log(cli, tmp_path, saved):
    model = saved("chain-small", lambda: planted_chain(64, 40))
    first = _reduce(cli, tmp_path / "a", model, "--fails", "check")
    again = _reduce(cli, tmp_path / "b", model, "--fails", "check", "--replay",
                    str(tmp_path / "a" / "run" / "reduce.jsonl"))
    assert again["checks"]["bisect"] == 0 and again["checks"]["replayed"] == first["checks"]["bisect"]
    assert _work(again) == _work(first) == ["planted"]


def test_linear_pass_removes_what_bisection_cannot(tmp_path, saved):
    """A failure that needs two distant nodes: bisection keeps the span, the linear pass cuts it to the two."""
    from trtlab.reducer.checks import Verdict
    from trtlab.reducer.graph import Plan
    from trtlab.reducer.search import Reducer

    plan = Plan.of(onnx.load(saved("chain-clean", lambda: planted_chain(100, None))))
    need = {plan.order[20], plan.order[70]}

    def both(cand):
        return Verdict(need <= set(cand.origin), "both" if need <= set(cand.origin) else "not both")

    reducer = Reducer(plan, both, tmp_path / "log.jsonl")
    reducer.memo["0-99"] = (True, None)
    span = reducer.bisect()
    assert span == list(range(20, 71))
    assert reducer.linear(span) == [20, 70]
    assert reducer.counts["bisect"] <= 2 * math.ceil(math.log2(100))


@pytest.mark.parametrize("args, problem", [
    (["--fails", "check"], "nothing to reduce"),
    (["--check", "no-such-command-xyz {model}"], "cannot run"),
    (["--check", "true"], "does not mention {model}"),
    (["--fails", "explode"], "invalid choice"),
    ([], "no failure mode"),
    (["--fails", "compare"], "no --target"),
    (["--check", "false {model}", "--fail-regex", "("], "not a regular expression"),
])
def test_bad_input_one_line_nothing_written(cli, tmp_path, args, problem):
    res = cli("debug", "reduce", str(shared_model("poly_reducable.onnx")), "-o", str(tmp_path / "min.onnx"),
              "--out", str(tmp_path / "run"), *args)
    assert res.code == 2, res
    assert problem in res.err and len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err
    assert not (tmp_path / "min.onnx").exists() and not (tmp_path / "run").exists()


def test_terminal_summary_counts_checks(cli, tmp_path):
    res = cli("debug", "reduce", str(shared_model("poly_capability.onnx")), "-o", str(tmp_path / "m.onnx"),
              "--fails", "check")
    assert res.code == 0 and "reduced 5 -> 1 node(s): Fake1 (FAKE!)" in res.out
    assert "bisect" in res.out and "of budget" in res.out


@pytest.mark.parametrize("output, problem", [("cap.onnx", "would overwrite the input"), ("adir", "is a folder"),
                                             ("cap.onnx/min.onnx", "is a file, not a folder")])
def test_output_validated_before_reducing(cli, tmp_path, model_copy, output, problem):
    model = model_copy("poly_capability.onnx").rename(tmp_path / "cap.onnx")
    (tmp_path / "adir").mkdir()
    before = model.read_bytes()
    res = cli("debug", "reduce", "cap.onnx", "-o", output, "--fails", "check")
    assert res.code == 2 and problem in res.err and len(res.err.strip().splitlines()) == 1, res
    assert model.read_bytes() == before and not any((tmp_path / "adir").iterdir())
    assert not (tmp_path / "trtlab-runs").exists()


def test_compare_tolerances_follow_the_target_precision(cli, tmp_path):
    """FP32 tolerances on an fp16 target reduce to rounding noise (MatMul); the FP16 defaults find the Sub."""
    model = shared_model("poly_needs_constraints.onnx")
    r = _reduce(cli, tmp_path / "a", model, "--fails", "compare", "--target", "onnxrt:fp16")
    assert [k["op"] for k in r["kept"] if not k["constant"]] == ["Sub"], r["kept"]
    f = r["failure"]
    assert (f["atol"], f["rtol"]) == (1e-3, 1e-2) and f["tolerances"]["atol"] == "default for FP16"
    given = _reduce(cli, tmp_path / "b", model, "--fails", "compare", "--target", "onnxrt:fp16", "--atol", "2e-3")
    assert (given["failure"]["atol"], given["failure"]["rtol"]) == (2e-3, 1e-2)
    assert given["failure"]["tolerances"] == {"atol": "given", "rtol": "default for FP16"}
