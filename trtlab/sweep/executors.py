"""Executors: where cells run. ``local`` is a pool of ``--jobs`` child processes on this machine; ``ray`` submits
each cell as a Ray task asking for the cell's resources (CPUs, GPUs, ``accelerator_type`` for a GPU type, custom
resources), on a local Ray instance or a cluster (``ray://HOST:PORT`` or ``auto``).

On Ray the model files travel through the object store and the run directory comes back as a tar archive, so
workers need no shared storage. An executor failure (a worker or node lost, a child that could not start) is
retried up to ``retries`` times; a command's own verdict never is.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from trtlab.errors import TrtlabError, UnavailableError
from trtlab.sweep.cell import CellResult, execute
from trtlab.sweep.spec import Cell

RAY_HINT = 'pip install -e ".[ray]"'


def cell_json(cell: Cell) -> dict:
    return {"key": cell.key, "id": cell.id, "model": cell.model.arg, "model_sha256": cell.model.sha256,
            "task": cell.task, "argv": cell.argv, "axes": cell.axes, "env": cell.env}


def infra_result(cell: Cell, message: str, attempts: int) -> CellResult:
    return CellResult(key=cell.key, id=cell.id, model=cell.model.arg, model_sha256=cell.model.sha256,
                      task=cell.task, command=["trtlab", *cell.argv], axes=cell.axes, exit_code=None,
                      verdict="infra", seconds=0.0, message=message[:400], attempts=attempts)


class LocalExecutor:
    name = "local"

    def __init__(self, sweep_dir: Path, jobs: int, timeout: float, retries: int = 0):
        self.dir, self.jobs, self.timeout, self.retries = Path(sweep_dir).absolute(), max(1, jobs), timeout, retries

    def run(self, cells: list[Cell], on_start: Callable[[Cell], None]) -> Iterator[CellResult]:
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            pending = {}
            queue = list(cells)

            def submit(cell, attempt):
                on_start(cell)
                fut = pool.submit(execute, cell_json(cell), str(self.dir / "runs" / cell.id), cell.model.arg,
                                  self.timeout, str(self.dir / "logs" / f"{cell.id}.log"))
                pending[fut] = (cell, attempt)

            while queue and len(pending) < self.jobs:
                submit(queue.pop(0), 1)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    cell, attempt = pending.pop(fut)
                    try:
                        res = CellResult.from_json(fut.result())
                        res.attempts = attempt
                        yield res
                    except OSError as exc:  # the child could not start: not the command's verdict
                        if attempt <= self.retries:
                            submit(cell, attempt + 1)
                            continue
                        yield infra_result(cell, f"{type(exc).__name__}: {exc}", attempt)
                    if queue:
                        submit(queue.pop(0), 1)

    def close(self):
        pass


def _ray_cell(payload: dict, files: list, timeout: float) -> tuple[dict, bytes]:
    """On a Ray worker: write the shipped model files, run the cell, return its result and run dir as a tar."""
    with tempfile.TemporaryDirectory(prefix="trtlab-sweep-") as tmp:
        tmp = Path(tmp)
        model_arg = payload["model"]
        for i, (name, data) in enumerate(files):
            dest = tmp / "model" / Path(name).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            if i == 0:
                model_arg = str(dest)
        run_dir, log = tmp / "run", tmp / "cell.log"
        res = execute(payload, str(run_dir), model_arg, timeout, str(log))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            if run_dir.exists():
                tar.add(run_dir, arcname="run")
            if log.exists():
                tar.add(log, arcname="cell.log")
        return res, buf.getvalue()


class RayExecutor:
    name = "ray"

    def __init__(self, sweep_dir: Path, jobs: int, timeout: float, retries: int = 0, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise UnavailableError("--executor ray", "Ray is not installed", RAY_HINT) from None
        self.ray, self.dir, self.timeout, self.retries = ray, Path(sweep_dir).absolute(), timeout, retries
        self.jobs = jobs
        try:
            if address:
                ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
            else:
                ray.init(num_cpus=max(1, jobs), include_dashboard=False, log_to_driver=False,
                         ignore_reinit_error=True)
        except Exception as exc:
            raise TrtlabError(f"--executor ray{'://' + address if address else ''}",
                              f"cannot start or join Ray ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                              "check the address, or use --executor local") from None
        self.remote = ray.remote(max_retries=0)(_ray_cell)
        self._blobs: dict[str, list] = {}

    def _files(self, cell: Cell):
        if cell.model.arg not in self._blobs:
            files = [(f, Path(f).read_bytes()) for f in cell.model.files]
            self._blobs[cell.model.arg] = self.ray.put(files)
        return self._blobs[cell.model.arg]

    def _submit(self, cell: Cell):
        r = cell.resources
        opts = {"num_cpus": r.cpus, "num_gpus": r.gpus}
        if r.custom:
            opts["resources"] = dict(r.custom)
        if r.gpu_type:
            opts["accelerator_type"] = r.gpu_type
        return self.remote.options(**opts).remote(cell_json(cell), self._files(cell), self.timeout)

    def _unpack(self, cell: Cell, blob: bytes) -> None:
        import shutil

        run_dir, log = self.dir / "runs" / cell.id, self.dir / "logs" / f"{cell.id}.log"
        shutil.rmtree(run_dir, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=self.dir) as tmp, tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
            if (Path(tmp) / "run").exists():
                run_dir.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(Path(tmp) / "run"), run_dir)
            if (Path(tmp) / "cell.log").exists():
                log.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(Path(tmp) / "cell.log"), log)

    def missing(self, cell: Cell) -> list[str]:
        """Resources the cell asks for that no node of the cluster offers (such a task would wait forever)."""
        have = self.ray.cluster_resources()
        r = cell.resources
        want = dict(r.custom)
        if r.gpus:
            want["GPU"] = r.gpus
        if r.gpu_type:
            want[f"accelerator_type:{r.gpu_type}"] = 0.001
        return [f"{k}={v:g}" for k, v in want.items() if have.get(k, 0) < v]

    def run(self, cells: list[Cell], on_start: Callable[[Cell], None]) -> Iterator[CellResult]:
        pending = {}
        for cell in cells:
            on_start(cell)
            lacking = self.missing(cell)
            if lacking:
                yield infra_result(cell, f"no Ray node offers {', '.join(lacking)}", 1)
                continue
            pending[self._submit(cell)] = (cell, 1)
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                cell, attempt = pending.pop(ref)
                try:
                    res_json, blob = self.ray.get(ref)
                except self.ray.exceptions.RayError as exc:  # worker or node lost: infrastructure
                    if attempt <= self.retries:
                        pending[self._submit(cell)] = (cell, attempt + 1)
                        continue
                    yield infra_result(cell, f"{type(exc).__name__}: {' '.join(str(exc).split())}", attempt)
                    continue
                self._unpack(cell, blob)
                res = CellResult.from_json(res_json)
                res.run_dir, res.attempts = str(self.dir / "runs" / cell.id), attempt
                yield res
            if not done:
                time.sleep(0.05)

    def close(self):
        self.ray.shutdown()


def make_executor(kind: str, sweep_dir: Path, jobs: int, timeout: float, retries: int, address: str | None):
    if kind == "local":
        return LocalExecutor(sweep_dir, jobs, timeout, retries)
    if kind == "ray" or kind.startswith("ray://"):
        addr = address or (kind if kind.startswith("ray://") else None)
        return RayExecutor(sweep_dir, jobs, timeout, retries, addr)
    raise TrtlabError(f"--executor {kind}", "unknown executor", "use local, ray or ray://HOST:PORT")
