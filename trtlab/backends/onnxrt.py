"""ONNX Runtime backend. CPU by default; ``cuda`` when the CUDA provider is present.

The graph optimisation level defaults to ``disabled`` so that a reference run is as close to the ONNX spec as
ONNX Runtime gets; choose ``opt=basic|extended|all`` to test what ORT deploys.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx

from trtlab import weights
from trtlab.backends.base import Backend
from trtlab.errors import TrtlabError, UnavailableError
from trtlab.model import is_large, model_bytes, save_model

OPT_LEVELS = ("disabled", "basic", "extended", "all")
MANY_EXPOSED = 64  # more exposed tensors than this: a layer-wise session, run without an arena


def mark_outputs(model: onnx.ModelProto, names: list[str]) -> list[str]:
    """Add ``names`` (main-graph tensors only) as graph outputs; return the names that now are outputs."""
    produced = {o for n in model.graph.node for o in n.output if o}
    existing = {o.name for o in model.graph.output}
    added = []
    for name in names:
        if name in produced and name not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
            existing.add(name)
            added.append(name)
    return [o.name for o in model.graph.output]


def keep_only(model: onnx.ModelProto, names: list[str]) -> list[str]:
    """Make ``names`` the only graph outputs and drop the nodes none of them depends on (a layer-wise chunk then
    runs only the part of the model before its last tensor). Returns the outputs."""
    from trtlab.model import subgraphs, walk_nodes

    graph = model.graph
    needed, kept = set(names), []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
            for sub in subgraphs(node):  # outer-scope names read inside If/Loop/Scan bodies
                needed.update(i for n, _ in walk_nodes(sub) for i in n.input)
    typed = {o.name: o for o in graph.output}
    del graph.node[:]
    graph.node.extend(reversed(kept))
    outputs = [typed.get(n) or onnx.ValueInfoProto(name=n) for n in dict.fromkeys(names)]
    del graph.output[:]
    graph.output.extend(outputs)
    return [o.name for o in outputs]


def classify_ort_error(subject: str, exc: Exception) -> TrtlabError:
    text = " ".join(str(exc).split())
    short = text if len(text) < 400 else text[:397] + "..."
    if "NOT_IMPLEMENTED" in text or "No Op registered" in text or "not a registered function/op" in text:
        return UnavailableError(subject, f"onnxruntime cannot run this model: {short}",
                                "the model uses an op or type that onnxruntime has no kernel for; for custom-domain "
                                "ops register their library (e.g. onnxruntime-extensions), or check the model "
                                "with `trtlab inspect`")
    return TrtlabError(subject, f"onnxruntime refused the model: {short}",
                       "run `trtlab inspect MODEL` to see its inputs and opsets; try `trtlab surgeon` to clean it")


class OnnxrtBackend(Backend):
    known_options = ("cpu", "cuda", "fp16", "bf16", "opt", "threads", "keep", "tf32", "fold")

    def _providers(self, ort) -> list[str]:
        if self.options.get("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise UnavailableError("onnxrt:cuda", "the CUDA execution provider is not available here "
                                       f"(providers: {', '.join(ort.get_available_providers())})",
                                       "on a machine with an NVIDIA GPU, install the gpu flavour instead of the cpu "
                                       "one (README, GPU setup: pip uninstall -y onnxruntime && pip install "
                                       "'trtlab[gpu]'); or use onnxrt (CPU)")
            tf32 = self.options.get("tf32", True)
            # ORT's CUDA provider computes FP32 convolutions and matmuls in TF32 by default (10-bit mantissa);
            # tf32=0 asks for true FP32, the right reference for accuracy work.
            cuda_opts = {"use_tf32": "0" if str(tf32) in ("0", "false", "off") else "1"}
            self.info["tf32"] = cuda_opts["use_tf32"] == "1"
            return [("CUDAExecutionProvider", cuda_opts), "CPUExecutionProvider"]
        if "tf32" in self.options:
            raise TrtlabError(f"backend '{self.spec}'", "tf32 applies to the CUDA provider only",
                              "use onnxrt:cuda,tf32=0")
        return ["CPUExecutionProvider"]

    def _session_options(self, ort):
        so = ort.SessionOptions()
        level = str(self.options.get("opt", "disabled"))
        if level not in OPT_LEVELS:
            raise TrtlabError(f"backend '{self.spec}'", f"unknown optimisation level '{level}'",
                              f"opt= one of {', '.join(OPT_LEVELS)}")
        so.graph_optimization_level = {
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        threads = self.options.get("threads")
        if threads not in (None, True):
            try:
                so.intra_op_num_threads = int(threads)
            except ValueError:
                raise TrtlabError(f"backend '{self.spec}'", f"threads={threads} is not a number",
                                  "e.g. threads=2") from None
        so.log_severity_level = 4  # errors come back as exceptions (ERROR lines, too, went to stderr)
        if getattr(self, "lean", False) or len(getattr(self, "exposed", ())) > MANY_EXPOSED:
            # --max-memory, or a layer-wise run (every tensor comes back, so an arena has nothing to reuse and
            # only keeps a second copy): no arena or memory pattern that outlive a tensor, and an order that runs
            # a node when its inputs are ready, not all the weight Casts of the FP16 simulation first. On a
            # BERT-base export, layer-wise: peak 1.44 GB -> 1.09 GB, runs no slower.
            so.enable_cpu_mem_arena = False
            so.enable_mem_pattern = False
            so.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        self.info["graph_optimization_level"] = level
        return so

    def _load(self, model: onnx.ModelProto, outputs: list[str] | None) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # errors come back as exceptions; no coloured log lines on stderr
        work = onnx.ModelProto()
        work.CopyFrom(model)  # cheap when trtlab.weights holds the large initializers apart
        if self.precision != "fp32":
            work = self._rounded(work)
        self.exposed = mark_outputs(work, outputs or [])
        if getattr(self, "lean", False) and outputs:  # --max-memory chunks: only the requested tensors come back
            self.exposed = keep_only(work, [n for n in outputs if n in set(self.exposed)])
        self._own_tokens = weights.tokens(work) - weights.tokens(model)  # rounded copies made for this backend
        if getattr(self, "prepared", None) is not None:
            self._own_tokens = set()  # the cache's owner releases them (comparison/budget.py)
        providers = self._providers(ort)
        so = self._session_options(ort)
        self._weight_feeds = weights.as_graph_inputs(work)
        if self._weight_feeds:
            self.info["shared_weights_bytes"] = int(sum(a.nbytes for a in self._weight_feeds.values()))
        try:
            if is_large(work):
                self._tmp = tempfile.TemporaryDirectory(prefix="trtlab-ort-")
                path = save_model(work, os.path.join(self._tmp.name, "model.onnx"), external_data=True)
                self.session = ort.InferenceSession(str(path), so, providers=providers)
            else:
                self.session = ort.InferenceSession(model_bytes(work), so, providers=providers)
        except TrtlabError:
            raise
        except Exception as exc:
            raise classify_ort_error(f"onnxrt ({self.spec})", exc) from None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.info.update({
            "version": ort.__version__,
            "provider": self.session.get_providers()[0],
            "providers": self.session.get_providers(),
            "precision": self.precision,
        })

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(self.output_names, {**feeds, **self._weight_feeds} if self._weight_feeds
                                      else feeds)
        except Exception as exc:
            text = " ".join(str(exc).split())
            raise TrtlabError(f"onnxrt ({self.spec})", f"inference failed: {text[:400]}",
                              "check the input shapes and value ranges (--input-shapes, --val-range)") from None
        return {n: v for n, v in zip(self.output_names, values) if isinstance(v, np.ndarray)}

    def _rounded(self, work: onnx.ModelProto) -> onnx.ModelProto:
        """The half-precision simulation of ``work`` (backends.halfsim: fold and fuse like TensorRT, then round);
        with a ``prepared`` dict (set by a caller that loads the same model many times, e.g. --max-memory chunks)
        made once and copied (the proto is light)."""
        from trtlab.backends.halfsim import simulate

        keep, fold = self.keep_list(), self.fold_option()
        cache, key = getattr(self, "prepared", None), (self.precision, tuple(sorted(keep)), fold)
        if cache is not None and key in cache:
            base, notes, fused = cache[key]
        else:
            base, notes, fused = simulate(work, self.precision, keep, fold)
            if cache is not None:
                cache[key] = (base, notes, fused)
        self.notes.extend(notes)
        self.fused = fused
        out = onnx.ModelProto()
        out.CopyFrom(base)
        return out

    def close(self) -> None:
        self.session = None
        self._weight_feeds = {}
        for token in getattr(self, "_own_tokens", ()):
            weights.release(token)
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
