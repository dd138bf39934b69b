"""Signals at random points, and two processes on one --out.

Signals are sent by the forked child to itself after a seeded random delay, so each lands somewhere else in the
command: the command must end with 130 (SIGINT) or 143 (SIGTERM), or 0 when it had finished first, and never
leave a temp file, a partial output or a half-made run directory behind. Two real processes share an --out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from tests.adversarial import models as M
from tests.adversarial.harness import SENT, complete, digest, run_forked, temp_files

ROOT = Path(__file__).resolve().parents[2]


def _big_fold_model(path: Path, mib: int = 16) -> None:
    """A foldable constant branch over a large weight: surgeon writes a file of about ``mib`` MiB."""
    n = mib * (1 << 20) // 4
    w = numpy_helper.from_array(np.ones(n, np.float32), "W")
    g = h.make_graph([h.make_node("Mul", ["W", "W"], ["W2"], name="fold"),
                      h.make_node("ReduceSum", ["W2"], ["s"], keepdims=1, name="sum"),
                      h.make_node("Add", ["x", "s"], ["y"], name="add")], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [1])], [h.make_tensor_value_info("y", T.FLOAT, [1])],
                     initializer=[w])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def _conv_chain(path: Path, layers: int = 40) -> None:
    """A model whose TensorRT build takes about a second on CPU."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.random((32, 32, 3, 3)) * 0.01).astype(np.float32), f"w{i}"))
        nodes += [h.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  h.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev = f"r{i}"
    nodes.append(h.make_node("Identity", [prev], ["y"]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 32, 64, 64])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 32, 64, 64])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def _assert_clean(tmp: Path, res, sig: int, delay: float, protect: dict, outputs: list[str], dirs: list[str]):
    where = (f"signal {sig} after {delay:.2f}s, ran {res.seconds:.2f}s: rc={res.rc} sig={res.signal}\n"
             f"{res.stderr[-800:]}")
    assert res.signal is None, where
    expected = 130 if sig == signal.SIGINT else 143
    if res.rc == 0:  # it finished before the signal came
        assert not (tmp / SENT).exists(), "exit 0 although the signal arrived while it ran\n" + where
    else:
        assert res.rc == expected, where
        assert "Traceback" not in res.stderr, where
        for p in outputs:
            assert not (tmp / p).exists() or complete(tmp / p), f"partial {p}\n{where}"
        for d in dirs:  # gone, or whole: the signal came after the run was written (while printing)
            if (tmp / d).exists():
                import json

                json.loads((tmp / d / "results.json").read_text())
    assert not temp_files(tmp), f"temp files left: {temp_files(tmp)}\n{where}"
    for p, before in protect.items():
        assert digest(tmp / p) == before, f"{p} modified\n{where}"


_RNG = random.Random(12)
DELAYS = sorted(_RNG.uniform(0.0, 1.2) for _ in range(6))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("delay", DELAYS[:1] + DELAYS[3:4], ids=lambda d: f"{d:.2f}s")
def test_signal_surgeon_fast(tmp_path, sig, delay):
    _signal_surgeon(tmp_path, sig, delay)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("delay", DELAYS, ids=lambda d: f"{d:.2f}s")
def test_signal_surgeon(tmp_path, sig, delay):
    _signal_surgeon(tmp_path, sig, delay)


def _signal_surgeon(tmp_path, sig, delay):
    _big_fold_model(tmp_path / "m.onnx")
    protect = {"m.onnx": digest(tmp_path / "m.onnx")}
    res = run_forked(["surgeon", "m.onnx", "--fold-constants", "-o", "o.onnx", "--run-dir", "s", "-q"], tmp_path,
                     send=(sig, delay))
    _assert_clean(tmp_path, res, sig, delay, protect, ["o.onnx"], ["s"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("delay", [d / 4 for d in DELAYS], ids=lambda d: f"{d:.2f}s")
def test_signal_compare(tmp_path, sig, delay):
    (tmp_path / "m.onnx").write_bytes(M.base_bytes("fold"))
    protect = {"m.onnx": digest(tmp_path / "m.onnx")}
    res = run_forked(["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "in.npz", "--out", "r",
                      "-q"], tmp_path, send=(sig, delay))
    _assert_clean(tmp_path, res, sig, delay, protect, ["in.npz"], ["r"])


@pytest.mark.parametrize("delay", [0.2, 0.5, 0.8, 1.1], ids=lambda d: f"{d:.1f}s")
def test_sigint_during_build_exits_130(tmp_path, delay):
    """Ctrl-C inside TensorRT's build used to be swallowed by its logger callback and the build exited 0."""
    pytest.importorskip("tensorrt_rtx")
    _conv_chain(tmp_path / "m.onnx")
    protect = {"m.onnx": digest(tmp_path / "m.onnx")}
    res = run_forked(["build", "m.onnx", "-o", "m.engine", "--out", "b", "-q"], tmp_path,
                     send=(signal.SIGINT, delay))
    _assert_clean(tmp_path, res, signal.SIGINT, delay, protect, [], ["b"])


def test_sigterm_subprocess_surgeon_leaves_no_tmp(tmp_path):
    """The reported case, as a real process: SIGTERM while surgeon works on a model with a large weight."""
    _big_fold_model(tmp_path / "m.onnx")
    before = digest(tmp_path / "m.onnx")
    proc = subprocess.Popen([sys.executable, "-m", "trtlab", "surgeon", "m.onnx", "--fold-constants", "-o",
                             "o.onnx", "-q"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not list(tmp_path.glob("*.tmp")) \
            and not (tmp_path / "trtlab-runs").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 143), err.decode()
    assert not temp_files(tmp_path), temp_files(tmp_path)
    assert digest(tmp_path / "m.onnx") == before
    if proc.returncode:
        assert not (tmp_path / "o.onnx").exists() or complete(tmp_path / "o.onnx")


def _trtlab(args, cwd) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "trtlab", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def test_two_processes_one_out(tmp_path):
    """The second run on a folder in use is refused (exit 2); the folder holds the first run's files only."""
    (tmp_path / "m.onnx").write_bytes(M.base_bytes("add"))
    (tmp_path / "slow.py").write_text("import os, time, numpy as np\ndef load():\n    t = time.time()\n"
                                      "    while not os.path.exists('release') and time.time() - t < 60:\n"
                                      "        time.sleep(0.02)\n    yield {'x': np.ones((1, 4), np.float32)}\n")
    a = _trtlab(["compare", "m.onnx", "--target", "onnxrt:fp16", "--data-loader-script", "slow.py:load",
                 "--out", "run", "-q"], tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / ".trtlab.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    b = _trtlab(["compare", "m.onnx", "--target", "onnxrt:bf16", "--out", "run", "--save-outputs", "-q"], tmp_path)
    _, err_b = b.communicate(timeout=120)
    (tmp_path / "release").touch()
    _, err_a = a.communicate(timeout=120)
    assert a.returncode == 0, err_a.decode()
    assert b.returncode == 2, err_b.decode()
    assert "in use" in err_b.decode() and err_b.decode().count("error:") == 1
    import json

    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "onnxrt:fp16" in res["argv"]
    assert not list((tmp_path / "run").glob("*_outputs.npz"))  # nothing of the refused run
    assert not (tmp_path / "run" / ".trtlab.lock").exists()


@pytest.mark.slow
def test_two_processes_race(tmp_path):
    """Started together: each ends 0 or 2 (never mixed), and results.json and report.html are of one run."""
    (tmp_path / "m.onnx").write_bytes(M.base_bytes("add"))
    procs = [_trtlab(["compare", "m.onnx", "--target", t, "--out", "run", "-q"], tmp_path)
             for t in ("onnxrt:fp16", "onnxrt:bf16")]
    codes = [p.wait(timeout=120) for p in procs]
    assert sorted(codes) in ([0, 0], [0, 2]), codes
    import json

    res = json.loads((tmp_path / "run" / "results.json").read_text())
    html = (tmp_path / "run" / "report.html").read_text()
    assert res["target"]["spec"] if isinstance(res.get("target"), dict) else True
    winner = "onnxrt:fp16" if "onnxrt:fp16" in res["argv"] else "onnxrt:bf16"
    assert winner in html
