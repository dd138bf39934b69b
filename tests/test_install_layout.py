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


def _wheel(folder: Path, name: str, version: str, providers: list[str]) -> Path:
    """A minimal wheel installing ``onnxruntime/__init__.py`` (as both real flavours do), listing ``providers``."""
    import zipfile

    dist = f"{name.replace('-', '_')}-{version}"
    files = {"onnxruntime/__init__.py": f"__version__ = {version!r}\n"
                                        f"def get_available_providers():\n    return {providers!r}\n",
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: trtlab-tests\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in files) + f"{dist}.dist-info/RECORD,,\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for arc, text in files.items():
            z.writestr(arc, text)
    return path


def _providers(python: Path) -> list[str]:
    r = subprocess.run([str(python), "-c", "import onnxruntime as o; print(','.join(o.get_available_providers()))"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().split(",")


def _venv(path: Path, with_pip: bool) -> Path:
    args = [sys.executable, "-m", "venv", str(path)] + ([] if with_pip else ["--without-pip"])
    subprocess.run(args, check=True, timeout=300, capture_output=True)
    return path / "bin" / "python"


@pytest.mark.slow
def test_mixed_flavours_break_cuda_and_the_printed_fix_repairs_it(tmp_path):
    """Real pip, two flavours over one folder (stand-in wheels of the two names): the second install's files win
    (what a base dependency on onnxruntime did to `pip install .[gpu]`); doctor names it; its fix, typed as
    printed, leaves the GPU flavour alone."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    gpu = _wheel(wheels, "onnxruntime-gpu", "1.31.1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    cpu = _wheel(wheels, "onnxruntime", "1.32.0", ["CPUExecutionProvider"])
    python = _venv(tmp_path / "venv", with_pip=True)
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONSTRAINT": ""}
    for whl in (gpu, cpu):
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(whl)], check=True, env=offline,
                       timeout=300, capture_output=True)
    assert _providers(python) == ["CPUExecutionProvider"]  # the bug
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from trtlab.trt.doctor import _onnxruntime; "
             "c = _onnxruntime()[0]; print(c.ok, c.hint, sep='\\n')")
    ok, hint = subprocess.run([str(python), "-c", probe, str(ROOT)], capture_output=True, text=True, timeout=120,
                              check=True).stdout.strip().split("\n")
    assert ok == "False"
    fix = hint.removeprefix("keep one: ").split(" (for the CPU")[0]
    assert fix == (f"{python} -m pip uninstall -y onnxruntime onnxruntime-gpu && "
                   f"{python} -m pip install onnxruntime-gpu==1.31.1")
    for part in fix.split(" && "):
        subprocess.run(shlex.split(part), check=True, timeout=300, capture_output=True, env=offline)
    assert _providers(python) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.slow
def test_fresh_venv_from_readme_gpu_command_lists_cuda(tmp_path):
    """The resolver's answer for the README GPU command holds onnxruntime-gpu and not onnxruntime, and that
    onnxruntime-gpu, in a fresh venv, lists CUDAExecutionProvider (no GPU needed). The venv gets the wheels the
    resolver chose that `import onnxruntime` needs (cached between runs under ~/.cache/trtlab-tests/wheels)."""
    command = _readme_command("GPU setup")
    extras = ",".join(sorted(_extras(command)))
    report = tmp_path / "report.json"
    _pip("install", "--dry-run", "-q", "--ignore-installed", "--report", str(report), "-e", f"{ROOT}[{extras}]")
    chosen = {i["metadata"]["name"].lower(): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    assert "onnxruntime-gpu" in chosen and "onnxruntime" not in chosen, chosen
    cache = Path(os.environ.get("TRTLAB_TEST_WHEELS", Path.home() / ".cache" / "trtlab-tests" / "wheels"))
    pins = [f"{n}=={chosen[n]}" for n in ("onnxruntime-gpu", "numpy", "protobuf", "flatbuffers", "packaging")]
    _pip("download", "-q", "--no-deps", "-d", str(cache), *pins)
    python = _venv(tmp_path / "venv", with_pip=False)
    _pip("--python", str(python), "install", "-q", "--no-deps", "--no-compile", *pins,
         env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(cache), "PIP_CONSTRAINT": ""})
    assert "CUDAExecutionProvider" in _providers(python)
