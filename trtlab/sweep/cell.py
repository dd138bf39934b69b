"""Run one sweep cell: ``python -m trtlab ...`` in a child process, its verdict read from the exit code.

The child is the isolation: a crash, a hang (timeout) or a MemoryError in one cell is that cell's verdict and the
sweep goes on. The verdict is exactly what the command alone would say (exit 0 pass, 1 fail, 2 error, 3
unavailable), so a sweep cell and the same command typed by hand agree. Key metrics come from the run's
results.json. This module is also what a Ray worker runs, so it imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

VERDICTS = {0: "pass", 1: "fail", 2: "error", 3: "unavailable", 4: "error", 130: "interrupted"}
LOG_TAIL = 400


@dataclass
class CellResult:
    key: str
    id: str
    model: str
    model_sha256: str
    task: str
    command: list[str]
    axes: dict
    exit_code: int | None
    verdict: str  # pass | fail | error | unavailable | crash | timeout | interrupted | infra
    seconds: float
    host: str = ""
    node: str = ""
    run_dir: str = ""
    metrics: dict = field(default_factory=dict)
    message: str = ""  # the last error line of the command, when it failed
    attempts: int = 1
    finished: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CellResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def verdict_of(code: int | None, timed_out: bool = False) -> str:
    if timed_out:
        return "timeout"
    if code is None:
        return "infra"
    if code < 0:
        return "crash"
    return VERDICTS.get(code, "crash" if code > 128 else "error")


def _die_with_parent():
    """Linux: the child gets SIGKILL when the sweep dies, so a killed sweep leaves no orphan writing a run dir."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def run_command(argv: list[str], env: dict, timeout: float, log_path: Path) -> tuple[int | None, bool, float]:
    """Run ``python -m trtlab ARGV`` with output to ``log_path``; (exit code, timed out, seconds)."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "trtlab", *argv], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=full_env, preexec_fn=_die_with_parent)
        try:
            code = proc.wait(timeout=timeout)
            return code, False, time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return proc.returncode, True, time.perf_counter() - t0
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def last_error(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("error:")]
    verdicts = [ln for ln in lines if ln.startswith(("FAILED", "NOT ", "CRASH"))]
    found = errors or verdicts or lines[-1:]
    return found[-1][:LOG_TAIL] if found else ""


def key_metrics(run_dir: Path) -> dict:
    """A few numbers per command from results.json (compare: worst output, the outputs whose reference proves little
    on the inputs used as ``weak_inputs``; surgeon: nodes; check: parseable)."""
    try:
        res = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(res, dict):
        return {}
    m = {"passed": res.get("passed")} if "passed" in res else {}
    outputs = res.get("outputs") if isinstance(res.get("outputs"), list) else []
    vals = [o for o in outputs if isinstance(o, dict)]
    if vals:
        abs_err = [o.get("max_abs") for o in vals if isinstance(o.get("max_abs"), (int, float))]
        cos = [o.get("cosine") for o in vals if isinstance(o.get("cosine"), (int, float))]
        if abs_err:
            m["max_abs"] = max(abs_err)
        if cos:
            m["min_cosine"] = min(cos)
    verdict = res.get("verdict") if isinstance(res.get("verdict"), dict) else {}
    weak = [w.get("tensor") for w in verdict.get("weak_inputs") or [] if isinstance(w, dict)]
    if weak:  # the reference is degenerate on these inputs: a pass here proves little (compare's own note)
        m["weak_inputs"] = weak
    fd = res.get("first_divergence")
    if isinstance(fd, dict) and fd.get("name"):
        m["first_divergence"] = fd["name"]
    passes = res.get("passes")
    if isinstance(passes, list) and passes and isinstance(passes[0], dict):
        m["nodes_before"], m["nodes_after"] = passes[0].get("nodes_before"), passes[-1].get("nodes_after")
    if "parseable" in res:
        m["parseable"] = res["parseable"]
    return {k: v for k, v in m.items() if v is not None}


def execute(cell_json: dict, run_dir: str, model_arg: str, timeout: float, log_path: str) -> dict:
    """Run one cell; returns ``CellResult.to_json()``. Called in the sweep process or on a Ray worker."""
    rd = Path(run_dir)
    argv = [a.replace("{model}", model_arg).replace("{run_dir}", str(rd)) for a in cell_json["argv"]]
    code, timed_out, secs = run_command(argv, cell_json.get("env") or {}, timeout, Path(log_path))
    verdict = verdict_of(code, timed_out)
    node = ""
    try:
        import ray

        if ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
    except Exception:
        pass
    return CellResult(key=cell_json["key"], id=cell_json["id"], model=cell_json["model"],
                      model_sha256=cell_json["model_sha256"], task=cell_json["task"], command=["trtlab", *argv],
                      axes=cell_json.get("axes") or {}, exit_code=code, verdict=verdict, seconds=round(secs, 3),
                      host=socket.gethostname(), node=node, run_dir=str(rd), metrics=key_metrics(rd),
                      message="" if verdict == "pass" else last_error(Path(log_path)),
                      finished=datetime.now().astimezone().isoformat(timespec="seconds")).to_json()
