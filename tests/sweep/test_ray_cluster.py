"""A two-node Ray cluster on one machine (Ray's own multi-node test utility): a head, and a worker offering a
custom resource that stands for a GPU type. Cells that ask for that resource run only on that node; a cell asking
for a resource no node offers is reported (infra), never left waiting."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_tasks_asking_for_a_gpu_type_run_only_on_that_node(tmp_path):
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=1, resources={"gpu_h200": 1})
        cluster.wait_for_nodes()
        spec = tmp_path / "sweep.yaml"
        spec.write_text("models: [example:tinycnn]\n"
                        "axes: {target: [onnxrt:fp16, onnxrt:bf16]}\n"
                        "tasks:\n"
                        "  - name: on-h200\n    command: compare --target {target}\n"
                        "    resources: {cpus: 1, custom: {gpu_h200: 1}}\n"
                        "  - name: anywhere\n    command: check\n"
                        "  - name: nowhere\n    command: check\n    resources: {custom: {gpu_b200: 1}}\n")
        proc = subprocess.run([sys.executable, "-m", "trtlab", "sweep", str(spec), "--executor", "ray",
                               "--address", cluster.address, "--out", str(tmp_path / "sw"), "--json"],
                              capture_output=True, text=True, timeout=600)
        summary = json.loads(proc.stdout)
        by_task = {}
        for c in summary["cells"]:
            by_task.setdefault(c["task"], []).append(c)
        assert len(by_task["on-h200"]) == 2
        assert all(c["node"] == worker.node_id and c["verdict"] == "pass" for c in by_task["on-h200"])
        assert by_task["anywhere"][0]["verdict"] == "pass"
        nowhere = by_task["nowhere"][0]
        assert nowhere["verdict"] == "infra" and "gpu_b200" in nowhere["message"]
        assert proc.returncode == 1  # not every cell passed
    finally:
        cluster.shutdown()
