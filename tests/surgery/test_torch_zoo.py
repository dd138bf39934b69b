"""surgeon on PyTorch exports (tests/models/torch_zoo.py): ``--fold-constants`` and ``--fold-constants --to-fp16``
pass their own verification on the architecture's example inputs, write a model the ONNX checker accepts, and the
written model, run again here, matches the original at the pass's tolerance (the FP16 model with half storage kept:
onnxruntime's CPU provider would otherwise compute it in FP32). Fast: two architectures; the corpus is slow."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.models import torch_zoo as zoo

pytestmark = pytest.mark.skipif(zoo.torch_version() is None, reason="torch is not installed (the dev extra has it)")

FAST = ["bert", "risky_layernorm"]
CASES = {"fold": (["fold-constants"], 1e-5, 1e-5), "fp16": (["fold-constants", "to-fp16"], 1e-3, 1e-2)}


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    from trtlab.precision import has_half, widen

    model = widen(model) if has_half(model) else model
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _check(tmp_path, name: str, case: str) -> None:
    from trtlab import api

    passes, atol, rtol = CASES[case]
    feeds = zoo.data(name)["input"]
    src = zoo.export(name)
    out = tmp_path / f"{name}.{case}.onnx"
    res = api.surgeon(str(src), passes, str(out), inputs=feeds, run_dir=str(tmp_path / "run"))
    assert res.passed, res.failure
    assert all(p.verified for p in res.passes), [(p.name, p.verified, p.notes) for p in res.passes]
    written = onnx.load(str(out))
    onnx.checker.check_model(written, full_check=True)
    for o, a, b in zip(zoo.arch(name).output_names, _run(onnx.load(str(src)), feeds), _run(written, feeds)):
        np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), atol=atol, rtol=rtol, err_msg=o)
    if case == "fp16":
        half = res.passes[-1]
        assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in written.graph.initializer), "nothing converted"
        if zoo.arch(name).fp16_broken:  # the overflow is found and kept in FP32, by name
            assert half.undone, "an overflowing FP16 conversion was verified"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", zoo.names(FAST))
def test_surgeon_on_torch_exports(tmp_path, name, case):
    _check(tmp_path, name, case)
