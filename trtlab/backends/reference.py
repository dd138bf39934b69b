"""The onnx.reference evaluator: a slow, GPU-free, independent second opinion.

It runs in pure Python/NumPy, so it refuses large models unless forced (``reference:force``).
"""

from __future__ import annotations

import numpy as np
import onnx

from trtlab.backends.base import Backend
from trtlab.errors import UnavailableError

MAX_NODES = 5000
MAX_WEIGHT_BYTES = 256 * 2**20


class ReferenceBackend(Backend):
    known_options = ("fp16", "bf16", "force", "keep", "fold")

    def _load(self, model: onnx.ModelProto, outputs: list[str] | None) -> None:
        from onnx.reference import ReferenceEvaluator

        from trtlab.weights import materialize

        model = materialize(model)  # the evaluator needs the weights inside the proto
        nodes = len(model.graph.node)
        weights = sum(len(t.raw_data) for t in model.graph.initializer)
        if not self.options.get("force") and (nodes > MAX_NODES or weights > MAX_WEIGHT_BYTES):
            raise UnavailableError("reference", f"model too large for the Python evaluator ({nodes} nodes, "
                                   f"{weights / 2**20:.0f} MiB of weights; limits {MAX_NODES} nodes, "
                                   f"{MAX_WEIGHT_BYTES >> 20} MiB)", "use reference:force to run it anyway (slow)")
        work = model
        if self.precision != "fp32":
            from trtlab.backends.halfsim import simulate

            work, notes, self.fused = simulate(model, self.precision,
                                               self.keep_list(), self.fold_option())
            self.notes.extend(notes)
        try:
            self.evaluator = ReferenceEvaluator(work)
        except Exception as exc:
            raise UnavailableError("reference", f"the onnx reference evaluator cannot load this model: "
                                   f"{' '.join(str(exc).split())[:300]}", "use onnxrt instead") from None
        produced = {o for n in model.graph.node for o in n.output if o}
        self.graph_outputs = [o.name for o in model.graph.output]
        self.exposed = self.graph_outputs + [n for n in (outputs or [])
                                             if n in produced and n not in self.graph_outputs]
        self.info.update({"version": onnx.__version__, "provider": "onnx.reference", "precision": self.precision})

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            if len(self.exposed) > len(self.graph_outputs):
                results = self.evaluator.run(None, feeds, intermediate=True)
            else:
                results = dict(zip(self.graph_outputs, self.evaluator.run(None, feeds)))
        except Exception as exc:
            raise UnavailableError("reference", f"the onnx reference evaluator failed: {type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:300]}", "use onnxrt instead") from None
        return {n: np.asarray(results[n]) for n in self.exposed if n in results and isinstance(results[n], np.ndarray)}
