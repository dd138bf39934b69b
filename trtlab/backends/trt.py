"""TensorRT backend for ``compare``: builds an engine from the model and runs it with ``trtlab.trt.runner``.

Options (``trt:fp16,mark=all``): ``fp16``/``bf16`` (graph-edit precision), ``keep=NODE+OP`` (kept in FP32),
``mark=debug|fused|all`` (how layer tensors are read), ``module=tensorrt|tensorrt_rtx``, ``workspace=SIZE``,
``opt=LEVEL``. The modes, recorded in the results as ``debug-unfused``, ``mark=fused`` and ``mark=all``:

- ``debug`` (default where the module has debug tensors: TensorRT 10.12+, TensorRT for RTX): one build with the
  unfused tensors as debug tensors; an ``IDebugListener`` copies the requested ones to the host. No extra outputs,
  no fusion prevented: the engine under test is the engine that ships.
- ``fused``: a first build finds the tensors that survive fusion (engine inspector), a second marks them as outputs.
- ``all``: every requested tensor is an output (fusions across them disabled).

Models with dynamic inputs are built on the first ``run``, with a profile fixed to that sample's shapes.
"""

from __future__ import annotations

import functools

from trtlab.backends.base import Backend
from trtlab.errors import TrtlabError, UnavailableError

CPU_HINT = ("compare on the CPU instead: --target onnxrt:fp16 (FP16 storage simulated per layer), "
            "--target onnxrt:bf16, or --target reference")


@functools.lru_cache(maxsize=4)
def can_execute(module: str | None = None) -> tuple[bool, str]:
    """Whether a TensorRT engine can be executed on this machine, and why not (probes with a tiny engine)."""
    from trtlab.trt import cuda
    from trtlab.trt.module import load

    try:
        trt = load(module)
    except TrtlabError as exc:
        return False, exc.problem
    info = cuda.device_info()
    if not info.gpus:
        return False, f"{info.error or 'no GPU found'} ({trt.name} {trt.version} can parse and build, not execute)"
    if info.source != "cuda-python":
        return False, f"cuda-python cannot use the GPU ({info.error}); install it: {cuda.CUDA_HINT}"
    gpu = info.gpus[0]
    ok, why = _probe(trt)
    if ok:
        return True, f"{trt.name} {trt.version} executes engines on {gpu['name']} (compute {gpu['compute_capability']})"
    return False, (f"{trt.name} {trt.version} cannot execute engines on {gpu['name']} (compute "
                   f"{gpu['compute_capability']}): {why}")


def _probe(trt) -> tuple[bool, str]:
    """Build and deserialize a one-layer engine: the only honest answer to 'can this module run here'."""
    from trtlab.trt.module import CapturingLogger

    logger = CapturingLogger.create(trt)
    builder = trt.mod.Builder(logger)
    network = builder.create_network(0)
    x = network.add_input("x", trt.mod.float32, (1, 4))
    network.mark_output(network.add_identity(x).get_output(0))
    plan = builder.build_serialized_network(network, builder.create_builder_config())
    if plan is None:
        return False, "building a one-layer engine failed: " + " | ".join(logger.errors()[-2:])
    engine = trt.mod.Runtime(logger).deserialize_cuda_engine(plan)
    if engine is None:
        return False, " | ".join(logger.errors()[-2:]) or "deserialize_cuda_engine returned None"
    return True, ""


MODE_LABELS = {"debug": "debug-unfused", "fused": "mark=fused", "all": "mark=all"}


class TrtBackend(Backend):
    known_options = ("fp16", "bf16", "keep", "mark", "module", "workspace", "opt")

    def __init__(self, spec):
        super().__init__(spec)
        ok, why = can_execute(self.options.get("module") or None)
        if not ok:
            raise UnavailableError("trt", why, CPU_HINT)
        self.mark_mode = str(self.options.get("mark", "auto"))
        if self.mark_mode not in ("auto", "debug", "fused", "all"):
            raise TrtlabError(f"backend '{spec}'", f"mark={self.mark_mode} is not debug, fused or all",
                              "mark=debug (debug tensors, fusions kept), mark=fused (surviving tensors as outputs) "
                              "or mark=all (fusions disabled)")
        self.runner = None

    def _options(self, marks: list[str], profiles):
        from trtlab.trt.build import BuildOptions, parse_size

        keep = [k for k in str(self.options.get("keep", "")).split("+") if k] if self.options.get("keep") else []
        pools = {"workspace": parse_size(str(self.options["workspace"]))} if self.options.get("workspace") else {}
        opt = int(self.options["opt"]) if self.options.get("opt") not in (None, True) else None
        return BuildOptions(precision=self.precision, keep_fp32=keep, profiles=profiles, pool_limits=pools,
                            opt_level=opt, mark=marks)

    def _load(self, model, outputs):
        from trtlab.model import LoadedModel
        from trtlab.trt.module import load

        self.trt = load(self.options.get("module") or None)
        self.model = LoadedModel(proto=model, path=None, label=model.graph.name or "model")
        self.requested = list(outputs or [])
        self.dynamic = self._dynamic_inputs()
        has_debug = hasattr(self.trt.mod.INetworkDefinition, "mark_unfused_tensors_as_debug_tensors")
        if self.mark_mode == "auto":
            self.mark_mode = "debug" if has_debug else "fused"
        elif self.mark_mode == "debug" and not has_debug:
            raise UnavailableError("trt:mark=debug", f"{self.trt.name} {self.trt.version} has no debug tensors "
                                   "(TensorRT 10.12+ or TensorRT for RTX)", "use trt:mark=fused")
        self.info.update({**self.trt.summary(), "module": self.trt.name, "precision": self.precision,
                          "mark": self.mark_mode, "layerwise_mode": MODE_LABELS[self.mark_mode]})
        if self.mark_mode == "all" and self.requested:
            self.info["label"] = "fusions disabled"
            self.notes.append("mark=all: every compared tensor is an engine output, so TensorRT cannot fuse across "
                              "them (fusions disabled); the engine under test is not the engine that ships")
        if not self.dynamic:
            self._build([])

    def _dynamic_inputs(self) -> list[str]:
        from trtlab.model import real_inputs

        return [vi.name for vi in real_inputs(self.model.proto.graph)
                if any(not d.HasField("dim_value") or d.dim_value < 0 for d in vi.type.tensor_type.shape.dim)]

    def _build(self, profiles) -> None:
        from trtlab.trt.build import build_engine
        from trtlab.trt.layers import engine_layers, summarize, surviving_tensors
        from trtlab.trt.runner import TrtRunner

        marks = self.requested if self.mark_mode == "all" else []
        opts = self._options(marks, profiles)
        opts.debug_unfused = self.mark_mode == "debug" and bool(self.requested)
        built = build_engine(self.trt, self.model, opts)
        if opts.debug_unfused:
            self.runner = TrtRunner(self.trt, built.engine, debug=self.requested)
            self.notes.append(f"debug-unfused: the requested tensors that survive fusion are read as debug tensors "
                              f"(of {len(self.requested)} requested; no extra outputs, fusions kept)")
            self.notes.extend(built.notes)
            self.exposed = list(self.runner.outputs) + self.runner.debug
            self.info.update({"debug_tensors": len(self.runner.debug), "marked": 0})
            return
        if self.mark_mode == "fused" and self.requested:
            with TrtRunner(self.trt, built.engine) as probe:
                layers = summarize(engine_layers(probe.engine, self.trt))
            marks = surviving_tensors(layers, self.requested)
            self.notes.append(f"mark=fused: {len(marks)} of {len(self.requested)} requested tensors survive fusion "
                              "and are compared; the others were fused away")
            if marks:
                built = build_engine(self.trt, self.model, self._options(marks, profiles))
        self.notes.extend(built.notes)
        self.runner = TrtRunner(self.trt, built.engine)
        self.exposed = list(self.runner.outputs)
        self.info["marked"] = len(built.marked)

    def _run(self, feeds):
        from trtlab.trt.profiles import Profile

        if self.runner is None:
            shapes = {n: list(feeds[n].shape) for n in self.dynamic if n in feeds}
            self._build([Profile({n: (s, s, s) for n, s in shapes.items()})])
            self.notes.append("dynamic inputs: engine built for the first sample's shapes "
                              + ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in shapes.items()))
            self._built_shapes = shapes
        elif self.dynamic and any(list(feeds[n].shape) != s for n, s in self._built_shapes.items()):
            raise TrtlabError("trt", "samples with different shapes for a dynamic input",
                              "compare samples of one shape at a time (--input-shapes)")
        out = self.runner.infer(feeds)
        if self.runner.debug:  # the debug tensors the listener actually delivered
            self.exposed = list(self.runner.outputs) + [n for n in self.runner.debug if n in self.runner.delivered]
            self.info["debug_tensors"] = len(self.exposed) - len(self.runner.outputs)
        return out

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None
