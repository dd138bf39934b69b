"""Shared fixtures: real models from ../shared/models, and running the CLI in-process or as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(os.environ.get("TRTLAB_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def shared_model(name: str) -> Path:
    """Path of a model in ../shared/models; skip the test (with the reason) when it is not there."""
    path = SHARED_MODELS / name
    if not path.exists():
        pytest.skip(f"{path} not present (the shared model set lives next to the checkout)")
    return path


@pytest.fixture
def model_copy(tmp_path):
    """Copy a shared model (and its external data folder) into tmp_path, so tests never touch the originals."""

    def _copy(name: str) -> Path:
        src = shared_model(name)
        if src.parent != SHARED_MODELS:  # a model inside its own folder (external data)
            dst_dir = tmp_path / src.parent.name
            shutil.copytree(src.parent, dst_dir, dirs_exist_ok=True)
            return dst_dir / src.name
        dst = tmp_path / src.name
        shutil.copy(src, dst)
        return dst

    return _copy


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run ``trtlab ARGS`` in-process (cwd = tmp_path) and return code, stdout, stderr."""
    from trtlab.cli.main import main

    def _run(*args: str, cwd: Path | None = None) -> CliResult:
        monkeypatch.chdir(cwd or tmp_path)
        monkeypatch.setattr(sys, "argv", ["trtlab", *args])
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run


def run_subprocess(args: list[str], cwd: Path, timeout: int = 300) -> CliResult:
    """Run a shell-level command (as a user would type it) with the venv's PATH."""
    env = dict(os.environ, COLUMNS="200")
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
