"""trtlab: a workbench for getting ONNX models onto NVIDIA TensorRT.

Importing this package stays light: onnxruntime, TensorRT and matplotlib are imported only by the
code paths that use them.
"""

__version__ = "0.1.0"

# The Python API (trtlab.api), imported on first use so that ``import trtlab`` stays light.
API = ("inspect", "compare", "surgeon", "check", "build", "reduce", "InputOptions", "CompareResult",
       "SurgeonResult", "CheckResult", "BuildResult", "ReduceResult", "InspectResult")

__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        import importlib

        return getattr(importlib.import_module("trtlab.api"), name)
    raise AttributeError(f"module 'trtlab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *API])
