"""Rules shipped with trtlab (``--substitute-plugins builtin``, or ``builtin:layernorm,gelu-erf``).

- ``layernorm``: PyTorch's decomposed LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) ->
  ``LayerNormalization`` (ai.onnx opset 17, imported natively by TensorRT).
- ``gelu-erf`` / ``gelu-tanh``: exact and tanh-approximated GELU as exported op by op -> ``Gelu`` (ai.onnx opset 20,
  ``approximate`` none / tanh). Models below opset 20 are converted first (onnx's version converter).
- ``nms-efficientnms``: a NonMaxSuppression at the end of the graph (its selected indices are a graph output, its
  thresholds constants) -> ``EfficientNMS_TRT`` (TensorRT plugin, with a NumPy reference implementation). The
  plugin's outputs differ from NonMaxSuppression's (boxes, scores and classes instead of indices), so the graph
  outputs change; the inputs keep their names.
"""

from __future__ import annotations

from trtlab.plugins.reference import efficient_nms
from trtlab.plugins.rules import PLUGIN_DOMAIN, ConstRef, Pattern, PatternNode, Replacement, Rule

N = PatternNode


def _ln_pattern(square: str, normalize: str) -> Pattern:
    sq = N("sq", "Pow", ["sub", ConstRef(value=2.0)]) if square == "pow" else N("sq", "Mul", ["sub", "sub"])
    nodes = [N("mean", "ReduceMean", ["x"], attrs={"axes": "last", "keepdims": 1}),
             N("sub", "Sub", ["x", "mean"]), sq,
             N("var", "ReduceMean", ["sq"], attrs={"axes": "last", "keepdims": 1}),
             N("add_eps", "Add", ["var", ConstRef("eps", scalar=True)]),
             N("sqrt", "Sqrt", ["add_eps"])]
    if normalize == "div":
        nodes.append(N("norm", "Div", ["sub", "sqrt"]))
    else:
        nodes += [N("recip", "Reciprocal", ["sqrt"]), N("norm", "Mul", ["sub", "recip"])]
    nodes += [N("mul", "Mul", ["norm", ConstRef("gamma")]), N("add", "Add", ["mul", ConstRef("beta")])]
    return Pattern(nodes, ["add"], ["x"])


def _ln_check(m) -> str | None:
    g, b = m.values["gamma"], m.values["beta"]
    if g.ndim > 1 and any(d != 1 for d in g.shape[:-1]) or b.ndim > 1 and any(d != 1 for d in b.shape[:-1]):
        return f"scale {list(g.shape)} / bias {list(b.shape)} are not per-channel vectors over the last axis"
    x_shape = m.shape(m.vars["x"])
    if x_shape and x_shape[-1] is not None and g.size not in (1, x_shape[-1]):
        return f"scale has {g.size} values but the last axis of '{m.vars['x']}' has {x_shape[-1]}"
    return None


def _ln_build(m, ctx):
    """Scale and bias must be 1-D of the normalised size: reshape [1,1,D] constants into new initializers."""
    scale = ctx.vector(m.consts["gamma"], m.values["gamma"])
    bias = ctx.vector(m.consts["beta"], m.values["beta"])
    return [ctx.node("LayerNormalization", [m.vars["x"], scale, bias], m.outputs, axis=-1,
                     epsilon=m.scalar("eps"))]


LAYERNORM = Rule(
    name="layernorm", description="decomposed LayerNorm (ReduceMean/Sub/Pow/.../Mul/Add) -> LayerNormalization",
    patterns=[_ln_pattern("pow", "div"), _ln_pattern("mul", "div"), _ln_pattern("pow", "recip")],
    replacement=Replacement("LayerNormalization", min_opset=17), check=_ln_check, build=_ln_build)

SQRT2 = 1.4142135623730951


def _gelu_erf_patterns() -> list[Pattern]:
    scaled = [N("div", "Div", ["x", ConstRef(value=SQRT2)])]
    scaled_mul = [N("div", "Mul", ["x", ConstRef(value=1 / SQRT2)])]
    out = []
    for scale in (scaled, scaled_mul):
        core = scale + [N("erf", "Erf", ["div"]), N("add1", "Add", ["erf", ConstRef(value=1.0)])]
        # 0.5 * (x * (1 + erf)) as torch exports it, and (0.5 * x) * (1 + erf) as hand-written models do
        out.append(Pattern(core + [N("mulx", "Mul", ["x", "add1"]), N("half", "Mul", ["mulx", ConstRef(value=0.5)])],
                           ["half"], ["x"]))
        out.append(Pattern(core + [N("halfx", "Mul", ["x", ConstRef(value=0.5)]), N("out", "Mul", ["halfx", "add1"])],
                           ["out"], ["x"]))
    return out


def _gelu_tanh_patterns() -> list[Pattern]:
    out = []
    # x^3 as Pow(x, 3), or as torch exports it: x * (x * x)
    for cube in ([N("cube", "Pow", ["x", ConstRef(value=3.0)])],
                 [N("sq", "Mul", ["x", "x"]), N("cube", "Mul", ["x", "sq"])]):
        inner = cube + [N("cmul", "Mul", ["cube", ConstRef(value=0.044715)]), N("inner", "Add", ["x", "cmul"]),
                        N("smul", "Mul", ["inner", ConstRef(value=0.7978845608028654)]),
                        N("tanh", "Tanh", ["smul"]), N("add1", "Add", ["tanh", ConstRef(value=1.0)])]
        out.append(Pattern(inner + [N("halfx", "Mul", ["x", ConstRef(value=0.5)]),
                                    N("out", "Mul", ["halfx", "add1"])], ["out"], ["x"]))
        out.append(Pattern(inner + [N("mulx", "Mul", ["x", "add1"]), N("out", "Mul", ["mulx", ConstRef(value=0.5)])],
                           ["out"], ["x"]))
    return out


GELU_ERF = Rule(name="gelu-erf", description="x * 0.5 * (1 + erf(x / sqrt 2)) -> Gelu (opset 20)",
                patterns=_gelu_erf_patterns(),
                replacement=Replacement("Gelu", inputs=["x"], attributes={"approximate": "none"}, min_opset=20))
GELU_TANH = Rule(name="gelu-tanh", description="0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) -> Gelu(tanh)",
                 patterns=_gelu_tanh_patterns(),
                 replacement=Replacement("Gelu", inputs=["x"], attributes={"approximate": "tanh"}, min_opset=20))


def _nms_check(m) -> str | None:
    sel = m.outputs[0]
    readers = [n for n in m.graph.node if sel in n.input]
    if readers:
        return (f"its selected indices '{sel}' are read by {len(readers)} node(s) ('{readers[0].name}'): "
                "EfficientNMS_TRT returns boxes/scores/classes, not indices, so only an NMS whose indices are a graph "
                "output is replaced (cut the graph after the NMS with --extract first)")
    if sel not in {o.name for o in m.graph.output}:
        return f"its selected indices '{sel}' are not a graph output"
    return None


def _nms_build(m, ctx):
    sel = m.outputs[0]
    scores_t = ctx.fresh(f"{m.vars['scores']}_bnc")
    outs = [f"{sel}_num_detections", f"{sel}_boxes", f"{sel}_scores", f"{sel}_classes"]
    attrs = {"score_threshold": m.scalar("score_thr"), "iou_threshold": m.scalar("iou"),
                 "max_output_boxes": int(m.scalar("max_out")), "background_class": -1, "score_activation": 0,
                 "box_coding": int(m.attr("nms", "center_point_box", 0)), "class_agnostic": 0}
    nodes = [ctx.node("Transpose", [m.vars["scores"]], [scores_t], perm=[0, 2, 1]),
             ctx.plugin(NMS.replacement, [m.vars["boxes"], scores_t], outs, **attrs)]
    ctx.replace_graph_output(sel, outs)
    ctx.notes.append(f"graph output '{sel}' (selected indices) replaced by {', '.join(outs)}: EfficientNMS_TRT "
                     f"keeps the best {attrs['max_output_boxes']} boxes over all classes, where NonMaxSuppression "
                     "kept that many per class")
    return nodes


NMS = Rule(
    name="nms-efficientnms", description="NonMaxSuppression at the end of the graph -> EfficientNMS_TRT plugin",
    patterns=[Pattern([N("nms", "NonMaxSuppression", ["boxes", "scores", ConstRef("max_out", scalar=True),
                                                      ConstRef("iou", scalar=True),
                                                      ConstRef("score_thr", scalar=True)])],
                      ["nms"], ["boxes", "scores"])],
    replacement=Replacement("EfficientNMS_TRT", domain=PLUGIN_DOMAIN, version="1", namespace=""),
    check=_nms_check, build=_nms_build, reference=efficient_nms)

# name -> rule (literal on purpose)
SHIPPED = {r.name: r for r in (LAYERNORM, GELU_ERF, GELU_TANH, NMS)}
