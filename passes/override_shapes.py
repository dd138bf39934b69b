"""override-input-shapes: give graph inputs new (usually static) shapes, so Shape chains can fold.

Rewrite: the listed inputs' dims are replaced (``name:1x3x224x224``); stored value_info and output dims are
dropped (they described the old shapes) and shape inference fills them again. An input name that does not exist,
or a shape whose rank or fixed dims contradict the model, is an error (exit 2): only dynamic dims (named or
unknown) can be overridden. A fixed dim is usually baked into the graph as well (Reshape targets, Gemm weights),
so changing it makes a different model or none at all, and there is no original left to verify against.

Verification (``trtlab surgeon``) builds its inputs from the override up front, so every pass, before and after
this one, is compared at the overridden shapes.
"""

from __future__ import annotations

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult

from trtlab.errors import TrtlabError


def run(model: onnx.ModelProto, shapes: dict[str, list[int]] | list[str] | None = None) -> PassResult:
    from trtlab.inputs import dims_of

    shapes = shape_items(shapes)
    if not shapes:
        raise TrtlabError("override-input-shapes", "no shapes given", "e.g. --override-input-shapes input:1x3x224x224")
    check_shapes(model, shapes)
    inputs = {vi.name: vi for vi in model.graph.input}
    notes = []
    for name, dims in shapes.items():
        tt = inputs[name].type.tensor_type
        old = dims_of(inputs[name].type)
        tt.ClearField("shape")
        tt.shape.SetInParent()
        for d in dims:
            tt.shape.dim.add().dim_value = int(d)
        notes.append(f"{name}: {old} -> {list(dims)}")
    for g in gu.walk_graphs(model.graph):
        del g.value_info[:]
    for out in model.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:
        return PassResult(model, notes, ["shape inference after the override failed: " + str(exc)[:200]])
    return PassResult(model, notes, modified=True)


def shape_items(shapes) -> dict[str, list[int]]:
    """The option's value (``name:SHAPE`` strings, or a dict) as name -> dims."""
    from trtlab.inputs import parse_shape_args

    if isinstance(shapes, dict):
        return {k: [int(d) for d in v] for k, v in shapes.items()}
    if isinstance(shapes, str):
        shapes = [shapes]
    return parse_shape_args(list(shapes or []))


def check_shapes(model: onnx.ModelProto, shapes: dict[str, list[int]]) -> None:
    """Raise (exit 2) for an input that does not exist, a wrong rank, or a change of a fixed dim."""
    from trtlab.inputs import dims_of

    inputs = {vi.name: vi for vi in model.graph.input}
    for name, dims in shapes.items():
        if name not in inputs:
            raise TrtlabError(f"--override-input-shapes {name}", "the model has no input of that name",
                              f"inputs are: {', '.join(inputs) or '(none)'}")
        old = dims_of(inputs[name].type)
        if old is None:
            continue
        if len(old) != len(dims):
            raise TrtlabError(f"--override-input-shapes {name}", f"rank {len(dims)} does not fit the input's rank "
                              f"{len(old)}", f"give {len(old)} dims")
        fixed = [(i, o, d) for i, (o, d) in enumerate(zip(old, dims)) if isinstance(o, int) and o != d]
        if fixed:
            what = ", ".join(f"dim {i} is fixed at {o} (asked {d})" for i, o, d in fixed)
            keep = "x".join(str(o) if isinstance(o, int) else str(d) for o, d in zip(old, dims))
            raise TrtlabError(f"--override-input-shapes {name}", f"{what}; only dynamic dims can be overridden "
                              "(a fixed dim is usually baked into the graph too, e.g. Reshape targets)",
                              f"keep the fixed dims ({name}:{keep}), or re-export the model with that dim dynamic")


OVERRIDE_SHAPES = Pass(name="override-input-shapes", description="set input shapes (name:1x3x224x224) so shape "
                       "chains can fold", run=run, options={"shapes": "name:SHAPE items, or a dict name -> dims"})
