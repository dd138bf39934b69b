"""trtlab: a workbench for getting ONNX models onto NVIDIA TensorRT.

Importing this package stays light: onnxruntime, TensorRT and matplotlib are imported only by the
code paths that use them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
