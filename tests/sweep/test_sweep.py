"""`trtlab sweep` end to end on the local executor: verdicts equal the commands run alone, the journal has each
cell once, a SIGKILLed sweep resumes without rerunning finished cells, the summary page renders."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import shared_model
from trtlab.sweep.journal import Journal

MODELS = ("mnist_opt.onnx", "poly_add_infinity.onnx", "poly_const_foldable.onnx")


def sweep_cmd(tmp_path, *extra):
    models = [str(shared_model(m)) for m in MODELS]
    return [sys.executable, "-m", "trtlab", "sweep", *models, "--task", "compare --target onnxrt:fp16",
            "--task", "surgeon --fold-constants", "--out", str(tmp_path / "sw"), *extra]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def test_local_sweep_verdicts_equal_commands_alone(tmp_path):
    proc = run(sweep_cmd(tmp_path, "--jobs", "2", "--json"))
    summary = json.loads(proc.stdout)
    assert summary["schema"] == "trtlab.sweep/1" and len(summary["cells"]) == 6
    assert proc.returncode == (0 if summary["passed"] else 1)
    lines = Journal(tmp_path / "sw").read()
    assert sorted(r.key for r in lines) == sorted(c["key"] for c in summary["cells"])  # each cell once
    for r in lines:
        alone = tmp_path / "alone" / r.id
        argv = [a.replace(r.run_dir, str(alone)) for a in r.command[1:]]
        code = run([sys.executable, "-m", "trtlab", *argv]).returncode
        assert code == r.exit_code, (r.id, r.verdict)
    assert {r.verdict for r in lines} <= {"pass", "fail"}
    html = (tmp_path / "sw" / "report.html").read_text()
    assert "Models × configurations" in html and "mnist_opt" in html and "http" not in html.split("<body>")[1][:0]
    rebuilt = run([sys.executable, "-m", "trtlab", "report", str(tmp_path / "sw"), "--json"])
    assert rebuilt.returncode == 0 and json.loads(rebuilt.stdout)["schema"] == "trtlab.sweep/1"


def test_killed_sweep_resumes_without_rerunning_finished_cells(tmp_path):
    proc = subprocess.Popen(sweep_cmd(tmp_path, "--jobs", "1", "--quiet"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    journal = Journal(tmp_path / "sw")
    deadline = time.time() + 300
    while len(journal.read()) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = journal.read()
    assert 2 <= len(before) < 6, "the sweep should have been killed half way"
    stamps = {r.key: r.finished for r in before}
    again = run(sweep_cmd(tmp_path, "--jobs", "2", "--resume", "--json"))
    summary = json.loads(again.stdout)
    after = journal.read()
    assert len(after) == 6 and len({r.key for r in after}) == 6  # each cell once
    assert {r.key: r.finished for r in after if r.key in stamps} == stamps  # finished cells not rerun
    assert summary["skipped"] == len(before) and all(c["verdict"] != "not run" for c in summary["cells"])


def test_existing_sweep_needs_resume(tmp_path, cli):
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "journal.jsonl").write_text('{"key": "x"}\n')
    res = cli("sweep", "example:tinycnn", "--task", "check", "--out", str(tmp_path / "sw"))
    assert res.code == 2 and "--resume" in res.err and len(res.err.strip().splitlines()) == 1


def test_usage_errors(cli, tmp_path):
    res = cli("sweep", "example:tinycnn")
    assert res.code == 2 and "no --task" in res.err
    res = cli("sweep", "example:tinycnn", "--task", "check", "--executor", "slurm")
    assert res.code == 2 and "unknown executor" in res.err


def test_crash_and_timeout_are_verdicts_and_the_sweep_goes_on(tmp_path, monkeypatch):
    """A cell that hangs is a timeout; the others still run. (A sleeping data loader stands in for a hang.)"""
    loader = tmp_path / "slow.py"
    loader.write_text("import time\ndef feeds():\n    time.sleep(60)\n    yield {}\n")
    cmd = [sys.executable, "-m", "trtlab", "sweep", "example:tinycnn", "--task", "check",
           "--task", f"compare --target onnxrt:fp16 --data-loader-script {loader}:feeds",
           "--timeout", "15", "--out", str(tmp_path / "sw"), "--json", "--jobs", "2"]
    summary = json.loads(run(cmd).stdout)
    verdicts = {c["task"]: c["verdict"] for c in summary["cells"]}
    assert verdicts == {"check": "pass", "compare": "timeout"}


@pytest.mark.slow
def test_ray_executor_gives_the_same_verdicts(tmp_path):
    pytest.importorskip("ray")
    local = json.loads(run(sweep_cmd(tmp_path / "a", "--jobs", "2", "--json")).stdout)
    on_ray = json.loads(run(sweep_cmd(tmp_path / "b", "--jobs", "2", "--json", "--executor", "ray")).stdout)
    assert on_ray["executor"] == "ray"
    assert {c["key"]: c["verdict"] for c in on_ray["cells"]} == {c["key"]: c["verdict"] for c in local["cells"]}
    assert all((tmp_path / "b" / "sw" / c["run_dir"] / "results.json").exists() for c in on_ray["cells"])


@pytest.mark.parametrize("task,problem", [("compare --targt onnxrt:fp16", "unrecognized arguments: --targt"),
                                          ("compare --task detectoin", "invalid choice"),
                                          ("check --help", "asks for help")])
def test_task_flags_are_checked_before_any_cell_runs(cli, tmp_path, task, problem):
    res = cli("sweep", "example:tinycnn", "example:tinycnn", "--task", task, "--out", str(tmp_path / "sw"))
    assert res.code == 2 and problem in res.err and len(res.err.strip().splitlines()) == 1, res
    assert res.err.startswith("error: task '") and not (tmp_path / "sw" / "journal.jsonl").exists()


def test_ctrl_c_names_the_command_that_finishes_the_sweep(tmp_path):
    proc = subprocess.Popen(sweep_cmd(tmp_path, "--jobs", "1", "--quiet"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    journal = Journal(tmp_path / "sw")
    deadline = time.time() + 300
    while len(journal.read()) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    line = [x for x in err.splitlines() if x.startswith("error:")][-1]
    command = line.split("`")[1]
    assert command.startswith("trtlab sweep ") and command.endswith(" --resume")
    import shlex

    again = run([sys.executable, "-m", "trtlab", *shlex.split(command)[1:], "--json"])
    assert again.returncode in (0, 1), again.stderr
    assert len({r.key for r in journal.read()}) == 6
