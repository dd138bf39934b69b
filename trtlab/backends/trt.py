"""TensorRT backend (placeholder until the TensorRT backend lands): reports that it cannot execute here."""

from __future__ import annotations

from trtlab.backends.base import Backend
from trtlab.errors import UnavailableError


def can_execute() -> tuple[bool, str]:
    """Whether a TensorRT engine can be executed on this machine, and why not."""
    return False, "no TensorRT runtime that can execute engines was found on this machine"


class TrtBackend(Backend):
    known_options = ("fp16", "bf16")

    def __init__(self, spec):
        ok, why = can_execute()
        if not ok:
            raise UnavailableError("trt", why, CPU_HINT)
        super().__init__(spec)


CPU_HINT = ("compare on the CPU instead: --target onnxrt:fp16 (FP16 storage simulated per layer), "
            "--target onnxrt:bf16, or --target reference")
