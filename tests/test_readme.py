"""The README's Quick start is what CI runs, and its main command works as written."""

import json
import re
import shlex

from tests.conftest import ROOT, run_subprocess


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_three_commands_and_ci_runs_them():
    setup, main_job, tests = _quick_start()
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup in ci.splitlines(), "the setup command in .ci/run must match README's"
    assert tests in ci.splitlines(), "the test command in .ci/run must match README's"
    assert main_job.startswith("trtlab ")


def test_quick_start_main_job_runs(tmp_path):
    _, main_job, _ = _quick_start()
    r = run_subprocess(shlex.split(main_job), cwd=tmp_path)
    assert r.code == 0, r
    assert "PASSED" in r.out, r.out
    assert re.search(r"layers: \d+ compared, \d+ out of tolerance", r.out), r.out
    runs = list((tmp_path / "trtlab-runs").iterdir())
    assert len(runs) == 1
    res = json.loads((runs[0] / "results.json").read_text())
    assert res["schema"] == "trtlab.compare/1" and res["layers"] and res["passed"] is True
    assert (runs[0] / "report.html").exists() and (runs[0] / "inputs.npz").exists()


def test_readme_commands_exist():
    from trtlab.cli.main import COMMANDS

    text = (ROOT / "README.md").read_text()
    for name in COMMANDS:
        assert f"trtlab {name}" in text, f"README does not document `trtlab {name}`"
