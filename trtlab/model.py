"""Loading, checking and writing ONNX models.

- ``load_model`` reads a model (with external data, relative to the model's folder), turns every unreadable
  file into a ``TrtlabError`` with exit code 2, and records checker / shape-inference failures as warnings.
- ``save_model`` writes atomically: temp file, validate by re-reading, rename. It sets an ``ir_version`` that
  onnxruntime accepts and keeps external data for models over 2 GB.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import GraphProto, ModelProto, NodeProto

from trtlab.errors import TrtlabError

TWO_GB = 2**31
# onnxruntime 1.31 refuses IR versions above 13; onnx 1.23 writes IR 14 by default.
MAX_IR_VERSION = 13
MIN_IR_VERSION = 3


@dataclass
class LoadedModel:
    """A model and what trtlab learnt while loading it."""

    proto: ModelProto
    path: Path | None
    warnings: list[str] = field(default_factory=list)
    label: str | None = None  # a display name when the path says little (bundled examples)

    @property
    def name(self) -> str:
        return self.label or (self.path.stem if self.path else (self.proto.graph.name or "model"))


def load_model(path: str | os.PathLike, *, check: bool = True) -> LoadedModel:
    """Load an ONNX model from ``path``; raise TrtlabError (exit 2) when it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise TrtlabError(p, "file not found", "check the path; trtlab reads .onnx files")
    if p.is_dir():
        raise TrtlabError(p, "is a folder, not an ONNX file", "pass the path of the .onnx file inside it")
    if p.stat().st_size == 0:
        raise TrtlabError(p, "file is empty", "re-export the model")
    # The checker reads the file itself, before trtlab loads it: its copy of the model is gone again by then,
    # so a 440 MB model peaks at ~0.9 GB instead of ~1.3 GB (checking the loaded proto serializes it once more).
    checker_warnings = check_model_file(p) if check else []
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, truncated files, text files, ...
        raise TrtlabError(p, f"not a readable ONNX model ({_short(exc)})",
                          "the file is corrupt, truncated or not ONNX; re-export it") from None
    _check_not_garbage(proto, p)
    _load_external(proto, p)
    return LoadedModel(proto=proto, path=p, warnings=checker_warnings)


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_not_garbage(proto: ModelProto, p: Path) -> None:
    graph = proto.graph
    if not proto.opset_import and not graph.node and not graph.output:
        raise TrtlabError(p, "not an ONNX model (no graph, no opset imports)",
                          "pass an .onnx file exported by PyTorch, TensorFlow or onnx")
    if not graph.node:
        raise TrtlabError(p, "the graph has no nodes", "re-export the model; an empty graph cannot be run")
    if not graph.output:
        raise TrtlabError(p, "the graph declares no outputs", "re-export the model with its outputs")


def _external_locations(proto: ModelProto) -> list[str]:
    locations = []
    for tensor in _all_initializers(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location" and entry.value not in locations:
                    locations.append(entry.value)
    return locations


def _load_external(proto: ModelProto, p: Path) -> None:
    locations = _external_locations(proto)
    if not locations:
        return
    for loc in locations:
        if not (p.parent / loc).exists():
            raise TrtlabError(p, f"external data file '{loc}' is missing (expected next to the model, in {p.parent})",
                              "copy the data file next to the .onnx file, keeping its name")
    try:
        onnx.load_external_data_for_model(proto, str(p.parent))
    except Exception as exc:
        raise TrtlabError(p, f"external data could not be read ({_short(exc)})",
                          "the data file is truncated or does not belong to this model") from None


def check_model_file(path: Path) -> list[str]:
    """Run onnx.checker on a model file; return its complaint as a warning instead of failing (many real models
    fail the checker and still run). Unreadable files are left to the loader, which says what is wrong."""
    try:
        onnx.checker.check_model(str(path))
    except Exception as exc:
        return [f"onnx.checker: {_short(exc, 300)} (carrying on: many models that fail the checker still run)"]
    return []


def infer_shapes(proto: ModelProto) -> tuple[ModelProto, list[str]]:
    """Shape inference, strict first so the exact reason is reported, then lenient so work can go on."""
    warnings: list[str] = []
    if is_large(proto):
        return proto, ["shape inference skipped: model over 2 GB (inferred in place would need a file)"]
    try:
        return onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True), warnings
    except Exception as exc:
        warnings.append(f"shape inference (strict): {_short(exc, 300)}")
    try:
        return onnx.shape_inference.infer_shapes(proto, strict_mode=False, data_prop=True), warnings
    except Exception as exc:
        warnings.append(f"shape inference failed: {_short(exc, 300)}")
        return proto, warnings


def sane_ir_version(proto: ModelProto) -> int:
    """An IR version that matches the model's opset and that onnxruntime accepts (at most 13)."""
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=1)
    needed = MIN_IR_VERSION
    for _release, ir, ai_onnx, _ml, *_rest in onnx.helper.VERSION_TABLE:
        if ai_onnx >= opset:
            needed = ir
            break
    current = proto.ir_version or needed
    return max(MIN_IR_VERSION, min(max(current, needed), MAX_IR_VERSION))


def approx_size(proto: ModelProto) -> int:
    """Serialized size within a few bytes per tensor, without serializing (``ByteSize()`` takes seconds on a
    400 MB model and raises above 2 GB). Raw tensors count their payload, everything else its own ByteSize."""
    total = sum(f.ByteSize() for f in proto.functions) + 64
    for graph in walk_graphs(proto.graph):
        for t in graph.initializer:
            raw = len(t.raw_data)
            total += raw + len(t.name) + 8 + 2 * len(t.dims) if raw else t.ByteSize()
        total += sum(vi.ByteSize() for vi in list(graph.input) + list(graph.output) + list(graph.value_info))
    total += sum(_node_size(n) for n in proto.graph.node)
    return total


def _node_size(node: NodeProto) -> int:
    if any(True for _ in subgraphs(node)):
        return sum(len(a.name) + 8 for a in node.attribute) + sum(approx_size_graph(g) for g in subgraphs(node))
    return node.ByteSize()


def approx_size_graph(graph: GraphProto) -> int:
    return sum(_node_size(n) for n in graph.node) + sum(len(t.raw_data) or t.ByteSize() for t in graph.initializer)



def is_large(proto: ModelProto) -> bool:
    """Over protobuf's 2 GB limit: must be written with external data and handed to consumers as a file."""
    return approx_size(proto) > TWO_GB - 2**24


def model_sha256(model: LoadedModel) -> str | None:
    """The model's identity in results and provenance: sha256 of its .onnx file (what ``sha256sum`` prints);
    for a model built in memory, of its deterministic serialization (None above 2 GB)."""
    import hashlib

    digest = hashlib.sha256()
    if model.path and Path(model.path).is_file():
        with open(model.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    if is_large(model.proto):
        return None
    from trtlab.weights import materialize

    digest.update(materialize(model.proto).SerializeToString(deterministic=True))
    return digest.hexdigest()


def model_bytes(proto: ModelProto) -> bytes:
    """Serialize for an in-memory consumer (onnxruntime, a TensorRT parser) with a sane IR version."""
    proto.ir_version = sane_ir_version(proto)
    return proto.SerializeToString()


def save_model(proto: ModelProto, out: str | os.PathLike, *, external_data: bool | None = None) -> Path:
    """Write atomically: temp file next to ``out``, re-read to validate, rename over ``out``.

    ``external_data`` None means: automatic, on above 2 GB.
    """
    from trtlab.rundir import _file_mode, check_output_path

    out = check_output_path(out, flag="output")
    proto.ir_version = sane_ir_version(proto)
    if external_data is None:
        external_data = is_large(proto)
    mode = _file_mode(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise TrtlabError(out, f"cannot write here ({exc.strerror or exc})", "choose another location") from None
    os.close(fd)
    data_name = out.name + ".data"
    tmp_data = None
    try:
        if external_data:
            tmp_data = f".{data_name}.tmp"
            onnx.save_model(proto, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=tmp_data, size_threshold=0)
            _rename_external_location(tmp, tmp_data, data_name)
        else:
            onnx.save_model(proto, tmp)
        reread = onnx.load(tmp, load_external_data=False)
        if len(reread.graph.node) != len(proto.graph.node):
            raise TrtlabError(out, "written model does not read back identically", "report this as a trtlab bug",
                              code=4)
        if tmp_data and (out.parent / tmp_data).exists():  # no file when every tensor is under the size threshold
            os.chmod(out.parent / tmp_data, mode)
            os.replace(out.parent / tmp_data, out.parent / data_name)
        os.chmod(tmp, mode)
        os.replace(tmp, out)
        tmp_data = None
    finally:
        for leftover in (tmp, (out.parent / tmp_data) if tmp_data else None):
            if leftover and os.path.exists(leftover):
                os.unlink(leftover)
    if external_data:
        # onnx.save_model moved the weights out of the in-memory proto; point it at the final file, load them back.
        for tensor in _all_initializers(proto):
            for entry in tensor.external_data:
                if entry.key == "location" and entry.value == f".{data_name}.tmp":
                    entry.value = data_name
        onnx.load_external_data_for_model(proto, str(out.parent))
    return out


def _rename_external_location(model_file: str, old: str, new: str) -> None:
    proto = onnx.load(model_file, load_external_data=False)
    for tensor in _all_initializers(proto):
        for entry in tensor.external_data:
            if entry.key == "location" and entry.value == old:
                entry.value = new
    with open(model_file, "wb") as f:
        f.write(proto.SerializeToString())


# --- graph walking ---------------------------------------------------------------------------------------

def subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def walk_nodes(graph: GraphProto, depth: int = 0) -> Iterator[tuple[NodeProto, int]]:
    """Every node with its nesting depth (0 = main graph), subgraph bodies included."""
    for node in graph.node:
        yield node, depth
        for sub in subgraphs(node):
            yield from walk_nodes(sub, depth + 1)


def walk_graphs(graph: GraphProto) -> Iterator[GraphProto]:
    yield graph
    for node in graph.node:
        for sub in subgraphs(node):
            yield from walk_graphs(sub)


def _all_initializers(proto: ModelProto) -> Iterator[onnx.TensorProto]:
    for graph in walk_graphs(proto.graph):
        yield from graph.initializer


def initializer_names(graph: GraphProto) -> set[str]:
    return {t.name for t in graph.initializer}


def real_inputs(graph: GraphProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers (old exporters list weights as inputs too)."""
    inits = initializer_names(graph)
    return [vi for vi in graph.input if vi.name not in inits]


def model_summary(model: LoadedModel) -> dict:
    return {"path": str(model.path) if model.path else None, "name": model.name, "sha256": model_sha256(model),
            "nodes": len(model.proto.graph.node),
            "opsets": {o.domain or "ai.onnx": o.version for o in model.proto.opset_import},
            "producer": f"{model.proto.producer_name} {model.proto.producer_version}".strip()}


# ONNX operator domains, one place: the default operator set (what TensorRT's ONNX parser imports and what a
# plugin is not), and every domain the ONNX standard defines (anything else is a custom op).
DEFAULT_DOMAINS = ("", "ai.onnx")
ONNX_DOMAINS = (*DEFAULT_DOMAINS, "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training")
