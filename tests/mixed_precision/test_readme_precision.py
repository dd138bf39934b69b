"""Every command of README's `debug precision` section runs as written (model.onnx: a planted-hazard model)."""

import re
import shlex
import shutil

import numpy as np
import onnx
import pytest

from tests.conftest import ROOT, shared_model
from tests.mixed_precision.hazards import planted_hazard_model


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## `trtlab debug precision")
    section = text[start:text.index("\n## ", start + 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.split("  #")[0].strip() for b in blocks for line in b.splitlines() if line.strip()]


@pytest.mark.slow
def test_readme_precision_commands_run(cli, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    cmds = _commands()
    assert len(cmds) == 6
    onnx.save(planted_hazard_model(harmless=16), str(tmp_path / "model.onnx"))
    qdir = tmp_path / "q"
    qdir.mkdir()
    shutil.copy(shared_model("mnist_opt.onnx"), qdir / "model.onnx")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"Input3": np.random.default_rng(i).uniform(0, 1, (1, 1, 28, 28)).astype(np.float32)}
                            for i in range(2)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(qdir / "model.onnx"), str(qdir / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    for cmd in cmds:
        args = shlex.split(cmd)[1:]
        qdq = "qdq.onnx" in cmd
        r = cli(*args, "-q", cwd=qdir if qdq else tmp_path) if "precision" in cmd else \
            cli(*args, "--no-report", cwd=qdir if qdq else tmp_path)
        must_pass = "precision" in cmd or "mixed.onnx" in cmd  # the mixed model meets the FP16 tolerances
        assert r.code in ((0,) if must_pass else (0, 1)), (cmd, r.err)  # compare may report a mismatch (1)
    assert (tmp_path / "mixed.onnx").exists()
