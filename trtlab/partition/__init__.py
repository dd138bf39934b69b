"""Partition: split a model into TensorRT segments and fallback segments.

Owns which nodes TensorRT supports (``support``: the parser's answer or a labelled static prediction), the
segment plan (``plan``: grouping, boundaries, one standalone model per segment) and the partition folder
(``folder``: partition.json and the segment files, written atomically). Used by the isolate-unsupported pass
and the hybrid backend, so it sits beside them in the layer order, above the TensorRT wrapper only.
"""

DEFAULT_MIN_SIZE = 3  # --min-segment-size: TensorRT segments with fewer nodes go to the fallback
