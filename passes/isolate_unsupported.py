"""isolate-unsupported: split the model into TensorRT segments and fallback segments, written to a folder.

The model itself is returned unchanged; the segments (one standalone .onnx each) and ``partition.json`` go to
``out_dir`` (written atomically). ``trtlab surgeon MODEL --isolate-unsupported -o DIR`` runs this and then
verifies the segment pipeline against the model; see ``trtlab.partition.plan`` for how segments are planned.
"""

from __future__ import annotations

import onnx
from trtlab.passes.base import Pass, PassResult

from trtlab.errors import TrtlabError


def run(model: onnx.ModelProto, out_dir=None, min_segment_size=3, static_support=False) -> PassResult:
    from trtlab.partition.folder import write_dir
    from trtlab.partition.plan import isolate

    if not out_dir:
        raise TrtlabError("isolate-unsupported", "no out_dir given", "-p isolate-unsupported:out_dir=DIR")
    part = isolate(model, min_size=int(min_segment_size), use_parser=not static_support)
    info = write_dir(out_dir, model, part)
    n_trt = sum(1 for s in info["segments"] if s["backend"] == "trt")
    notes = [f"{len(info['segments'])} segment(s) ({n_trt} TensorRT) written to {out_dir}"] + info["notes"]
    notes += [f"fallback {u['name']} ({u['op']}): {u['reason']}" for u in info["unsupported"]]
    return PassResult(model, notes, [], modified=False)


ISOLATE_UNSUPPORTED = Pass(
    name="isolate-unsupported", description="write TensorRT and fallback segments + partition.json to a folder",
    run=run, options={"out_dir": "folder for the segments and partition.json",
                      "min_segment_size": "TensorRT segments with fewer nodes go to the fallback (default 3)",
                      "static_support": "predict support from trtlab's static table instead of asking the parser"})
