"""CUDA through cuda-python (``cuda.bindings.runtime``): device facts, device buffers, streams and events.

Everything returns or raises plainly; no CUDA context is touched at import time.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError, UnavailableError

CUDA_HINT = "pip install 'trtlab[gpu]' (cuda-python) on a machine with an NVIDIA GPU and driver"


@functools.lru_cache(maxsize=1)
def runtime():
    """The CUDA runtime bindings (cached: timing loops call this several times per iteration)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python 12.x layout
        except ImportError:
            raise UnavailableError("cuda-python", "not installed", CUDA_HINT) from None
    return cudart


def check(result, what: str):
    """Unpack a cuda-python ``(err, *values)`` tuple; raise on an error code."""
    cudart = runtime()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        _e, name = cudart.cudaGetErrorName(err)
        raise TrtlabError(f"CUDA {what}", f"failed with {name.decode() if isinstance(name, bytes) else name}",
                          "check `trtlab doctor`: driver, GPU and CUDA runtime", code=3)
    return values[0] if len(values) == 1 else (tuple(values) if values else None)


@dataclass
class DeviceInfo:
    source: str  # cuda-python | nvidia-smi | none
    driver_version: str | None = None
    runtime_version: str | None = None
    gpus: list[dict] = field(default_factory=list)  # {index, name, compute_capability}
    error: str | None = None


def _ver(v: int | None) -> str | None:
    return None if not v else f"{v // 1000}.{(v % 1000) // 10}"


@functools.lru_cache(maxsize=2)
def device_info(fast: bool = True) -> DeviceInfo:
    """GPU facts via cuda-python, else nvidia-smi, else 'no GPU' (with the reason).

    ``fast``: on Linux without /dev/nvidiactl and without nvidia-smi, answer 'no GPU' without importing CUDA.
    """
    if fast and sys.platform.startswith("linux") and not os.path.exists("/dev/nvidiactl") \
            and not shutil.which("nvidia-smi"):
        return DeviceInfo("none", error="no GPU: no NVIDIA device (/dev/nvidiactl absent, nvidia-smi not found)")
    try:
        cudart = runtime()
    except UnavailableError:
        return _nvidia_smi("cuda-python not installed")
    info = DeviceInfo("cuda-python")
    err, v = cudart.cudaRuntimeGetVersion()
    info.runtime_version = _ver(v) if err == cudart.cudaError_t.cudaSuccess else None
    err, v = cudart.cudaDriverGetVersion()
    info.driver_version = _ver(v) if err == cudart.cudaError_t.cudaSuccess else None
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess:
        _e, name = cudart.cudaGetErrorName(err)
        smi = _nvidia_smi(f"cudaGetDeviceCount: {name.decode() if isinstance(name, bytes) else name}")
        smi.runtime_version = info.runtime_version
        return smi
    for i in range(count):
        err, props = cudart.cudaGetDeviceProperties(i)
        if err == cudart.cudaError_t.cudaSuccess:
            name = (props.name.decode(errors="replace").rstrip("\x00") if isinstance(props.name, bytes)
                    else str(props.name))
            info.gpus.append({"index": i, "name": name, "compute_capability": f"{props.major}.{props.minor}"})
    return info


def _nvidia_smi(reason: str) -> DeviceInfo:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return DeviceInfo("none", error=f"no GPU: {reason}; nvidia-smi not found")
    try:
        text = subprocess.run([exe, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        return DeviceInfo("none", error=f"no GPU: {reason}; nvidia-smi failed ({exc})")
    info = DeviceInfo("nvidia-smi", error=reason)
    for i, line in enumerate(filter(None, text.strip().splitlines())):
        name, cc, driver = [p.strip() for p in line.split(",")[:3]]
        info.gpus.append({"index": i, "name": name, "compute_capability": cc})
        info.driver_version = driver
    return info


class DeviceBuffer:
    """``nbytes`` of device memory; grows on demand (``ensure``)."""

    def __init__(self, nbytes: int = 0):
        self.ptr, self.nbytes = 0, 0
        self.ensure(nbytes)

    def ensure(self, nbytes: int) -> int:
        if nbytes > self.nbytes:
            self.free()
            self.ptr = int(check(runtime().cudaMalloc(max(nbytes, 1)), "cudaMalloc"))
            self.nbytes = nbytes
        return self.ptr

    def free(self) -> None:
        if self.ptr:
            check(runtime().cudaFree(self.ptr), "cudaFree")
        self.ptr, self.nbytes = 0, 0


class PinnedArray:
    """A numpy array in page-locked host memory (``cudaMallocHost``), as trtexec uses for its host buffers: copies
    to and from the device run at full speed and asynchronously. ``free()`` returns the memory."""

    def __init__(self, shape, dtype):
        import ctypes

        import numpy as np

        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, 1)
        self.ptr = int(check(runtime().cudaMallocHost(nbytes), "cudaMallocHost"))
        raw = (ctypes.c_byte * nbytes).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=np.uint8, count=nbytes)[: nbytes - nbytes % dtype.itemsize] \
            .view(dtype)[: int(np.prod(shape, dtype=np.int64))].reshape(shape)

    def free(self) -> None:
        if self.ptr:
            self.array = None
            check(runtime().cudaFreeHost(self.ptr), "cudaFreeHost")
            self.ptr = 0


class Stream:
    def __init__(self):
        self.handle = check(runtime().cudaStreamCreate(), "cudaStreamCreate")

    @property
    def ptr(self) -> int:
        return int(self.handle)

    def synchronize(self) -> None:
        check(runtime().cudaStreamSynchronize(self.handle), "cudaStreamSynchronize")

    def h2d(self, dst: int, host, nbytes: int) -> None:
        cudart = runtime()
        check(cudart.cudaMemcpyAsync(dst, host.ctypes.data, nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
                                     self.handle), "cudaMemcpyAsync H2D")

    def d2h(self, host, src: int, nbytes: int) -> None:
        cudart = runtime()
        check(cudart.cudaMemcpyAsync(host.ctypes.data, src, nbytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                     self.handle), "cudaMemcpyAsync D2H")

    def close(self) -> None:
        if self.handle is not None:
            check(runtime().cudaStreamDestroy(self.handle), "cudaStreamDestroy")
            self.handle = None


def copy_to_host(host, src: int, nbytes: int, stream: int) -> None:
    """Synchronous device-to-host copy on a raw stream handle (e.g. the one a debug listener is called with)."""
    cudart = runtime()
    check(cudart.cudaMemcpyAsync(host.ctypes.data, src, nbytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                 stream), "cudaMemcpyAsync D2H (debug tensor)")
    check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize (debug tensor)")


class Event:
    def __init__(self):
        self.handle = check(runtime().cudaEventCreate(), "cudaEventCreate")

    def record(self, stream: Stream) -> None:
        check(runtime().cudaEventRecord(self.handle, stream.handle), "cudaEventRecord")

    def elapsed_ms(self, since: Event) -> float:
        return float(check(runtime().cudaEventElapsedTime(since.handle, self.handle), "cudaEventElapsedTime"))

    def close(self) -> None:
        if self.handle is not None:
            check(runtime().cudaEventDestroy(self.handle), "cudaEventDestroy")
            self.handle = None
