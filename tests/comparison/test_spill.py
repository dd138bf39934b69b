"""Reference tensors parked on disk while the target runs: values back unchanged, graph outputs kept in memory,
nothing written below the limit, nothing left behind."""

from __future__ import annotations

import os

import numpy as np

from trtlab.comparison.spill import Spill


def test_large_layer_tensors_wait_on_disk_and_come_back_unchanged():
    rng = np.random.default_rng(0)
    values = {"out": rng.random((4, 4)).astype(np.float32), "a": rng.random((64, 64)).astype(np.float16),
              "b": np.arange(10, dtype=np.int64), "c": np.array(["x"], dtype=object)}
    expected = {k: v.copy() for k, v in values.items()}
    with Spill(limit=1) as spill:
        spill.park(values, keep={"out"})
        assert set(values) == {"out", "c"} and sorted(spill.names()) == ["a", "b"]
        folder = spill.folder
        for name in spill.names():
            got = spill.take(name)
            assert got.dtype == expected[name].dtype and np.array_equal(got, expected[name])
        assert spill.names() == [] and os.listdir(folder) == []
    assert not os.path.exists(folder)


def test_small_tensors_stay_in_memory():
    values = {"a": np.zeros((8, 8), np.float32)}
    with Spill() as spill:
        spill.park(values, keep=set())
        assert "a" in values and spill.folder is None


def test_a_layerwise_session_runs_without_an_arena():
    import onnxruntime as ort

    from trtlab.backends import parse_spec
    from trtlab.backends.onnxrt import MANY_EXPOSED, OnnxrtBackend

    backend = OnnxrtBackend(parse_spec("onnxrt"))
    backend.exposed = [f"t{i}" for i in range(MANY_EXPOSED + 1)]
    so = backend._session_options(ort)
    assert so.enable_cpu_mem_arena is False and so.enable_mem_pattern is False
    backend.exposed = ["y"]
    assert backend._session_options(ort).enable_cpu_mem_arena is True
