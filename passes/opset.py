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


def check_target(target) -> int:
    """The target opset as an int in the range the installed onnx knows; else TrtlabError (exit 2)."""
    newest = onnx.defs.onnx_opset_version()
    try:
        value = int(target)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(target, bool) or not 1 <= value <= newest:
        raise TrtlabError(f"--opset {target}", f"not an ai.onnx opset the installed onnx {onnx.__version__} knows "
                          f"(1 to {newest})", f"choose a target between 1 and {newest}, e.g. --opset {DEFAULT_TARGET}")
    return value


def run(model: onnx.ModelProto, target: int | str = DEFAULT_TARGET) -> PassResult:
    target = check_target(target)
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
