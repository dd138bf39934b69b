"""`compare --layerwise --max-memory SIZE`: chunked runs that hold a bounded set of tensors, same verdicts."""

import json
import re

import numpy as np
import onnx
import pytest

from tests.conftest import shared_model
from tests.models.graphs import transformer_block
from trtlab.comparison import budget
from trtlab.errors import TrtlabError


def _results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def _metrics(res):
    return [(m["name"], m["max_abs"], m["cosine"], m["passed"]) for m in res["layers"] + res["outputs"]]


def test_plan_chunks_fit_the_budget_in_order_with_outputs_in_every_chunk():
    sizes = {"a": 100, "b": 300, "c": 200, "d": None, "out": 50}
    chunks, used, warnings = budget.plan_chunks(["a", "b", "c", "d"], sizes, 1000, ["out"])
    assert used["d"] == 300 and "could not be inferred" in warnings[0]
    assert [n for c in chunks for n in c if n != "out"] == ["a", "b", "c", "d"]
    assert all(c[0] == "out" and sum(used[n] for n in c) * 2 <= 1000 for c in chunks)
    assert len(chunks) == 3


def test_plan_chunks_refuses_a_budget_below_one_tensor_and_names_one_that_fits():
    with pytest.raises(TrtlabError) as exc:
        budget.plan_chunks(["big"], {"big": 4 << 20, "out": 1024}, 1 << 20, ["out"], overhead=3 << 20)
    hinted = int(re.search(r"--max-memory (\d+)M", exc.value.hint).group(1)) << 20
    chunks, _, _ = budget.plan_chunks(["big"], {"big": 4 << 20, "out": 1024}, hinted - (3 << 20), ["out"])
    assert chunks == [["out", "big"]]


def test_tensor_sizes_match_the_arrays_onnxruntime_returns():
    from trtlab.backends import create, parse_spec

    model = transformer_block(seq=8, hidden=16)
    names = [o for n in model.graph.node for o in n.output]
    feeds = {"hidden_states": np.random.default_rng(0).standard_normal((1, 8, 16)).astype(np.float32)}
    sizes = budget.tensor_sizes(model, feeds, names)
    with create(parse_spec("onnxrt")) as b:
        b.load(model, names)
        out = b.run(feeds)
    assert {n: out[n].nbytes for n in names if n in out} == {n: sizes[n] for n in names if n in out}


@pytest.fixture
def unmeasured(monkeypatch):
    """Where /proc cannot tell the backends' share, the whole budget goes to the tensors: lets a tiny budget force
    many chunks on a tiny model."""
    monkeypatch.setattr(budget, "window_peak_bytes", lambda: None)


@pytest.mark.parametrize("target", ["onnxrt:fp16", pytest.param("onnxrt:bf16", marks=pytest.mark.slow)])
def test_chunked_run_gives_the_unbounded_run_s_metrics(cli, tmp_path, unmeasured, target):
    model = tmp_path / "block.onnx"
    onnx.save(transformer_block(seq=16, hidden=32), model)
    a, b = tmp_path / "a", tmp_path / "b"
    ra = cli("compare", str(model), "--target", target, "--layerwise", "--no-report", "--out", str(a))
    rb = cli("compare", str(model), "--target", target, "--layerwise", "--max-memory", "48K", "--out", str(b))
    assert ra.code == rb.code
    res_a, res_b = _results(a), _results(b)
    assert _metrics(res_a) == _metrics(res_b) and res_a["first_divergence"] == res_b["first_divergence"]
    mem = res_b["memory"]
    assert mem["chunks"] > 3 and mem["peak_tensor_bytes"] <= mem["tensor_budget_bytes"] == 48 << 10
    assert "memory: budget 0.0 MiB" in rb.out
    assert "tensors held at most" in (b / "report.html").read_text()


def test_budget_below_what_the_backends_need_is_refused_with_a_budget_that_works(tmp_path):
    """In a process of its own, as a user runs it: what the backends add is measured against what the process held
    before (in the test process, memory freed by earlier tests would be reused and nothing would seem to grow)."""
    import subprocess
    import sys

    model = str(shared_model("mnist_opt.onnx"))

    def run(size, out):
        return subprocess.run([sys.executable, "-m", "trtlab", "compare", model, "--target", "onnxrt:fp16",
                               "--layerwise", "--max-memory", size, "--no-report", "--out", str(tmp_path / out)],
                              capture_output=True, text=True, timeout=300)

    r = run("1M", "a")
    assert r.returncode == 2 and "the backends alone need" in r.stderr, r.stderr
    size = re.search(r"--max-memory (\d+M)", r.stderr.split("Hint:")[1]).group(1)
    ok = run(size, "b")
    assert ok.returncode in (0, 1), ok.stderr
    assert _results(tmp_path / "b")["memory"]["backend_bytes"] > 0


def test_max_memory_needs_layerwise(cli, tmp_path):
    r = cli("compare", str(shared_model("mnist_opt.onnx")), "--target", "onnxrt:fp16", "--max-memory", "64M",
            "--out", str(tmp_path / "a"))
    assert r.code == 2 and "--layerwise" in r.err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fastestdet", "super_resolution", "poly_residual_block", "yunet_face_120x160"])
def test_corpus_chunked_equals_unbounded(cli, tmp_path, unmeasured, name):
    model = str(shared_model(f"{name}.onnx"))
    a, b = tmp_path / "a", tmp_path / "b"
    cli("compare", model, "--target", "onnxrt:fp16", "--layerwise", "--no-report", "--out", str(a))
    r = cli("compare", model, "--target", "onnxrt:fp16", "--layerwise", "--max-memory", "40M", "--no-report",
            "--out", str(b))
    assert r.code in (0, 1), r
    assert _metrics(_results(a)) == _metrics(_results(b))
    assert _results(b)["memory"]["chunks"] > 1
