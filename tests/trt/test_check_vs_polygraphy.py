"""`trtlab check` and `polygraphy inspect capability` on the same module agree, side by side."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_model
from trtlab.model import load_model
from trtlab.trt.check import run_check

MODELS = ["mnist_opt", "poly_capability", "poly_custom_op_node", "poly_loop", "poly_nonzero",
          "poly_nested_local_function", "poly_toy_subgraph", "super_resolution"]
ROW = re.compile(r"In node (-?\d+) with name: (.*?) and operator: ")


def polygraphy_capability(model: Path, trt_name: str, tmp: Path) -> tuple[bool, set[int]]:
    exe = Path(sys.executable).with_name("polygraphy")
    if not exe.exists() and not shutil.which("polygraphy"):
        pytest.skip("polygraphy is not installed (pip install 'trtlab[dev]')")
    env = dict(os.environ, COLUMNS="400")
    if trt_name == "tensorrt_rtx":
        env["POLYGRAPHY_USE_TENSORRT_RTX"] = "1"
    proc = subprocess.run([str(exe if exe.exists() else "polygraphy"), "inspect", "capability", str(model),
                           "-o", str(tmp)], capture_output=True, text=True, env=env, timeout=120, check=False)
    text = proc.stdout + proc.stderr
    if "fully supported" in text:
        return True, set()
    nodes = {int(m.group(1)) for m in ROW.finditer(text) if int(m.group(1)) >= 0}
    assert nodes or proc.returncode, text[-2000:]
    return False, nodes


@pytest.mark.parametrize("name", MODELS)
def test_same_verdict_and_nodes_as_polygraphy(trt, tmp_path, name):
    path = shared_model(f"{name}.onnx")
    ours = run_check(trt, load_model(path))
    parseable, nodes = polygraphy_capability(path, trt.name, tmp_path / "poly")
    assert ours.parseable == parseable
    assert {n.index for n in ours.failing} == nodes
