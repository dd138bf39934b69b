"""A partition on disk: one standalone ONNX model per segment plus ``partition.json``, written atomically.

The folder is built next to its final place (``.DIR.tmp-*``) and renamed into place only when every segment
is written and read back, so a failure never leaves half a partition. An existing partition folder (one that
holds partition.json) is replaced; any other non-empty folder is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import onnx

from trtlab.errors import TrtlabError
from trtlab.partition.boundary import Typing, type_tensors
from trtlab.partition.plan import PARTITION_JSON, SCHEMA_DIR, Partition, segment_model


def _dtype_name(elem: int | None) -> str | None:
    if not elem:
        return None
    return onnx.TensorProto.DataType.Name(elem).lower()


def tensor_entry(name: str, fact, producer: dict[str, int | str], typing: Typing | None = None) -> dict:
    elem, dims = fact if fact else (None, None)
    entry = {"name": name, "dtype": _dtype_name(elem), "shape": dims, "from": producer.get(name, "initializer")}
    source = typing.source(name) if typing else None
    return entry | ({"typed": source} if source else {})


def describe(model: onnx.ModelProto, part: Partition, types: dict, sha256: str | None = None,
             typing: Typing | None = None) -> dict:
    """partition.json: segments in order, backends, boundary tensors (with ``typed`` where a type is assumed), and
    why each fallback node is there."""
    from trtlab.passes.base import main_opset

    producer: dict[str, int | str] = {n: "graph input" for n in part.graph_inputs}
    segments = []
    for seg in part.segments:
        ids = seg.node_ids
        segments.append({
            "index": seg.index, "file": seg.file, "backend": seg.backend, "supported": seg.supported,
            "nodes": [min(ids), max(ids)], "node_ids": ids, "node_count": len(ids),
            "node_names": [part.support[i].name for i in ids],
            "ops": sorted({part.support[i].op for i in ids}),
            "inputs": [tensor_entry(n, types.get(n), producer, typing) for n in seg.inputs],
            "outputs": [tensor_entry(n, types.get(n), {}, typing) | {"from": seg.index} for n in seg.outputs],
            "parse": seg.parse,
        })
        for o in seg.outputs:
            producer[o] = seg.index
    seg_of = {i: seg.index for seg in part.segments for i in seg.node_ids}
    unsupported = [{"index": s.index, "name": s.name, "op": s.op, "domain": s.domain or "ai.onnx",
                    "segment": seg_of.get(s.index), "reason": s.reason, "source": s.source, "hint": s.hint}
                   for s in part.support if not s.supported]
    untyped = sorted({t["name"] for s in segments for t in s["inputs"] + s["outputs"] if not t["dtype"]})
    notes = list(part.notes)
    if typing:
        notes += typing.notes([t["name"] for s in segments for t in s["inputs"] + s["outputs"]])
    if untyped:
        notes.append(f"{len(untyped)} boundary tensor(s) could not be typed (shape inference and onnxruntime both "
                     f"failed, and nothing else told): {', '.join(untyped[:10])}")
    return {
        "schema": SCHEMA_DIR,
        "model": {"name": model.graph.name, "nodes": len(model.graph.node), "opset": main_opset(model),
                  "sha256": sha256},
        "support_source": part.source,
        "prediction": part.source == "prediction",
        "inputs": [tensor_entry(n, types.get(n), {n: "graph input"}) for n in part.graph_inputs
                   if n not in {t.name for t in model.graph.initializer}],
        "outputs": [tensor_entry(n, types.get(n), producer) for n in part.graph_outputs],
        "segments": segments,
        "unsupported": unsupported,
        "notes": notes,
    }


def write_dir(out_dir: Path, model: onnx.ModelProto, part: Partition, feeds: dict | None = None,
              sha256: str | None = None) -> dict:
    """Write every segment and partition.json into ``out_dir`` atomically; return the partition.json content.
    ``sha256`` is the source model's identity (``trtlab.model.model_sha256``: its .onnx file's), recorded so that
    ``hybrid:DIR`` refuses to stand in for another model; None where it is not known (the pipeline pass, which
    sees the model as earlier passes left it)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and
                                                      not (out_dir / PARTITION_JSON).exists())):
        raise TrtlabError(f"-o {out_dir}", "exists and is not an earlier partition folder",
                          "choose a new folder (it is created), or an earlier --isolate-unsupported output")
    names = [n for s in part.segments for n in s.inputs + s.outputs] + part.graph_inputs + part.graph_outputs
    typing = type_tensors(model, names, feeds)
    types = typing.facts
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        from trtlab.model import save_model

        for seg in part.segments:
            seg.file = f"seg{seg.index:02d}_{seg.backend}.onnx"
            # a fallback segment's outputs are left for its runtime to type where the type is only assumed (its
            # kernel knows better; a wrong declaration would refuse the model): the TensorRT segment that reads
            # one keeps the assumption, and hybrid:DIR checks it against the arrays
            own = types if seg.supported else types | {o: None for o in seg.outputs if o in typing.assumed}
            save_model(segment_model(model, seg, own), tmp / seg.file)
        info = describe(model, part, types, sha256, typing)
        (tmp / PARTITION_JSON).write_text(json.dumps(info, indent=1) + "\n")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _swap_in(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_dir(path) -> tuple[dict, list[onnx.ModelProto]]:
    """partition.json and the segment models, checked for a valid schedule."""
    path = Path(path)
    pj = path / PARTITION_JSON
    if not pj.is_file():
        raise TrtlabError(path, "not a partition folder (no partition.json)",
                          "write one with `trtlab surgeon MODEL --isolate-unsupported -o DIR`")
    try:
        info = json.loads(pj.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtlabError(pj, f"not valid JSON ({exc})", "rewrite the partition folder") from None
    if str(info.get("schema", "")).split("/")[0] != SCHEMA_DIR.split("/")[0]:
        raise TrtlabError(pj, f"not a trtlab partition (schema {info.get('schema')!r})",
                          "write one with `trtlab surgeon MODEL --isolate-unsupported -o DIR`")
    models = []
    available = {t["name"] for t in info.get("inputs", [])}
    for seg in info["segments"]:
        f = path / seg["file"]
        if not f.is_file():
            raise TrtlabError(f, "segment file missing", "rewrite the partition folder")
        missing = [t["name"] for t in seg["inputs"] if t["name"] not in available]
        if missing:
            raise TrtlabError(pj, f"segment {seg['index']} reads {', '.join(missing)} before any segment produces it",
                              "rewrite the partition folder (the segment order was edited)")
        available.update(t["name"] for t in seg["outputs"])
        models.append(onnx.load(str(f)))
    return info, models
