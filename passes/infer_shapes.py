"""infer-shapes: run ONNX shape inference and store the result as value_info.

Rewrite: value_info gets a type and shape for every tensor inference can type (stale value_info is dropped
first, so a wrong stored shape is replaced, not merged). Inference runs in strict mode first; when strict mode
fails the exact reason is reported and lenient inference is kept.
"""

from __future__ import annotations

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult


def run(model: onnx.ModelProto, data_prop: bool = True) -> PassResult:
    from trtlab.model import is_large

    if is_large(model):
        return PassResult(model, [], ["not inferred: the model is over 2 GB and onnx shape inference needs it in "
                                      "memory as one protobuf"], modified=False)
    for g in gu.walk_graphs(model.graph):
        del g.value_info[:]
    skipped = []
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=data_prop)
    except Exception as exc:
        skipped.append("strict shape inference failed: " + " ".join(str(exc).split())[:300])
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=data_prop)
        except Exception as exc2:
            skipped.append("lenient shape inference failed too: " + " ".join(str(exc2).split())[:300])
            return PassResult(model, [], skipped, modified=False)
    typed = sum(len(g.value_info) for g in gu.walk_graphs(inferred.graph))
    return PassResult(inferred, [f"{typed} intermediate tensor(s) typed"], skipped, modified=True)


INFER_SHAPES = Pass(name="infer-shapes", description="ONNX shape inference, strict, reporting failures", run=run,
                    options={"data_prop": "propagate shape values through Shape/Gather/Concat (default on)"})
