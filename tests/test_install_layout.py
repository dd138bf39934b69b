"""One ONNX Runtime flavour per environment: the README's CPU setup installs `onnxruntime`, its GPU setup
`onnxruntime-gpu` (which lists the CUDA provider even without a GPU), and doctor names a mixed install with a fix
that works when typed."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLAVOUR = re.compile(r"^(onnxruntime|onnxruntime-gpu)\b")


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _readme_command(after: str) -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(re.escape(after) + r".*?```bash\n(.*?)\n", text, re.S).group(1).strip()


def _extras(command: str) -> set[str]:
    return set(re.search(r'-e "\.\[([^]]*)\]"', command).group(1).split(","))


def test_flavours_are_extras_and_readme_picks_one_each():
    project = _pyproject()["project"]
    assert not [d for d in project["dependencies"] if FLAVOUR.match(d)], "no flavour may be a base dependency"
    extras = project["optional-dependencies"]
    holders = {name: [d for d in deps if FLAVOUR.match(d)] for name, deps in extras.items()}
    assert holders.pop("cpu") == ["onnxruntime>=1.18"] and holders.pop("gpu")[0].startswith("onnxruntime-gpu")
    assert not any(holders.values()), f"only cpu/gpu may name a flavour: {holders}"
    cpu, gpu = _extras(_readme_command("## Quick start")), _extras(_readme_command("GPU setup"))
    assert "cpu" in cpu and "gpu" not in cpu and "gpu" in gpu and "cpu" not in gpu


def _fake_dist(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_doctor_names_a_mixed_install_and_the_fix(tmp_path, cli, monkeypatch):
    site = tmp_path / "site"
    _fake_dist(site, "onnxruntime", "1.32.0")  # one folder with both flavours' metadata
    _fake_dist(site, "onnxruntime-gpu", "1.31.1")
    monkeypatch.syspath_prepend(str(site))
    r = cli("doctor", "--for", "compare", "--json")
    assert r.code == 3
    check = next(c for c in json.loads(r.out)["checks"] if c["name"] == "onnxruntime")
    assert not check["ok"] and "2 flavours" in check["value"] and "onnxruntime-gpu 1.31.1" in check["value"]
    assert str(site) in check["value"]
    assert "-m pip uninstall -y onnxruntime onnxruntime-gpu" in check["hint"]
    assert "-m pip install onnxruntime-gpu==1.31.1" in check["hint"]


def _pip(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def _providers(python: Path) -> list[str]:
    r = subprocess.run([str(python), "-c", "import onnxruntime as o; print(','.join(o.get_available_providers()))"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().split(",")


@pytest.mark.slow
def test_fresh_venv_from_readme_gpu_command_lists_cuda(tmp_path):
    """The resolver's answer for the README GPU command holds onnxruntime-gpu and not onnxruntime; a fresh venv with
    that set's onnxruntime lists CUDAExecutionProvider (no GPU needed). Adding the CPU wheel reproduces the bug
    (CPU wins), and the fix doctor prints, typed as printed, brings CUDA back. Wheels are cached between runs."""
    command = _readme_command("GPU setup")
    extras = ",".join(sorted(_extras(command)))
    report = tmp_path / "report.json"
    _pip("install", "--dry-run", "-q", "--ignore-installed", "--report", str(report), "-e", f"{ROOT}[{extras}]")
    chosen = {i["metadata"]["name"].lower(): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    assert "onnxruntime-gpu" in chosen and "onnxruntime" not in chosen, chosen
    cache = Path(os.environ.get("TRTLAB_TEST_WHEELS", Path.home() / ".cache" / "trtlab-tests" / "wheels"))
    runtime = ["onnxruntime-gpu", "numpy", "protobuf", "flatbuffers", "packaging"]  # import-time needs of the gpu wheel
    pins = [f"{n}=={chosen[n]}" for n in runtime] + [f"onnxruntime=={chosen['onnxruntime-gpu']}"]
    _pip("download", "-q", "--no-deps", "-d", str(cache), *pins)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(cache), "PIP_CONSTRAINT": ""}
    _pip("--python", str(python), "install", "-q", "--no-deps", *pins[:-1], env=offline)
    assert "CUDAExecutionProvider" in _providers(python)
    # The bug this layout prevents: the CPU wheel over the GPU one (what a base dependency on onnxruntime did).
    _pip("--python", str(python), "install", "-q", "--no-deps", pins[-1], env=offline)
    assert "CUDAExecutionProvider" not in _providers(python)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from trtlab.trt.doctor import _onnxruntime; "
             "c = _onnxruntime()[0]; print(c.hint)")
    hint = subprocess.run([str(python), "-c", probe, str(ROOT)], capture_output=True, text=True, timeout=120,
                          check=True).stdout.strip()
    fix = hint.removeprefix("keep one: ").split(" (for the CPU")[0]
    assert fix.startswith(f"{python} -m pip uninstall -y onnxruntime onnxruntime-gpu && "), hint
    for part in fix.split(" && "):
        subprocess.run(shlex.split(part), check=True, timeout=600, capture_output=True,
                       env={**os.environ, **offline})
    assert "CUDAExecutionProvider" in _providers(python)
