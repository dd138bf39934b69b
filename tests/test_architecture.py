"""The direction `cli -> capabilities -> backends/passes/trt -> core` holds, checked by import-linter.

The contracts live in pyproject.toml ([tool.importlinter]). ``trtlab.passes``, ``trtlab.comparators`` and
``trtlab.reports`` are installed from top-level folders (package-dir), which import-linter cannot see through an
editable install, so the test lays the package out as it is installed (a copy in a temporary folder) and runs
``lint-imports`` there.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SIDE_PACKAGES = ("passes", "comparators", "reports")


def installed_layout(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "trtlab", dest / "trtlab", ignore=ignore)
    for name in SIDE_PACKAGES:
        shutil.copytree(ROOT / name, dest / "trtlab" / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_import_contracts_hold(tmp_path):
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (it comes with the dev extra)")
    root = installed_layout(tmp_path)
    proc = subprocess.run([exe, "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_a_violation_is_caught(tmp_path):
    """The contract can fail: a core module importing the CLI breaks it."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (it comes with the dev extra)")
    root = installed_layout(tmp_path)
    model = root / "trtlab" / "model.py"
    model.write_text(model.read_text() + "\nfrom trtlab.cli import common  # noqa\n")
    proc = subprocess.run([exe, "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)})
    assert proc.returncode != 0 and "trtlab.model" in proc.stdout
