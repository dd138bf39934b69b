"""`debug reduce --fails nonfinite` and `--fails compare --metric cosine:C` follow the overflow that wrecks the
output, not the first harmless FP16 rounding (issue 10)."""

import json
import shlex

import onnx
import pytest

from tests.models import real_world as rw


@pytest.fixture(scope="module")
def keras_ln(tmp_path_factory):
    return rw.save(rw.encoder(hand_written_ln=True, amplitude=300.0), tmp_path_factory.mktemp("m") / "keras.onnx")


@pytest.mark.parametrize("how", [["--fails", "nonfinite"], ["--fails", "compare", "--metric", "cosine:0.99"]])
def test_reducer_keeps_the_overflow(cli, tmp_path, keras_ln, how):
    out = tmp_path / "min.onnx"
    r = cli("debug", "reduce", keras_ln, "--target", "onnxrt:fp16", *how, "-o", str(out), "--out",
            str(tmp_path / "run"), "-q")
    assert r.code == 0, r
    nodes = [n.name for n in onnx.load(str(out)).graph.node]
    assert nodes == ["ln1.square"], nodes  # the Mul(d, d) that overflows, not the embedding MatMul's rounding
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["failure"]["mode"] == how[1]
    cmd = next(line.split("reproduce: ", 1)[1] for line in r.out.splitlines() if line.startswith("reproduce: "))
    again = cli(*shlex.split(cmd)[1:], "--no-report")
    assert again.code == 1 and "nonfinite" in again.out, again  # the printed command fails on its own


def test_plain_compare_mode_stops_at_the_first_rounding(cli, tmp_path, keras_ln):
    out = tmp_path / "min.onnx"
    r = cli("debug", "reduce", keras_ln, "--target", "onnxrt:fp16", "--fails", "compare", "-o", str(out), "-q")
    assert r.code == 0, r
    assert [n.name for n in onnx.load(str(out)).graph.node] == ["embed.matmul"]


def test_bad_metric_and_nothing_to_reduce(cli, tmp_path, keras_ln):
    r = cli("debug", "reduce", keras_ln, "--target", "onnxrt:fp16", "--fails", "compare", "--metric", "snr:3")
    assert r.code == 2 and "--metric" in r.err
    r = cli("debug", "reduce", keras_ln, "--target", "onnxrt:fp16", "--fails", "nonfinite", "--metric", "cosine:0.9")
    assert r.code == 2 and "--metric applies to --fails compare" in r.err
    enc = rw.save(rw.encoder(), tmp_path / "enc.onnx")
    r = cli("debug", "reduce", enc, "--target", "onnxrt:fp16", "--fails", "nonfinite", "-o", str(tmp_path / "x.onnx"))
    assert r.code == 2 and "nothing to reduce" in r.err
