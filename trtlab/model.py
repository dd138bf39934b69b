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
    file_signature: tuple | None = None  # (inode, size, mtime) of ``path`` when ``proto`` is exactly its content

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
    signature = _signature(p)
    try:
        proto = _parse_file(p)
    except Exception as exc:  # protobuf DecodeError, truncated files, text files, ...
        raise TrtlabError(p, f"not a readable ONNX model ({_short(exc)})",
                          "the file is corrupt, truncated or not ONNX; re-export it") from None
    _check_not_garbage(proto, p)
    check_declared(proto, p)
    if _signature(p) != signature or _external_locations(proto):
        signature = None
    _load_external(proto, p)
    return LoadedModel(proto=proto, path=p, warnings=checker_warnings, file_signature=signature)


def _parse_file(p: Path) -> ModelProto:
    """``onnx.load(p, load_external_data=False)``; binary .onnx files are parsed from a memory map of the file
    (read in one go by the kernel) instead of a bytes copy of it: half the time and memory on a 400 MB model."""
    import mmap

    from google.protobuf.message import DecodeError

    if p.suffix.lower() not in (".onnx", ".pb"):
        return onnx.load(str(p), load_external_data=False)  # text formats, by extension
    proto = ModelProto()
    try:
        with open(p, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                           prot=mmap.PROT_READ)
    except (OSError, ValueError):  # a file system without memory maps
        return onnx.load(str(p), load_external_data=False)
    try:
        with memoryview(mm) as view:
            decoded = proto.ParseFromString(view)
        if decoded is not None and decoded != len(mm):
            raise DecodeError(f"Protobuf decoding consumed too few bytes: {decoded} out of {len(mm)}")
    finally:
        mm.close()
    return proto


def _signature(p: Path) -> tuple:
    st = p.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def file_weights(model: LoadedModel, min_bytes: int = 64 << 10) -> dict:
    """The main graph's raw initializers of ``min_bytes`` or more as read-only arrays over the model's file
    (memory-mapped): the loaded weights without a copy. Every one is checked against the loaded tensor (name,
    type, dims, length); empty when the file changed since it was loaded or does not match one for one."""
    import mmap

    import numpy as np

    if model.file_signature is None or model.path is None or not np.little_endian:
        return {}
    tensors = list(model.proto.graph.initializer)
    with open(model.path, "rb") as f:  # populated: mapped in one go, not one page fault per 4 KB when read
        mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0), prot=mmap.PROT_READ)
    if _signature(Path(model.path)) != model.file_signature or len(mm) != model.file_signature[1]:
        return {}
    arrays, index = {}, 0
    try:
        for number, start, end, _ in _fields(mm, 0, len(mm)):
            for inner, s, e, _ in _fields(mm, start, end) if number == 7 else ():
                if inner != 5:
                    continue
                if index >= len(tensors):
                    return {}
                t, index = tensors[index], index + 1
                if t.data_type not in _FIXED_SIZE or t.data_type == onnx.TensorProto.BFLOAT16 \
                        or not t.HasField("raw_data") or tensor_nbytes(t) < min_bytes or t.name in arrays:
                    continue
                raw = [(rs, re, key) for n, rs, re, key in _fields(mm, s, e) if n == 9]
                if len(raw) != 1:
                    return {}
                rs, re, key = raw[0]
                head = onnx.TensorProto()
                head.ParseFromString(mm[s:key] + mm[re:e])
                if (head.name, list(head.dims), head.data_type) != (t.name, list(t.dims), t.data_type) \
                        or re - rs != tensor_nbytes(t):
                    return {}
                dtype = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
                arrays[t.name] = np.frombuffer(mm, dtype=dtype, count=(re - rs) // np.dtype(dtype).itemsize,
                                               offset=rs).reshape(tuple(t.dims))
    except ValueError:
        return {}
    return arrays if index == len(tensors) else {}


# --- declared sizes and types: a file must not be able to lie its way into a huge allocation ------------------

_VALID_TYPES = frozenset(onnx.TensorProto.DataType.values()) - {onnx.TensorProto.UNDEFINED}
_PACKED = {"INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2"}  # several elements per byte
_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")


def _type_name(data_type: int) -> str:
    try:
        return onnx.TensorProto.DataType.Name(data_type)
    except ValueError:
        return str(data_type)


def tensor_nbytes(t: onnx.TensorProto) -> int:
    """Bytes the tensor's declared dims and type need in raw form (strings: 0)."""
    import math

    import numpy as np

    n = math.prod(t.dims)
    name = _type_name(t.data_type)
    if name == "STRING":
        return 0
    if name in _PACKED:
        per = 4 if name in ("INT2", "UINT2") else 2
        return (n + per - 1) // per
    return n * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize


def tensor_problem(t: onnx.TensorProto, base: Path | None = None) -> str | None:
    """Why a tensor's data cannot be what its dims and type declare, or None."""
    import math

    if t.data_type not in _VALID_TYPES:
        return f"has data type {t.data_type}, which ONNX does not define"
    if any(d < 0 for d in t.dims):
        return f"declares a negative dimension {list(t.dims)}"
    n = math.prod(t.dims)
    if t.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or ".." in Path(loc).parts or loc.startswith(("/", "\\")):
            return f"points at external data '{loc}' outside the model's folder"
        try:
            offset, length = int(info.get("offset", 0) or 0), info.get("length")
        except ValueError:
            return "has a non-numeric external data offset"
        if base is not None and (base / loc).is_file():
            size, want = (base / loc).stat().st_size, tensor_nbytes(t)
            have = int(length) if length else min(want, max(size - offset, 0))
            if offset < 0 or have != want or offset + have > size:
                return (f"declares dims {list(t.dims)} ({_type_name(t.data_type).lower()}, {tensor_nbytes(t):,} bytes)"
                        f" but its external data holds {have:,} bytes")
        return None
    raw = t.raw_data if t.HasField("raw_data") else b""  # each read copies the bytes: once
    if raw:
        have, want = len(raw), tensor_nbytes(t)
    else:
        counts = [len(getattr(t, f)) for f in _TYPED_FIELDS if len(getattr(t, f))]
        have = counts[0] if counts else 0
        name = _type_name(t.data_type)
        want = n * (2 if name.startswith("COMPLEX") else 1)
        if name in _PACKED:
            want = (n + 1) // 2 if name not in ("INT2", "UINT2") else (n + 3) // 4
        if not counts and n and name == "STRING":
            have = 0
    if have != want:
        return (f"declares dims {list(t.dims)} ({_type_name(t.data_type).lower()}) but holds "
                f"{have:,} {'bytes' if raw else 'values'} of data where {want:,} are needed")
    return None


def _value_types(graph: GraphProto) -> Iterator[tuple[str, int]]:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        t = vi.type
        if t.HasField("tensor_type"):
            yield vi.name, t.tensor_type.elem_type
        elif t.HasField("sequence_type") and t.sequence_type.elem_type.HasField("tensor_type"):
            yield vi.name, t.sequence_type.elem_type.tensor_type.elem_type


def check_declared(proto: ModelProto, p: Path | None = None) -> None:
    """Refuse (exit 2) tensors whose data does not match their declared dims, unknown element types, external
    data outside the model's folder, and graphs that read tensors nothing defines."""
    base = p.parent if p is not None else None
    subject = p or "model"
    for graph in walk_graphs(proto.graph):
        for i, node in enumerate(graph.node):  # protobuf hands back bytes for a string field that is not UTF-8
            if not all(isinstance(v, str) for v in (node.op_type, node.name, node.domain, *node.input, *node.output)):
                raise TrtlabError(subject, f"node {i} of graph '{graph.name}' holds names that are not UTF-8 text",
                                  "the file is corrupt; re-export the model")
        tensors = [(t.name, t) for t in graph.initializer]
        tensors += [(f"{n.name or n.op_type} ({a.name})", a.t) for n in graph.node for a in n.attribute
                    if a.type == onnx.AttributeProto.TENSOR]
        for name, t in tensors:
            problem = tensor_problem(t, base)
            if problem:
                raise TrtlabError(subject, f"tensor '{name}' {problem}",
                                  "the file is corrupt or was edited; re-export the model")
        for name, elem in _value_types(graph):
            if elem and elem not in _VALID_TYPES:
                raise TrtlabError(subject, f"tensor '{name}' has element type {elem}, which ONNX does not define",
                                  "the file is corrupt or was edited; re-export the model")
    problem = graph_problem(proto.graph)
    if problem:
        raise TrtlabError(subject, problem, "the model is malformed; re-export it (or fix the graph by hand)")


def graph_problem(graph: GraphProto, outer: frozenset = frozenset()) -> str | None:
    """The first structural defect of a graph (and its subgraphs): a node input nothing defines, a cycle, or a
    graph output no node produces. None when sound. Nodes need not be in order."""
    defined = set(outer) | {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.name for t in graph.sparse_initializer} if hasattr(graph, "sparse_initializer") else set()
    produced = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    visible = frozenset(defined | set(produced))
    for node in graph.node:
        for name in node.input:
            if name and name not in visible:
                return f"node '{node.name or node.op_type}' reads tensor '{name}', which nothing in the graph defines"
        for sub in subgraphs(node):
            problem = graph_problem(sub, visible)
            if problem:
                return problem
    for out in graph.output:
        if out.name not in visible:
            return f"graph output '{out.name}' is produced by no node"
    return _cycle(graph, produced, defined)


def _cycle(graph: GraphProto, produced: dict[str, int], defined: set[str]) -> str | None:
    """Kahn's algorithm over the node graph (subgraph bodies' outer reads count as inputs)."""
    deps: list[set[int]] = []
    for node in graph.node:
        names = set(node.input) | {n for sub in subgraphs(node) for n in _outer_reads(sub)}
        deps.append({produced[x] for x in names if x in produced and x not in defined})
    users: dict[int, list[int]] = {}
    for i, d in enumerate(deps):
        for j in d:
            users.setdefault(j, []).append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for u in users.get(i, []):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    if done == len(deps):
        return None
    stuck = next(graph.node[i] for i, w in enumerate(waiting) if w > 0)
    return f"the graph has a cycle through node '{stuck.name or stuck.op_type}'"


def _outer_reads(graph: GraphProto) -> set[str]:
    local = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    local |= {o for n in graph.node for o in n.output}
    reads = {x for n in graph.node for x in n.input if x}
    for n in graph.node:
        for sub in subgraphs(n):
            reads |= _outer_reads(sub)
    return reads - local


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
            raw = _raw_len(t)
            total += raw + len(t.name) + 8 + 2 * len(t.dims) if raw else t.ByteSize()
        total += sum(vi.ByteSize() for vi in list(graph.input) + list(graph.output) + list(graph.value_info))
    total += sum(_node_size(n) for n in proto.graph.node)
    return total


def _raw_len(t: onnx.TensorProto) -> int:
    """Length of ``t.raw_data`` without reading it (each read copies the bytes: ~0.1 s per 400 MB): from the dims
    where they account for it (fixed-size types; what ``load_model`` checks), else by reading it."""
    if not t.HasField("raw_data"):
        return 0
    if t.data_type in _FIXED_SIZE:
        return tensor_nbytes(t)
    return len(t.raw_data)


_FIXED_SIZE = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
               onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
               onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64,
               onnx.TensorProto.BOOL}


def _node_size(node: NodeProto) -> int:
    if any(True for _ in subgraphs(node)):
        return sum(len(a.name) + 8 for a in node.attribute) + sum(approx_size_graph(g) for g in subgraphs(node))
    return node.ByteSize()


def approx_size_graph(graph: GraphProto) -> int:
    """A body's nodes (its initializers and inputs/outputs are counted once, by ``approx_size``'s graph walk)."""
    return sum(_node_size(n) for n in graph.node) + 16



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


def save_model(proto: ModelProto, out: str | os.PathLike, *, external_data: bool | None = None,
               arrays: dict | None = None) -> Path:
    """Write atomically: temp file next to ``out``, re-read to validate, rename over ``out``.

    ``external_data`` None means: automatic, on above 2 GB. ``arrays``: see ``write_proto``.
    """
    from trtlab.rundir import _file_mode, check_output_path

    out = check_output_path(out, flag="output")
    problem = "it has no nodes" if not proto.graph.node else graph_problem(proto.graph)
    if problem:  # never write something trtlab itself would refuse to load
        raise TrtlabError(out, f"the result is not a valid model ({problem}); nothing was written",
                          "the input model or a pass produced a broken graph: check the model with `trtlab inspect`",
                          code=1)
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
            nodes = len(onnx.load(tmp, load_external_data=False).graph.node)
        elif write_proto(proto, tmp, arrays):  # streamed: its framing read back, the weights' bytes not copied again
            nodes = _framed_nodes(tmp, len(proto.graph.initializer))
        else:
            nodes = len(onnx.load(tmp, load_external_data=False).graph.node)
        if nodes != len(proto.graph.node):
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


STREAM_ABOVE = 16 << 20  # raw tensor bytes above which a model is written piece by piece


def write_proto(proto: ModelProto, path: str | os.PathLike, arrays: dict | None = None) -> bool:
    """Write ``proto`` as ``proto.SerializeToString()`` would, the same bytes, without holding them all: large raw
    tensors of the main graph go from their ``raw_data`` to the file one at a time, and everything around them is
    serialized by protobuf (a 440 MB model: one copy of each weight instead of protobuf's growing buffer and the
    bytes object, about half the time). ``arrays``: arrays that hold exactly the bytes of these tensors (the ones
    a verification lent, memory-mapped from the input file), written from there without a copy. Models with fields
    this onnx does not know are serialized as a whole. True when streamed."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    graph = proto.graph
    big = [t for t in graph.initializer if t.HasField("raw_data") and t.data_type in _FIXED_SIZE]
    if sum(tensor_nbytes(t) for t in big) < STREAM_ABOVE or any(
            len(UnknownFieldSet(m)) for m in (proto, graph, *big)):
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
        return False
    big_ids = {id(t) for t in big}
    items = []  # (header, [parts]) per initializer; raw parts are read when written
    for t in graph.initializer:
        if id(t) not in big_ids:
            items.append((t.SerializeToString(), None))
            continue
        before, after = _split(t, 9)
        items.append((before + _key(9) + _varint(tensor_nbytes(t)), (t, after)))
    sizes = [len(h) + (tensor_nbytes(r[0]) + len(r[1]) if r else 0) for h, r in items]
    g_before, g_after = _split(graph, 5)
    g_len = len(g_before) + len(g_after) + sum(len(_key(5) + _varint(n)) + n for n in sizes)
    m_before, m_after = _split(proto, 7)
    with open(path, "wb") as f:
        f.write(m_before + _key(7) + _varint(g_len) + g_before)
        for (head, rest), n in zip(items, sizes):
            f.write(_key(5) + _varint(n) + head)
            if rest:
                raw = _held_bytes(rest[0], arrays)
                if raw is None:
                    raw = rest[0].raw_data  # one copy, written and dropped
                if len(raw) != tensor_nbytes(rest[0]):
                    raise TrtlabError(path, f"tensor '{rest[0].name}' holds {len(raw)} bytes, not what its dims "
                                      "declare", "check the model with `trtlab inspect`", code=1)
                f.write(raw)
                f.write(rest[1])
        f.write(g_after + m_after)
    return True


def _held_bytes(t: onnx.TensorProto, arrays: dict | None):
    import numpy as np

    a = (arrays or {}).get(t.name)
    if a is None or not a.flags.c_contiguous or a.nbytes != tensor_nbytes(t) \
            or a.dtype != np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)) or not np.little_endian:
        return None
    return memoryview(a.reshape(-1).view(np.uint8))


def _framed_nodes(path: str | os.PathLike, initializers: int) -> int | None:
    """The main graph's node count in the model file at ``path``, read from its protobuf framing (every tag and
    length of the model, its graph and their tensors must fit, up to the last byte) without copying the tensors'
    bytes; None when the framing does not hold or the initializer count differs."""
    import mmap

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            nodes = inits = 0
            for number, start, end, _ in _fields(mm, 0, len(mm)):
                if number != 7:
                    continue
                for inner, s, e, _ in _fields(mm, start, end):
                    nodes += inner == 1
                    if inner == 5:
                        inits += 1
                        for _ in _fields(mm, s, e):
                            pass
        except ValueError:
            return None
    return nodes if inits == initializers else None


def _fields(buf, pos: int, end: int):
    """(field number, start, end, key start) of each length-delimited field in ``buf[pos:end]``, other fields
    skipped."""
    while pos < end:
        at = pos
        key, pos = _read_varint(buf, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > end:
                raise ValueError("length beyond the enclosing message")
            yield key >> 3, pos, pos + length, at
            pos += length
        else:
            raise ValueError(f"wire type {wire}")
    if pos != end:
        raise ValueError("field beyond the enclosing message")


def _read_varint(buf, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _split(message, number: int) -> tuple[bytes, bytes]:
    """The message's fields numbered below and above ``number``, serialized (protobuf writes fields in number
    order, so ``below + field number + above`` is the message's own serialization)."""
    from trtlab.weights import copy_field

    below, above = type(message)(), type(message)()
    for fd in message.DESCRIPTOR.fields:  # not ListFields(): it would copy the field left out (a weight's bytes)
        if fd.number == number or not (len(getattr(message, fd.name)) if fd.is_repeated else message.HasField(fd.name)):
            continue
        copy_field(below if fd.number < number else above, fd, getattr(message, fd.name))
    return below.SerializeToString(), above.SerializeToString()


def _key(number: int) -> bytes:
    return _varint(number << 3 | 2)  # a length-delimited field


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


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
