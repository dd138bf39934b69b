"""opset: convert the model to another ai.onnx opset with the onnx version converter.

Rewrite: nodes are replaced by their equivalents in the target opset (e.g. Upsample -> Resize, Split/Squeeze
attributes -> inputs). Models with local functions or custom domains are converted where the converter allows;
when it refuses, the pass fails with the converter's reason and the model stays as it was.
"""

from __future__ import annotations

import onnx
from trtlab.passes.base import Pass, PassResult, main_opset

from trtlab.errors import TrtlabError

DEFAULT_TARGET = 17


def run(model: onnx.ModelProto, target: int | str = DEFAULT_TARGET) -> PassResult:
    target = int(target)
    current = main_opset(model)
    if current == target:
        return PassResult(model, [], [f"not converted: the model already is at opset {target}"], modified=False)
    try:
        converted = onnx.version_converter.convert_version(model, target)
    except Exception as exc:
        raise TrtlabError(f"pass opset {current} -> {target}", "the onnx version converter refused: "
                          + " ".join(str(exc).split())[:300], "try another --opset target, or export the model at "
                          "the opset you need", code=1) from None
    return PassResult(converted, [f"opset {current} -> {target}"], modified=True)


OPSET = Pass(name="opset", description="convert to another ai.onnx opset (onnx version converter)", run=run,
             options={"target": f"opset to convert to (default {DEFAULT_TARGET})"})
