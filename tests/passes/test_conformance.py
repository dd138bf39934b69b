"""Conformance sweep (bench/conformance.py): models onnxruntime runs survive fold-constants, cleanup, to-fp16 and
to-bf16 (verified, or skipped with a reason), and ``trtlab check`` (in a child process) does not crash on them.

Fast: the wheel's ``simple`` and ``pytorch-operator`` test models (58, with their own inputs). Slow: every seventh
model of the 1,884 ONNX node conformance tests (the full sweep is ``python bench/conformance.py``, results in
docs/conformance-passes.md).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import numpy_helper

from bench.conformance import PASSES, check_all, ort_runs, sweep, sweep_pass

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def _wheel_cases() -> list[tuple[str, Path, dict]]:
    rows = []
    for folder in ("simple", "pytorch-operator"):
        for d in sorted((DATA / folder).iterdir()):
            model_path = d / "model.onnx"
            data = d / "test_data_set_0"
            if not model_path.exists() or not data.exists():
                continue
            model = onnx.load(model_path)
            names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
            tensors = sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            if len(tensors) != len(names):
                continue
            feeds = {n: numpy_helper.to_array(onnx.load_tensor(str(p))) for n, p in zip(names, tensors)}
            rows.append((d.name, model_path, feeds))
    return rows


CASES = _wheel_cases()


@pytest.mark.parametrize("name,path,feeds", CASES, ids=[c[0] for c in CASES])
def test_passes_survive_wheel_models(name, path, feeds):
    model = onnx.load(path)
    if ort_runs(model, feeds) is not None:
        pytest.skip("onnxruntime does not run it")
    for p in PASSES:
        status, detail = sweep_pass(model, feeds, p)
        assert status in ("ok", "skipped", "refused"), f"{p}: {detail}"
        if status != "ok":
            assert detail, f"{p} skipped without a reason"


def test_check_does_not_crash_on_wheel_models(tmp_path):
    import shutil

    paths = []
    for name, path, _feeds in CASES:
        paths.append(tmp_path / f"{name}.onnx")
        shutil.copy(path, paths[-1])
    answers = check_all(paths)
    assert set(answers) == {c[0] for c in CASES}
    assert not [k for k, (status, _d) in answers.items() if status == "crashed"]


@pytest.mark.slow
def test_conformance_sweep_sample():
    data = sweep(stride=7)
    rows = data["rows"]
    runnable = [r for r in rows if r["ort"] is None]
    assert len(runnable) > 180
    failed = [(r["name"], p, r["passes"][p][1]) for r in runnable for p in PASSES
              if r["passes"][p][0] == "failed"]
    assert not failed, failed[:5]
    unexplained = [(r["name"], p) for r in runnable for p in PASSES if r["passes"][p][0] in ("skipped", "refused")
                   and not r["passes"][p][1]]
    assert not unexplained
    crashed = [r["name"] for r in rows if r["check"][0] == "crashed"]
    assert len(crashed) <= 3, crashed
