"""Execute a serialized engine with the TensorRT 10/11 API (``set_input_shape``, ``set_tensor_address``,
``execute_async_v3``), CUDA memory, streams and events from cuda-python, and an ``IOutputAllocator`` for outputs
whose shape is only known after execution (data-dependent shapes).

Each inference records four CUDA events (H2D start, compute start, compute end, D2H end) so that H2D, GPU compute
and D2H are timed separately, as trtexec reports them.
"""

from __future__ import annotations

import time

import numpy as np

from trtlab.errors import TrtlabError, UnavailableError
from trtlab.trt import cuda
from trtlab.trt.module import CapturingLogger, TrtModule


def _np_dtype(trt: TrtModule, dtype) -> np.dtype:
    try:
        return np.dtype(trt.mod.nptype(dtype))
    except Exception:
        raise TrtlabError(f"engine tensor type {dtype}", "has no NumPy equivalent",
                          "keep graph inputs/outputs in FP32/FP16/INT (keep_io_types)") from None


def _output_allocator(trt: TrtModule):
    base = trt.mod.IOutputAllocator

    class OutputAllocator(base):
        """Grows one device buffer per output on TensorRT's request; remembers the final shape."""

        def __init__(self):
            base.__init__(self)
            self.buffers: dict[str, cuda.DeviceBuffer] = {}
            self.shapes: dict[str, tuple[int, ...]] = {}

        def reallocate_output(self, tensor_name, memory, size, alignment):
            return self.buffers.setdefault(tensor_name, cuda.DeviceBuffer()).ensure(int(size))

        def reallocate_output_async(self, tensor_name, memory, size, alignment, stream):
            return self.reallocate_output(tensor_name, memory, size, alignment)

        def notify_shape(self, tensor_name, shape):
            self.shapes[tensor_name] = tuple(shape)

    return OutputAllocator()


def capsule_address(capsule) -> int:
    """The pointer inside a PyCapsule (TensorRT hands debug tensors' device addresses over as capsules)."""
    import ctypes

    if isinstance(capsule, int):
        return capsule
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return int(get_pointer(capsule, get_name(capsule)) or 0)


def _debug_listener(trt: TrtModule, wanted: set[str], host: dict[str, np.ndarray]):
    """An ``IDebugListener`` that copies each wanted debug tensor to the host while it is valid (the address is
    guaranteed only during the callback)."""
    base = trt.mod.IDebugListener

    class DebugCopier(base):
        def __init__(self):
            base.__init__(self)

        def process_debug_tensor(self, addr, location, type, shape, name, stream):
            if name not in wanted:
                return True
            arr = np.empty(tuple(shape), _np_dtype(trt, type))
            if arr.nbytes:
                cuda.copy_to_host(arr, capsule_address(addr), arr.nbytes, int(stream))
            host[name] = arr
            return True

    return DebugCopier()


class TrtRunner:
    """Load an engine, run it on host arrays, release it. A context manager.

    ``debug``: names of debug tensors to read on every inference (an engine built with debug tensors, e.g.
    ``BuildOptions.debug_unfused``); those the engine has are returned with the outputs, and ``self.debug`` lists
    them."""

    def __init__(self, trt: TrtModule, engine_bytes: bytes, debug: list[str] | None = None):
        self.trt = trt
        self.logger = CapturingLogger.create(trt)
        self.runtime = trt.mod.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            why = " | ".join(self.logger.errors()) or "deserialize_cuda_engine returned None"
            raise UnavailableError("TensorRT engine", f"{trt.name} {trt.version} cannot load it here: {why}",
                                   "run `trtlab doctor --for run` to see what this machine lacks")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.mod.TensorIOMode
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == mode.OUTPUT]
        self.dtypes = {n: _np_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = cuda.Stream()
        self.events = [cuda.Event() for _ in range(4)]
        self.buffers = {n: cuda.DeviceBuffer() for n in names}
        self.allocator = _output_allocator(trt)
        self.host_out: dict[str, np.ndarray] = {}
        self.last: dict[str, float] = {}
        self.debug: list[str] = []
        self.debug_host: dict[str, np.ndarray] = {}
        if debug:
            self._attach_debug(debug)

    def _attach_debug(self, names: list[str]) -> None:
        from trtlab.trt.layers import engine_debug_tensors

        found = engine_debug_tensors(self.engine, names)
        self.debug = found or list(names)  # unfused debug tensors may not answer is_debug_tensor: see what comes
        self.listener = _debug_listener(self.trt, set(self.debug), self.debug_host)
        self.context.set_debug_listener(self.listener)
        if hasattr(self.context, "unfused_tensors_debug_state"):  # TensorRT 10.12+/RTX: every unfused tensor
            self.context.unfused_tensors_debug_state = True
        for name in found:
            self.context.set_tensor_debug_state(name, True)
        self.delivered: set[str] = set()

    def _set_inputs(self, feeds: dict[str, np.ndarray]) -> list[tuple[int, np.ndarray]]:
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise TrtlabError("trt run", f"no value for engine input(s) {', '.join(missing)}",
                              f"engine inputs: {', '.join(self.inputs)}")
        copies = []
        for name in self.inputs:
            arr = np.ascontiguousarray(feeds[name], dtype=self.dtypes[name])
            if not self.context.set_input_shape(name, arr.shape):
                raise TrtlabError(f"input '{name}'", f"shape {list(arr.shape)} is outside the engine's profile",
                                  "rebuild with a --profile that covers it, or pass --input-shapes inside it")
            ptr = self.buffers[name].ensure(arr.nbytes)
            self.context.set_tensor_address(name, ptr)
            copies.append((ptr, arr))
        return copies

    def _set_outputs(self) -> None:
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):  # data-dependent: TensorRT asks the allocator during execution
                self.context.set_output_allocator(name, self.allocator)
            else:
                nbytes = int(np.prod(shape, dtype=np.int64)) * self.dtypes[name].itemsize
                self.context.set_tensor_address(name, self.buffers[name].ensure(nbytes))
                self.host_out[name] = np.empty(shape, self.dtypes[name])

    def infer(self, feeds: dict[str, np.ndarray], copy_outputs: bool = True) -> dict[str, np.ndarray]:
        h2d0, comp0, comp1, d2h1 = self.events
        wall = time.perf_counter()
        copies = self._set_inputs(feeds)
        self._set_outputs()
        h2d0.record(self.stream)
        for ptr, arr in copies:
            self.stream.h2d(ptr, arr, arr.nbytes)
        comp0.record(self.stream)
        if not self.context.execute_async_v3(self.stream.ptr):
            raise TrtlabError("trt run", "execute_async_v3 failed: " + " | ".join(self.logger.errors()[-3:]),
                              "rerun with --verbose; check the input shapes against the engine's profiles", code=4)
        comp1.record(self.stream)
        results = {}
        if copy_outputs:
            if any(n not in self.host_out for n in self.outputs):
                self.stream.synchronize()  # data-dependent shapes are known only now
            for name in self.outputs:
                if name in self.allocator.shapes:
                    shape = self.allocator.shapes[name]
                    host = np.empty(shape, self.dtypes[name])
                    src = self.allocator.buffers[name].ptr
                else:
                    host, src = self.host_out[name], self.buffers[name].ptr
                if host.nbytes:
                    self.stream.d2h(host, src, host.nbytes)
                results[name] = host
        d2h1.record(self.stream)
        self.stream.synchronize()
        if self.debug:  # filled by the listener during execution
            self.delivered.update(self.debug_host)
            results.update({n: self.debug_host.pop(n) for n in list(self.debug_host)})
        self.last = {"h2d_ms": comp0.elapsed_ms(h2d0), "compute_ms": comp1.elapsed_ms(comp0),
                     "d2h_ms": d2h1.elapsed_ms(comp1), "wall_ms": (time.perf_counter() - wall) * 1e3}
        return {n: v.copy() for n, v in results.items()}

    def close(self) -> None:
        for b in list(self.buffers.values()) + list(getattr(self.allocator, "buffers", {}).values()):
            b.free()
        for e in self.events:
            e.close()
        self.stream.close()
        self.context = self.engine = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
