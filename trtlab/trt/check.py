"""``trtlab check``: parse a model with the real TensorRT ONNX parser and explain every node it refuses.

The full parse gives the errors (node index, name, op, the parser's message). When it fails, the capability query
(``supports_model_v2``, or ``supports_model`` on TensorRT 10) gives the node ranges the parser would accept on their
own. Node indices are those of the main graph; an error inside an If/Loop body or a local function is reported on
the main-graph node that holds it, with the inner node named in ``where``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from trtlab.model import DEFAULT_DOMAINS, LoadedModel, is_large, model_bytes
from trtlab.results import Result
from trtlab.trt.module import CapturingLogger, TrtModule, native_stderr

SCHEMA = "trtlab.check/1"


@dataclass
class NodeReport:
    index: int
    name: str
    op: str
    domain: str
    supported: bool
    error: str | None = None
    hint: str | None = None
    where: str | None = None  # the inner node (subgraph body or local function) the error names


@dataclass
class CheckResult(Result):
    schema: str
    command: str
    argv: list[str]
    model: dict
    module: dict
    parseable: bool
    passed: bool
    nodes: list[NodeReport]
    partitions: list[dict]  # the capability query's node ranges (what the parser takes on its own)
    errors: list[dict] = field(default_factory=list)  # parser errors not tied to a node (index -1)
    parser_output: list[str] = field(default_factory=list)  # what the parser printed to fd 2 itself, once each
    timing: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # what `surgeon --isolate-unsupported` builds from this result (trtlab.partition.summary), for a refused model
    isolation: dict = field(default_factory=dict)

    @property
    def failing(self) -> list[NodeReport]:
        return [n for n in self.nodes if not n.supported]


# --- hints: (test, text). The first rule whose test matches a failing node gives its hint. -------------------

FOLD = "fold constants first (`trtlab surgeon MODEL --fold-constants -o folded.onnx`) and check the folded model"
SHAPES = ("override dynamic shapes so shape computations become constants "
          "(`trtlab surgeon MODEL --override-input-shapes NAME:1x3x224x224 --fold-constants -o static.onnx`)")
PLUGIN = ("substitute a plugin: load a plugin library that implements {domain}::{op} or rewrite the pattern "
          "(`trtlab surgeon --substitute-plugins spec.yaml`)")
ISOLATE = "isolate the op so it runs outside TensorRT (`trtlab surgeon --isolate-unsupported -o DIR`)"


DYNAMIC_QUANT = ("DynamicQuantizeLinear", "ConvInteger", "MatMulInteger")


def node_hint(node: NodeReport, message: str, imported: set[str], folded: bool = False) -> str:
    """The hint for a refused node. ``folded``: the model has nothing left to fold, so "fold constants" is no
    advice."""
    text, op, domain = message.lower(), node.op, node.domain
    fold = "" if folded else FOLD
    if domain not in DEFAULT_DOMAINS and domain not in imported:
        return (f"the model imports no opset for domain '{domain}': fix the export (add an opset_import for it); "
                f"then {PLUGIN.format(domain=domain, op=op)}, or {ISOLATE}")
    if domain not in DEFAULT_DOMAINS:
        return f"custom-domain op: {PLUGIN.format(domain=domain, op=op)}, or {ISOLATE}"
    if op in DYNAMIC_QUANT:
        return (f"TensorRT has no dynamic quantization ({op}): dequantize to float (export the float model), "
                f"use static QDQ (QuantizeLinear/DequantizeLinear with fixed scales, e.g. from NVIDIA ModelOpt), "
                f"or {ISOLATE}")
    if op.endswith("Integer"):
        return (f"TensorRT does not import integer-arithmetic {op}: re-export with QuantizeLinear/DequantizeLinear "
                f"(QDQ) around a float {op[:-7] or 'op'}, or {ISOLATE}")
    if "plugin" in text and "not found" in text and "nonzero" not in text:
        return (f"'{op}' is not a standard ONNX op that TensorRT knows: "
                f"{PLUGIN.format(domain=domain or 'ai.onnx', op=op)}, or {ISOLATE}")
    if "nonzero" in text or op == "NonZero":
        return (f"this TensorRT module has no NonZero implementation (data-dependent shape): build with full "
                f"TensorRT (--trt-module tensorrt), or {ISOLATE}")
    if "zero point" in text or "zeropoint" in text:
        return "asymmetric quantization is not supported: re-quantize with zero points of 0 (symmetric), or " + ISOLATE
    if "string" in text:
        return "TensorRT has no string type: keep tokenization and string ops outside the engine; " + ISOLATE
    if "dynamic" in text or "shape" in text or "dimension" in text:
        return SHAPES + ("; " + fold if fold else "")
    if "not registered" in text or "outer scope" in text or op in ("If", "Loop", "Scan"):
        if not fold:
            return ISOLATE + "; or unroll/replace the control flow in the exporter"
        return FOLD + " (it resolves outer-scope values that subgraph bodies refer to); or " + ISOLATE
    if not fold:
        return f"{ISOLATE} and report the parser message (the model is already folded)"
    return f"{FOLD}; if it still fails, {ISOLATE} and report the parser message"


def _model_hint(message: str, folded: bool = False) -> str:
    text = message.lower()
    if "string" in text or "data type" in text:
        return "a graph input or output has a type TensorRT lacks (e.g. string): " + ISOLATE
    if folded:
        return ("the parser names no node: find the smallest failing part with `trtlab debug reduce MODEL --fails "
                "check -o min.onnx`")
    return FOLD


def is_folded(model) -> bool:
    """Nothing left to fold: no Constant node and no standard-domain node whose inputs are all initializers (a
    quick test, not a fold)."""
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    for node in graph.node:
        if node.domain not in DEFAULT_DOMAINS or node.op_type.startswith("Random"):
            continue
        if node.op_type == "Constant" or (node.input and all(i in inits for i in node.input if i)):
            return False
    return True


def shared_dim_note(model) -> str | None:
    """Inputs whose dims share one name must be equal in every optimization profile (TensorRT treats a named dim as
    one value); exporters name unknown dims alike ('?', 'unk__0'). Says which, so a profile that sets them apart is
    understood."""
    names: dict[str, list[str]] = {}
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        for k, d in enumerate(tt.shape.dim if tt.HasField("shape") else []):
            if d.HasField("dim_param") and d.dim_param:
                names.setdefault(d.dim_param, []).append(f"{vi.name}[{k}]")
    shared = {n: where for n, where in names.items() if len(where) > 1}
    if not shared:
        return None
    parts = [f"'{n}' ({', '.join(w[:4])})" for n, w in list(shared.items())[:3]]
    return ("dims that share one name must be equal in every profile: " + "; ".join(parts) + ". To give them "
            "different sizes, rename one: `trtlab surgeon MODEL --override-input-shapes NAME:DIMS -o OUT.onnx`")


# --- parsing ----------------------------------------------------------------------------------------------

def _serialized(model: LoadedModel) -> tuple[bytes | None, str]:
    path = str(model.path) if model.path else ""
    if is_large(model.proto):
        return None, path
    return model_bytes(model.proto), path


def parse_network(trt: TrtModule, model: LoadedModel, flags: int = 0):
    """Parse into a new network; return (builder, network, parser, logger, ok, seconds). Keep all alive together.
    Callers run it inside ``contain.run`` (a native crash then raises ``TrtCrash`` in the parent)."""
    from trtlab.trt.contain import held_signals, stage

    data, path = _serialized(model)
    stage("parsing")
    logger = CapturingLogger.create(trt)
    builder = trt.mod.Builder(logger)
    network = builder.create_network(flags)
    parser = trt.mod.OnnxParser(network, logger)
    start = time.perf_counter()
    with held_signals(), native_stderr(logger):  # parser prints land in logger.native(); Ctrl-C waits for it
        ok = parser.parse_from_file(path) if data is None else parser.parse(data, path or None)
    return builder, network, parser, logger, bool(ok), time.perf_counter() - start


def parser_errors(parser) -> list[dict]:
    errors = []
    for i in range(parser.num_errors):
        e = parser.get_error(i)
        code = str(e.code()).rsplit(".", 1)[-1]
        func = e.func() if hasattr(e, "func") else ""
        desc = " ".join(str(e.desc()).split())
        stack = list(e.local_function_stack()) if hasattr(e, "local_function_stack") else []
        errors.append({"node": int(e.node()), "node_name": e.node_name(), "op": e.node_operator(), "code": code,
                       "message": f"{code}: {desc}" + (f" (in {func})" if func else ""), "functions": stack})
    return errors


def capability(trt: TrtModule, model: LoadedModel, builder,
               logger=None) -> tuple[list[tuple[list[int], bool]], str | None]:
    """Node ranges from the parser's capability query, or ([], reason) when the module has none. What the parser
    prints to fd 2 meanwhile goes to ``logger`` (a CapturingLogger) when given, else it is dropped."""
    data, path = _serialized(model)
    if data is None:
        return [], "capability query skipped: model over 2 GB"
    logger = logger or CapturingLogger.create(trt)
    network = builder.create_network(0)
    parser = trt.mod.OnnxParser(network, logger)
    from trtlab.trt.contain import held_signals, stage

    stage("asking the parser which nodes it supports")
    if hasattr(parser, "supports_model_v2"):
        with held_signals(), native_stderr(logger):
            parser.supports_model_v2(data, path)
        return [(list(parser.get_subgraph_nodes(i)), bool(parser.is_subgraph_supported(i)))
                for i in range(parser.num_subgraphs)], None
    if hasattr(parser, "supports_model"):
        with held_signals(), native_stderr(logger):
            _ok, subgraphs = parser.supports_model(data, path)
        return [(list(nodes), bool(sup)) for nodes, sup in subgraphs], None
    return [], f"{trt.name} {trt.version} has no capability query (supports_model_v2)"


def partitions_from(subgraphs: list[tuple[list[int], bool]], failing: set[int], n_nodes: int) -> list[dict]:
    """Ranges [start, end] (inclusive) covering every node: the parser's subgraphs, and the gaps between them."""
    owner: dict[int, bool] = {}
    for nodes, supported in subgraphs:
        for i in nodes:
            owner[i] = supported
    parts: list[dict] = []
    for i in range(n_nodes):
        sup = owner.get(i, False) and i not in failing
        source = "parser" if i in owner else "rejected"
        if parts and parts[-1]["supported"] == sup and parts[-1]["source"] == source and parts[-1]["nodes"][1] == i - 1:
            parts[-1]["nodes"][1] = i
        else:
            parts.append({"nodes": [i, i], "supported": sup, "source": source})
    return parts


def explain(trt: TrtModule, model: LoadedModel, builder, parser, logger,
            ok: bool) -> tuple[list[NodeReport], list[dict], list[dict], list[str]]:
    """What a finished parse says, node by node: (nodes, partitions, model-level errors, notes). Used by ``check``
    and by a failed ``build``."""
    errors = parser_errors(parser)
    graph = model.proto.graph
    imported = {o.domain for o in model.proto.opset_import}
    folded = is_folded(model.proto)
    nodes = [NodeReport(i, n.name or f"{n.op_type}_{i}", n.op_type, n.domain, True) for i, n in enumerate(graph.node)]
    model_errors = []
    for err in errors:
        if not 0 <= err["node"] < len(nodes):
            model_errors.append({"message": err["message"], "hint": _model_hint(err["message"], folded)})
            continue
        node = nodes[err["node"]]
        node.supported = False
        node.error = f"{node.error} | {err['message']}" if node.error else err["message"]
        inner = err["node_name"] if err["node_name"] and err["node_name"] != graph.node[node.index].name else None
        subject = node
        if inner or err["functions"]:
            chain = " -> ".join(err["functions"] + ([f"{inner} ({err['op']})"] if inner else []))
            node.where = f"{node.where} | {chain}" if node.where else chain
            if err["op"] and err["op"] != node.op:  # hint about the inner op that failed, not its container
                subject = NodeReport(node.index, inner or node.name, err["op"], "", False)
        node.hint = node.hint or node_hint(subject, err["message"], imported, folded)
    notes, parse_errors = [], logger.errors()  # before the capability query logs into the same logger
    failing = {n.index for n in nodes if not n.supported}
    if ok:
        partitions = [{"nodes": [0, len(nodes) - 1], "supported": True, "source": "parser"}] if nodes else []
    else:
        subgraphs, note = capability(trt, model, builder, logger)
        if note:
            notes.append(note)
        partitions = partitions_from(subgraphs, failing, len(nodes))
        if not failing and not model_errors:
            message = "; ".join(parse_errors) or "the parser failed without naming a node"
            model_errors.append({"message": message, "hint": _model_hint(message, folded)})
    shared = shared_dim_note(model.proto) if not ok else None
    notes += [shared] if shared else []
    notes += [f"{trt.name} printed (outside its logger): {line}" for line in logger.native()]
    return nodes, partitions, model_errors, notes


def run_check(trt: TrtModule, model: LoadedModel) -> CheckResult:
    """Parse ``model`` and explain the outcome, in a forked child (``contain.run``): a native crash anywhere in
    the parser, the capability query included, raises ``TrtCrash`` instead of killing this process."""
    from trtlab.trt.contain import run

    return run(model.path or model.name, "parsing", lambda _bar: check_here(trt, model))


def check_here(trt: TrtModule, model: LoadedModel) -> CheckResult:
    """``run_check`` in this process (callers already in a forked child: ``trtlab.partition.support``)."""
    from trtlab.model import model_summary

    start = time.perf_counter()
    builder, _network, parser, logger, ok, parse_s = parse_network(trt, model)
    nodes, partitions, model_errors, notes = explain(trt, model, builder, parser, logger, ok)
    return CheckResult(
        schema=SCHEMA, command="check", argv=[], model=model_summary(model), module=trt.summary(), parseable=ok,
        passed=ok, nodes=nodes, partitions=partitions, errors=model_errors, parser_output=logger.native(),
        timing={"parse_s": round(parse_s, 6), "check_s": round(time.perf_counter() - start, 6)},
        warnings=list(model.warnings) + notes)


def crashed_result(trt, model, exc):
    """results.json for a parse that crashed TensorRT: not parseable, the crash as the model's error."""
    from trtlab.model import model_summary

    return CheckResult(schema=SCHEMA, command="check", argv=[], model=model_summary(model), module=trt.summary(),
                       parseable=False, passed=False, nodes=[], partitions=[],
                       errors=[{"message": exc.problem, "hint": exc.hint, "signal": exc.signal}],
                       warnings=list(model.warnings))
