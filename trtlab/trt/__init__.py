"""TensorRT: module discovery, parser checks, engine builds, provenance, Triton layout and the runner.

Nothing here imports ``tensorrt`` at import time; ``trtlab.trt.module.load`` does, when asked.
"""
