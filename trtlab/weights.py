"""Large weights held once, in memory, and shared by every ONNX Runtime session of a comparison.

``share_weights(proto)`` moves every initializer of 64 KiB or more out of the proto into a read-only numpy array
and leaves a placeholder: an EXTERNAL initializer whose location is ``trtlab-shared:<token>``. The proto becomes
small (cheap to copy and serialize), and the onnxrt backend feeds the arrays to ONNX Runtime as graph inputs,
which it binds without a copy. A layer-wise comparison of a 440 MB model then holds its weights once, not once
per proto copy, serialization and session.

Code that needs the full proto (the reference evaluator, writing a file, a TensorRT parser) calls
``materialize(proto)`` for a self-contained copy.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

PREFIX = "trtlab-shared:"
MIN_BYTES = 64 * 1024
_STORE: dict[str, dict[str, np.ndarray]] = {}  # token -> {initializer name: array}
_tokens = itertools.count()


def _location(t: TensorProto) -> str | None:
    if t.data_location != TensorProto.EXTERNAL:
        return None
    return next((e.value for e in t.external_data if e.key == "location"), None)


def _placeholder(t: TensorProto, token: str) -> None:
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    entry = t.external_data.add()
    entry.key, entry.value = "location", PREFIX + token


def share_weights(proto: onnx.ModelProto, min_bytes: int = MIN_BYTES) -> tuple[onnx.ModelProto, str | None]:
    """Move the main graph's large raw initializers into shared arrays; ``proto`` loses them (it is consumed).
    Returns a new, light proto (the old one is best dropped: protobuf keeps a message's memory until the whole
    message goes) and the token to ``release`` when done (None when nothing was large enough, with ``proto`` itself)."""
    token = f"{next(_tokens)}"
    arrays: dict[str, np.ndarray] = {}
    for t in proto.graph.initializer:
        if t.data_location != TensorProto.EXTERNAL and len(t.raw_data) >= min_bytes:
            arr = numpy_helper.to_array(t)
            arr.flags.writeable = False
            arrays[t.name] = arr
            _placeholder(t, token)
    if not arrays:
        return proto, None
    _STORE[token] = arrays
    light = onnx.ModelProto()
    light.ParseFromString(proto.SerializeToString())
    return light, token


# types whose raw bytes numpy reads as they are, and onnxruntime takes as a numpy input
_LENDABLE = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT8, TensorProto.INT16,
             TensorProto.INT32, TensorProto.INT64, TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32,
             TensorProto.UINT64, TensorProto.BOOL}


def lend_weights(proto: onnx.ModelProto, min_bytes: int = MIN_BYTES, reuse=None) -> tuple[onnx.ModelProto, str | None]:
    """A light copy of ``proto`` for one onnxruntime session, ``proto`` itself left as it is: the main graph's large
    raw initializers become placeholders for arrays read from their bytes (one copy of the bytes, no serialization
    of them, no copy inside onnxruntime, which binds them as inputs). ``reuse(tensor)`` may give the array of an
    equal tensor lent before (no copy at all). Returns (copy, token to ``release``; ``shared_arrays(copy)`` are the
    arrays), or (``proto``, None) when nothing is large enough to be worth it."""
    if not np.little_endian:
        return proto, None
    graph = proto.graph
    large = [t for t in graph.initializer if t.data_type in _LENDABLE and t.data_location != TensorProto.EXTERNAL
             and t.HasField("raw_data") and tensor_bytes(t) >= min_bytes]
    if not large:
        return proto, None
    light = onnx.ModelProto()
    for fd, value in proto.ListFields():
        if fd.name != "graph":
            copy_field(light, fd, value)
    for fd, value in graph.ListFields():
        if fd.name != "initializer":
            copy_field(light.graph, fd, value)
    token = f"{next(_tokens)}"
    arrays: dict[str, np.ndarray] = {}
    lent = {t.name for t in large}
    for t in graph.initializer:
        if t.name not in lent or t.name in arrays:
            light.graph.initializer.append(t)
            continue
        array = reuse(t) if reuse else None
        if array is None:
            raw = t.raw_data  # a copy of the bytes: the array reads it in place, read-only
            if len(raw) != tensor_bytes(t):  # malformed: onnxruntime gets the tensor as it is, and says so
                light.graph.initializer.append(t)
                continue
            array = np.frombuffer(raw, dtype=onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).reshape(tuple(t.dims))
        arrays[t.name] = array
        placeholder = light.graph.initializer.add()
        placeholder.name, placeholder.data_type = t.name, t.data_type
        placeholder.dims.extend(t.dims)
        _placeholder(placeholder, token)
    _STORE[token] = arrays
    return light, token


def tensor_bytes(t: TensorProto) -> int:
    """Bytes of a raw tensor of a fixed-size type, from its dims (reading ``raw_data`` would copy it)."""
    count = 1
    for d in t.dims:
        count *= d
    return count * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize


def copy_field(message, fd, value) -> None:
    """Set one protobuf field of ``message`` (repeated: extended; message: copied; scalar: set)."""
    if fd.is_repeated:
        getattr(message, fd.name).extend(value)
    elif fd.message_type is not None:
        getattr(message, fd.name).CopyFrom(value)
    else:
        setattr(message, fd.name, value)


def return_freed_memory(lean: bool = False) -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere): after
    ``share_weights`` the parsed proto's pages otherwise stay in the process's resident set. ``lean`` also fixes
    glibc's mmap threshold at 1 MiB, so that large blocks (tensors) go back to the OS as soon as they are freed."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if lean:
            libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD (also stops glibc from raising it on its own)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def release(token: str | None) -> None:
    """Forget the arrays behind ``token`` (sessions that use them must be closed first)."""
    if token is not None:
        _STORE.pop(token, None)


def shared_arrays(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The arrays behind every placeholder of ``proto`` (empty when it has none)."""
    out = {}
    for t in proto.graph.initializer:
        loc = _location(t)
        if loc and loc.startswith(PREFIX):
            out[t.name] = _STORE[loc[len(PREFIX):]][t.name]
    return out


def replace_arrays(proto: onnx.ModelProto, arrays: dict[str, np.ndarray]) -> str:
    """Point the placeholders of ``proto`` named in ``arrays`` at these arrays instead (e.g. rounded weights);
    returns the token to ``release``."""
    token = f"{next(_tokens)}"
    for a in arrays.values():
        a.flags.writeable = False
    _STORE[token] = dict(arrays)
    for t in proto.graph.initializer:
        if t.name in arrays:
            _placeholder(t, token)
    return token


def tokens(proto: onnx.ModelProto) -> set[str]:
    """The tokens that ``proto``'s placeholders point at."""
    return {loc[len(PREFIX):] for t in proto.graph.initializer if (loc := _location(t)) and loc.startswith(PREFIX)}


def materialize(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A self-contained copy of ``proto`` with the shared arrays put back as raw data (``proto`` itself if none)."""
    arrays = shared_arrays(proto)
    if not arrays:
        return proto
    full = onnx.ModelProto()
    full.CopyFrom(proto)
    for i, t in enumerate(full.graph.initializer):
        if t.name in arrays:
            full.graph.initializer[i].CopyFrom(numpy_helper.from_array(arrays[t.name], t.name))
    return full


def as_graph_inputs(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Turn ``proto``'s placeholders into graph inputs (in place) and return the arrays to feed them with.

    ONNX Runtime copies initializers handed over by ``add_external_initializers``, but binds CPU numpy
    inputs without a copy: fed as inputs, the weights stay shared (kernels cannot pre-pack them, so inference
    is somewhat slower; the FP32 math is the same)."""
    arrays = shared_arrays(proto)
    if not arrays:
        return {}
    graph = proto.graph
    kept = [t for t in graph.initializer if t.name not in arrays]
    declared = {vi.name for vi in graph.input}
    for t in graph.initializer:
        if t.name in arrays and t.name not in declared:
            graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return arrays
