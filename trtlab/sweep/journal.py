"""The sweep journal: ``journal.jsonl``, one JSON line per finished cell, flushed and fsynced as it lands.

A killed sweep loses only the cells in flight; ``--resume`` reads the journal and skips every cell whose key
(model sha256 + command + requirements) already has a line. A line cut short by a kill is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from trtlab.sweep.cell import CellResult

JOURNAL = "journal.jsonl"
RETRY_ON_RESUME = {"infra", "interrupted"}  # not verdicts of the command: run again on --resume


class Journal:
    def __init__(self, sweep_dir: Path):
        self.path = Path(sweep_dir) / JOURNAL

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def append(self, result: CellResult) -> None:
        line = (json.dumps(result.to_json(), sort_keys=True, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[CellResult]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(data, dict) and "key" in data:
                out.append(CellResult.from_json(data))
        return out

    def latest(self) -> dict[str, CellResult]:
        return {r.key: r for r in self.read()}

    def done_keys(self) -> set[str]:
        return {k for k, r in self.latest().items() if r.verdict not in RETRY_ON_RESUME}
