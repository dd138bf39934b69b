"""Hybrid backend: run a model as a sequence of segments, each on its own backend.

``hybrid:DIR`` runs a partition folder written by ``trtlab surgeon --isolate-unsupported -o DIR``: TensorRT
segments on TensorRT, fallback segments on onnxrt. Where TensorRT cannot execute engines (no GPU, or
tensorrt_rtx on a machine without an RTX GPU), TensorRT segments run on onnxrt too, which still verifies the
partition itself (boundaries, order, types); ``info`` and ``notes`` say so. ``trt=onnxrt`` forces that.

``hybrid:MODEL.onnx`` runs a model rewritten by ``--substitute-plugins``: plugin nodes with their NumPy reference
implementations (shipped ones, plus those of ``spec=RULES.py``), everything else on onnxrt. Tensor names are the
model's own, so ``trtlab compare ORIGINAL --target hybrid:... --layerwise`` lines up tensor by tensor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from trtlab.backends import BackendSpec
from trtlab.backends.base import Backend
from trtlab.errors import TrtlabError

USAGE = "hybrid:DIR (a partition folder) or hybrid:MODEL.onnx[,spec=RULES.py] (a model with plugin nodes)"


@dataclass
class Stage:
    index: int
    kind: str  # trt | onnxrt | plugin
    runs_on: str
    inputs: list[str]
    outputs: list[str]
    model: onnx.ModelProto | None = None
    backend: Backend | None = None
    nodes: list = field(default_factory=list)  # plugin stages: NodeProtos
    assumed: dict = field(default_factory=dict)  # input name -> its partition.json entry, where its type is assumed
    latency_ms: list[float] = field(default_factory=list)


def _split_spec(spec: BackendSpec) -> tuple[str, BackendSpec]:
    rest = spec.text.partition(":")[2] if ":" in spec.text else ""
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    target = next((p for p in parts if "=" not in p), "")
    options: dict[str, str | bool] = {}
    for p in parts:
        if p != target:
            key, eq, value = p.partition("=")
            options[key.strip().lower()] = value.strip() if eq else True
    return target, BackendSpec(spec.name, options, spec.text)


class HybridBackend(Backend):
    known_options = ("trt", "spec", "threads")

    def __init__(self, spec: BackendSpec):
        target, spec = _split_spec(spec)
        super().__init__(spec)
        if not target:
            raise TrtlabError(f"backend '{spec}'", "no partition folder or model given", f"use {USAGE}")
        self.target = Path(target)
        if not self.target.exists():
            raise TrtlabError(f"backend '{spec}'", f"{target} not found", f"use {USAGE}")
        if str(self.options.get("trt", "auto")) not in ("auto", "onnxrt", "trt"):
            raise TrtlabError(f"backend '{spec}'", "trt= must be auto, trt or onnxrt", "e.g. hybrid:DIR,trt=onnxrt")
        self.stages: list[Stage] = []
        self._all_produced: set[str] = set()

    # --- loading -------------------------------------------------------------------------------------------

    def _load(self, model: onnx.ModelProto, outputs: list[str] | None) -> None:
        wanted = list(outputs or [])
        if self.target.is_dir():
            self._load_partition(wanted)
        else:
            self._load_plugins(wanted)
        produced = {o for s in self.stages for o in s.outputs} | self._all_produced
        self.exposed = list(dict.fromkeys(self.graph_outputs + [n for n in wanted if n in produced]))
        self.info.update({"mode": self.mode, "target": str(self.target),
                          "segments": [{"index": s.index, "kind": s.kind, "runs_on": s.runs_on,
                                        "inputs": len(s.inputs), "outputs": len(s.outputs)} for s in self.stages]})

    def _trt_runs_here(self) -> tuple[bool, str]:
        choice = str(self.options.get("trt", "auto"))
        if choice == "onnxrt":
            return False, "trt=onnxrt given"
        from trtlab.backends.trt import can_execute

        ok, why = can_execute(None)
        if not ok and choice == "trt":
            from trtlab.errors import UnavailableError

            raise UnavailableError("hybrid (trt=trt)", why, "drop trt=trt to run TensorRT segments on onnxrt")
        return ok, why

    def _ort(self, proto: onnx.ModelProto, wanted: list[str]) -> Backend:
        from trtlab.backends import parse_spec
        from trtlab.backends.onnxrt import OnnxrtBackend

        threads = self.options.get("threads")
        be = OnnxrtBackend(parse_spec("onnxrt" + (f":threads={threads}" if threads not in (None, True) else "")))
        produced = {o for n in proto.graph.node for o in n.output}
        return be.load(proto, [n for n in wanted if n in produced])

    def _check_identity(self, info: dict) -> None:
        """The partition must come from the model being compared: the sha256 of its .onnx file."""
        given = getattr(self, "model_sha256", None)
        stored = (info.get("model") or {}).get("sha256")
        if given is None:
            return  # the caller does not know the model's identity (run --hybrid DIR)
        if stored is None:
            from trtlab.ui import warn

            why = ("written by -p isolate-unsupported inside a pipeline" if "sha256" in (info.get("model") or {})
                   else "written by an older trtlab")
            msg = (f"{self.target}/partition.json records no model sha256 ({why}): cannot check that it was "
                   "partitioned from this model")
            self.notes.append(msg)
            warn(msg)
            return
        if stored == given:
            return
        raise TrtlabError(f"hybrid:{self.target}", f"partition {self.target} was made from another model "
                          f"(sha256 differs: {stored[:12]}… in partition.json, {given[:12]}… given)",
                          f"re-run trtlab surgeon MODEL --isolate-unsupported -o {self.target}")

    def _load_partition(self, wanted: list[str]) -> None:
        from trtlab.partition.folder import read_dir

        self.mode = "partition"
        info, models = read_dir(self.target)
        self._check_identity(info)
        self.graph_outputs = [t["name"] for t in info.get("outputs", [])]
        trt_ok, why = self._trt_runs_here()
        n_trt = sum(1 for s in info["segments"] if s["backend"] == "trt")
        if n_trt and not trt_ok:
            self.notes.append(f"TensorRT segments ({n_trt}) ran on onnxrt: TensorRT cannot execute engines here "
                              f"({why}). This verifies the partition (boundaries, order, types) on the CPU, "
                              "not TensorRT's numerics")
        if info.get("prediction"):
            self.notes.append("the partition was planned from trtlab's static support table (a prediction), not a "
                              "TensorRT parser")
        for seg, proto in zip(info["segments"], models):
            kind = seg["backend"]
            assumed = {t["name"]: t for t in seg["inputs"] if str(t.get("typed", "")).startswith("assumed")}
            stage = Stage(seg["index"], kind, "onnxrt", [t["name"] for t in seg["inputs"]],
                          [t["name"] for t in seg["outputs"]], proto, assumed=assumed)
            if kind == "trt" and trt_ok:
                from trtlab.backends import parse_spec
                from trtlab.backends.trt import TrtBackend

                produced = {o for n in proto.graph.node for o in n.output}
                stage.backend = TrtBackend(parse_spec("trt")).load(proto, [n for n in wanted if n in produced])
                stage.runs_on = "trt"
            else:
                stage.backend = self._ort(proto, wanted)
            stage.outputs = list(dict.fromkeys(stage.outputs + stage.backend.exposed))
            self.stages.append(stage)
        self.info["trt_executed"] = bool(n_trt and trt_ok)

    def _load_plugins(self, wanted: list[str]) -> None:
        from trtlab.model import load_model
        from trtlab.partition.plan import Segment, boundaries, group
        from trtlab.plugins.rewrite import references

        self.mode = "plugins"
        rules = []
        if self.options.get("spec"):
            from trtlab.plugins.spec import load_rules

            rules = load_rules(str(self.options["spec"]))
        self.refs = references(rules)
        proto = load_model(self.target, check=False).proto
        graph = proto.graph
        self.graph_outputs = [o.name for o in graph.output]
        self._all_produced = {o for n in graph.node for o in n.output if o}
        standard = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")
        labels = ["plugin" if n.domain not in standard and n.op_type in self.refs else "onnxrt" for n in graph.node]
        unknown = sorted({n.op_type for n in graph.node if n.domain not in standard and n.op_type not in self.refs})
        if unknown:  # onnxrt has no kernel for them either: say so before it fails with its own message
            given = f" ({self.options['spec']} has none)" if self.options.get("spec") else ""
            raise TrtlabError(f"hybrid:{self.target}", f"plugin op(s) {', '.join(unknown)} have no reference "
                              f"implementation to run on the CPU{given}",
                              f"give one in a Python spec (a rule's 'reference') and pass it: --target "
                              f"hybrid:{self.target},spec=RULES.py (docs/plugins.md)")
        segs = [Segment(k, lab, ids) for k, (lab, ids) in enumerate(group(graph, labels))]
        boundaries(graph, segs)
        self._protos = {}
        for seg in segs:
            stage = Stage(seg.index, seg.backend, "numpy" if seg.backend == "plugin" else "onnxrt", seg.inputs,
                          seg.outputs)
            if seg.backend == "plugin":
                stage.nodes = [graph.node[i] for i in seg.node_ids]
                stage.outputs = list(dict.fromkeys(o for n in stage.nodes for o in n.output if o))
            else:
                self._protos[seg.index] = (proto, seg, wanted)  # typed from the first feeds (plugin outputs)
            self.stages.append(stage)
        n_plugins = sum(len(s.nodes) for s in self.stages)
        self.notes.append(f"{n_plugins} plugin node(s) ran on their NumPy reference implementations, the rest on "
                          "onnxrt")

    def _lazy_ort(self, stage: Stage, env: dict) -> None:
        """Build an onnxrt segment with input types taken from the arrays that feed it."""
        from trtlab.partition.plan import segment_model

        proto, seg, wanted = self._protos.pop(stage.index)
        types = {n: (onnx.helper.np_dtype_to_tensor_dtype(env[n].dtype), list(env[n].shape)) for n in seg.inputs
                 if n in env}
        stage.model = segment_model(proto, seg, types)
        stage.backend = self._ort(stage.model, wanted)
        stage.outputs = list(dict.fromkeys(stage.outputs + stage.backend.exposed))

    # --- running -------------------------------------------------------------------------------------------

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env = dict(feeds)
        for stage in self.stages:
            missing = [n for n in stage.inputs if n not in env]
            if missing:
                raise TrtlabError(f"hybrid segment {stage.index}", f"inputs {', '.join(missing)} were not produced",
                                  "rewrite the partition folder (its segments no longer fit together)")
            _check_assumed(stage, env)
            start = time.perf_counter()
            if stage.kind == "plugin":
                env.update(self._run_plugins(stage, env))
            else:
                if stage.backend is None:
                    self._lazy_ort(stage, env)
                env.update(stage.backend.run({n: env[n] for n in stage.inputs}))
            stage.latency_ms.append((time.perf_counter() - start) * 1e3)
        self.info["segment_latency_ms"] = [round(float(np.median(s.latency_ms)), 4) for s in self.stages]
        return {n: env[n] for n in self.exposed if n in env}

    def _run_plugins(self, stage: Stage, env: dict) -> dict:
        out = {}
        for node in stage.nodes:
            attrs = {a.name: _attr_value(a) for a in node.attribute}
            args = [env.get(i, out.get(i)) if i else None for i in node.input]
            try:
                values = self.refs[node.op_type](*args, **attrs)
                if isinstance(values, np.ndarray):
                    values = (values,)
                values = [np.asarray(v) for v in values]
            except TrtlabError:
                raise
            except Exception as exc:
                raise TrtlabError(f"plugin {node.op_type} ({node.name})", f"the reference implementation raised "
                                  f"{type(exc).__name__}: {exc}", "check its inputs and attributes, and that it "
                                  "returns a tuple of arrays, one per output") from None
            out.update({name: v for name, v in zip(node.output, values) if name})
            env.update(out)
        return out

    def close(self) -> None:
        for stage in self.stages:
            if stage.backend is not None:
                stage.backend.close()


def _check_assumed(stage: Stage, env: dict) -> None:
    """A boundary type the partition ASSUMED (trtlab.partition.boundary) that the arrays contradict: say which
    assumption failed and how to give the real type, before the segment fails on it with its own message."""
    for name, entry in stage.assumed.items():
        value = np.asarray(env[name])
        dtype, shape = entry.get("dtype"), entry.get("shape")
        wrong = []
        if dtype and onnx.helper.np_dtype_to_tensor_dtype(value.dtype) != getattr(onnx.TensorProto, dtype.upper(), 0):
            wrong.append(f"dtype {value.dtype} (assumed {dtype})")
        if shape is not None and (len(shape) != value.ndim or
                                  any(d is not None and d != v for d, v in zip(shape, value.shape))):
            wrong.append(f"shape {list(value.shape)} (assumed {['?' if d is None else d for d in shape]})")
        if wrong:
            raise TrtlabError(f"hybrid segment {stage.index}", f"input {name} arrived with {' and '.join(wrong)}; its "
                              f"type was {entry['typed']}",
                              f"add a value_info with {name}'s real dtype and shape to the model "
                              "(onnx.helper.make_tensor_value_info; the model's own value_info is trusted first), "
                              "then re-run trtlab surgeon MODEL --isolate-unsupported -o DIR")


def _attr_value(a: onnx.AttributeProto):
    v = onnx.helper.get_attribute_value(a)
    return v.decode() if isinstance(v, bytes) else v
