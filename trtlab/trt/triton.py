"""A Triton model repository for a built engine: ``DIR/<name>/1/model.plan`` and ``DIR/<name>/config.pbtxt``.

Batching: when every input and output has a dynamic first dimension and the first profile bounds it, the config
uses ``max_batch_size`` = that bound and lists dims without the batch dimension; otherwise ``max_batch_size: 0``
with full dims.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from trtlab.errors import TrtlabError

TRITON_TYPES = {"FLOAT": "TYPE_FP32", "HALF": "TYPE_FP16", "BF16": "TYPE_BF16", "INT8": "TYPE_INT8",
                "UINT8": "TYPE_UINT8", "INT32": "TYPE_INT32", "INT64": "TYPE_INT64", "BOOL": "TYPE_BOOL"}


def model_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip("._") or "model"
    return name


def max_batch(inputs: list[dict], outputs: list[dict], profiles: list[dict]) -> int:
    tensors = inputs + outputs
    if not tensors or not profiles or any(not t["shape"] or t["shape"][0] != -1 for t in tensors):
        return 0
    first = profiles[0]
    bounds = [first[t["name"]]["max"][0] for t in inputs if t["name"] in first]
    return min(bounds) if bounds else 0


def _entry(t: dict, batch: int) -> str:
    dtype = TRITON_TYPES.get(t["dtype"])
    if dtype is None:
        raise TrtlabError(f"tensor '{t['name']}'", f"type {t['dtype']} has no Triton equivalent",
                          "build without --triton-repo, or cast the tensor in the model")
    dims = t["shape"][1:] if batch else t["shape"]
    return (f"  {{\n    name: \"{t['name']}\"\n    data_type: {dtype}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}")


def config_pbtxt(name: str, inputs: list[dict], outputs: list[dict], profiles: list[dict]) -> str:
    batch = max_batch(inputs, outputs, profiles)
    lines = [f'name: "{name}"', 'platform: "tensorrt_plan"', f"max_batch_size: {batch}",
             "input [\n" + ",\n".join(_entry(t, batch) for t in inputs) + "\n]",
             "output [\n" + ",\n".join(_entry(t, batch) for t in outputs) + "\n]"]
    return "\n".join(lines) + "\n"


def write_repo(repo: str | Path, name: str, engine_path: Path, inputs: list[dict], outputs: list[dict],
               profiles: list[dict]) -> Path:
    from trtlab.rundir import atomic_write_text

    model_dir = Path(repo) / model_name(name)
    text = config_pbtxt(model_name(name), inputs, outputs, profiles)  # raises before anything is written
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    tmp = model_dir / "1" / ".model.plan.tmp"
    shutil.copyfile(engine_path, tmp)
    tmp.replace(model_dir / "1" / "model.plan")
    atomic_write_text(model_dir / "config.pbtxt", text)
    return model_dir
