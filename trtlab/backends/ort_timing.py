"""ONNX Runtime timed like trtexec: a runner for ``trtlab.timing.benchmark`` and per-node profiles.

``OrtRunner`` wraps an ``onnxrt`` backend's session. On the CPU an iteration is one ``InferenceSession.run`` (host
and wall time: there is no device). On CUDA the inputs and outputs are bound on the device (I/O binding), the
session computes on trtlab's own CUDA stream (provider option ``user_compute_stream``), and CUDA events on that
stream time each iteration's host-to-device copies, the run, and the device-to-host copies apart, as trtexec does
for an engine; ``benchmark`` times the latency loop with the events off (``phases``) and the phases in a loop of
their own, so the events' cost (about 20 us an iteration through cuda-python) is not in the latency. Host buffers
are page-locked (``cudaMallocHost``, as trtexec's); after the first run the outputs are bound to device buffers of
the shapes produced (back to ORT's allocation if a shape changes), and the output arrays returned are reused from
one call to the next.

``TimedOnnxrtBackend`` is the ``onnxrt`` backend plus those two session settings (the stream, the profiler).
"""

from __future__ import annotations

import time

import numpy as np

from trtlab.backends.onnxrt import OnnxrtBackend

# ORT type strings of tensors bound on the device -> numpy dtypes for the host copies.
ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16,
              "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_}


class TimedOnnxrtBackend(OnnxrtBackend):
    """The onnxrt backend with the session settings timing needs: ORT's profiler (``profile_prefix``) and, for the
    CUDA provider, a compute stream of trtlab's (``stream``, a ``trtlab.trt.cuda.Stream``)."""

    def __init__(self, spec, *, stream=None, profile_prefix: str | None = None):
        super().__init__(spec)
        self.stream, self.profile_prefix = stream, profile_prefix

    def _providers(self, ort):
        providers = super()._providers(ort)
        if self.stream is not None and isinstance(providers[0], tuple):
            name, opts = providers[0]
            providers[0] = (name, {**opts, "user_compute_stream": str(self.stream.ptr)})
        return providers

    def _session_options(self, ort):
        so = super()._session_options(ort)
        if self.profile_prefix:
            so.enable_profiling = True
            so.profile_file_prefix = self.profile_prefix
        return so


class OrtRunner:
    """``infer(feeds, copy_outputs)`` and ``last`` (this iteration's times in ms) over a loaded onnxrt backend."""

    def __init__(self, backend: OnnxrtBackend, feeds: dict[str, np.ndarray]):
        self.backend, self.session = backend, backend.session
        self.output_names = list(backend.output_names)
        self.weights = dict(getattr(backend, "_weight_feeds", {}) or {})
        self.cuda = backend.session.get_providers()[0] == "CUDAExecutionProvider"
        self.phases = self.cuda  # time H2D / compute / D2H by CUDA events (off: host clock only, nothing added)
        self.last: dict[str, float] = {}
        if self.cuda:
            self._bind(feeds)

    def _bind(self, feeds: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        from trtlab.trt.cuda import Event, PinnedArray

        self.stream = self.backend.stream
        self.events = [Event() for _ in range(4)]
        self.binding = self.session.io_binding()
        self.device_inputs, self.pinned = {}, {}
        for name, value in {**feeds, **self.weights}.items():
            value = np.ascontiguousarray(value)
            dev = ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0)
            self.binding.bind_ortvalue_input(name, dev)
            if name in feeds:  # weights are copied once; inputs on every iteration (timed as H2D)
                self.device_inputs[name] = dev
                self.pinned[name] = PinnedArray(value.shape, value.dtype)
        # per iteration: (name, page-locked host array, device address); no ORT calls in the loop
        self._in_plan = [(n, self.pinned[n].array, dev.data_ptr()) for n, dev in self.device_inputs.items()]
        self._bind_outputs_dynamic()

    def _bind_outputs_dynamic(self) -> None:
        """ORT allocates the outputs on the device at every run (first run; outputs whose shape changes)."""
        self.binding.clear_binding_outputs()
        for name in self.output_names:
            self.binding.bind_output(name, "cuda", 0)
        self.device_outputs, self._out_plan = None, None

    def _bind_outputs_static(self, values) -> None:
        """After a run: device and pinned host buffers of the shapes just produced, bound once."""
        import onnxruntime as ort

        from trtlab.trt.cuda import PinnedArray

        self.binding.clear_binding_outputs()
        self.device_outputs = {}
        for name, dev in zip(self.output_names, values):
            dtype = ORT_DTYPES[dev.data_type()]
            out = ort.OrtValue.ortvalue_from_shape_and_type(dev.shape(), dtype, "cuda", 0)
            self.binding.bind_ortvalue_output(name, out)
            self.device_outputs[name] = out
            self.pinned["out:" + name] = PinnedArray(tuple(dev.shape()), dtype)
        self._out_plan = [(n, self.pinned["out:" + n].array, out.data_ptr()) for n, out in self.device_outputs.items()]

    def _run_bound(self) -> list:
        try:
            self.session.run_with_iobinding(self.binding)
        except Exception:
            if self.device_outputs is None:
                raise
            self._bind_outputs_dynamic()  # an output changed shape: let ORT allocate from now on
            self.session.run_with_iobinding(self.binding)
            return self.binding.get_outputs()
        return list(self.device_outputs.values()) if self.device_outputs is not None else self.binding.get_outputs()

    def infer(self, feeds: dict[str, np.ndarray], copy_outputs: bool = True) -> dict[str, np.ndarray]:
        if not self.cuda:
            start = time.perf_counter()
            values = self.session.run(self.output_names, {**feeds, **self.weights} if self.weights else feeds)
            ms = (time.perf_counter() - start) * 1e3
            self.last = {"host_ms": ms, "wall_ms": ms}
            return dict(zip(self.output_names, values))
        return self._infer_cuda(feeds, copy_outputs)

    def _infer_cuda(self, feeds: dict[str, np.ndarray], copy_outputs: bool) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        events = self.events if self.phases else (None, None, None, None)
        for name, host, _ptr in self._in_plan:
            np.copyto(host, feeds[name], casting="no")
        self._record(events[0])
        for _name, host, ptr in self._in_plan:
            self.stream.h2d(ptr, host, host.nbytes)
        self._record(events[1])
        values = self._run_bound()
        self._record(events[2])
        if self._out_plan is not None:  # outputs bound once: the same buffers every time
            outputs = {}
            for name, host, ptr in self._out_plan:
                if copy_outputs and host.nbytes:
                    self.stream.d2h(host, ptr, host.nbytes)
                outputs[name] = host
        else:
            outputs = self._copy_out(values, copy_outputs)
        self._record(events[3])
        self.stream.synchronize()
        wall = (time.perf_counter() - start) * 1e3
        if self.phases:
            e0, e1, e2, e3 = events
            self.last = {"h2d_ms": e1.elapsed_ms(e0), "compute_ms": e2.elapsed_ms(e1), "d2h_ms": e3.elapsed_ms(e2),
                         "wall_ms": wall}
        else:
            self.last = {"wall_ms": wall}
        if self.device_outputs is None and not any(k.startswith("out:") for k in self.pinned) \
                and all(v.data_type() in ORT_DTYPES for v in values):
            self._bind_outputs_static(values)
        return outputs  # host buffers reused by the next call (as TensorRT's runner does): copy to keep them

    def _copy_out(self, values, copy_outputs: bool) -> dict[str, np.ndarray]:
        """Outputs ORT allocated this run: host arrays of their shapes (page-locked where one fits)."""
        outputs = {}
        for name, dev in zip(self.output_names, values):
            shape, dtype = tuple(dev.shape()), ORT_DTYPES.get(dev.data_type())
            if dtype is None:  # a type without a plain host layout (string, sequence): ORT copies it
                outputs[name] = dev.numpy()
                continue
            pinned = self.pinned.get("out:" + name)
            host = pinned.array if pinned is not None and pinned.array.shape == shape else np.empty(shape, dtype)
            if copy_outputs and host.nbytes:
                self.stream.d2h(host, dev.data_ptr(), host.nbytes)
            outputs[name] = host
        return outputs

    def _record(self, event) -> None:
        if event is not None:
            event.record(self.stream)

    def close(self) -> None:
        for event in getattr(self, "events", ()):
            event.close()
        for buf in getattr(self, "pinned", {}).values():
            buf.free()
        self.events, self.pinned, self.binding, self.device_outputs = [], {}, None, None


def open_timed(spec, model, feeds: dict[str, np.ndarray], profile_prefix: str | None = None):
    """(backend, runner, stream or None) for ``spec`` (an ``onnxrt`` BackendSpec) on ``model`` (a ModelProto)."""
    stream = None
    if spec.options.get("cuda"):
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            from trtlab.trt.cuda import Stream

            stream = Stream()
    backend = TimedOnnxrtBackend(spec, stream=stream, profile_prefix=profile_prefix)
    backend.load(model)
    return backend, OrtRunner(backend, feeds), stream
