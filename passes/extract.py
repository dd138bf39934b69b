"""extract: cut a subgraph out as a standalone model.

Rewrite: the model becomes the nodes needed to compute ``outputs`` from ``inputs``; the boundary tensors become
graph inputs and outputs, typed by shape inference (dtype and shape), initializers the subgraph reads are kept.
A name that is not a tensor of the main graph, or a boundary that does not separate the graph (the outputs
still depend on a graph input that is not listed), is an error (exit 2), and nothing is written.
"""

from __future__ import annotations

import onnx
from trtlab.passes import graphutil as gu
from trtlab.passes.base import Pass, PassResult

from trtlab.errors import TrtlabError


def _names(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [n.strip() for item in value for n in str(item).split(",") if n.strip()]


def run(model: onnx.ModelProto, inputs=None, outputs=None) -> PassResult:
    graph = model.graph
    inputs, outputs = _names(inputs), _names(outputs)
    if not outputs:
        raise TrtlabError("extract", "no outputs given", "e.g. --extract-outputs conv1_out (names of tensors)")
    producer = {o: n for n in graph.node for o in n.output if o}
    inits = {t.name: t for t in graph.initializer}
    graph_inputs = {vi.name for vi in graph.input}
    known = set(producer) | set(inits) | graph_inputs
    for name in inputs + outputs:
        if name not in known:
            raise TrtlabError(f"extract {name}", "no tensor of that name in the main graph",
                              "list tensor names with `trtlab inspect MODEL` (node outputs, graph inputs)")
    if not inputs:
        inputs = [vi.name for vi in graph.input if vi.name not in inits]
    boundary = set(inputs)
    keep: list[onnx.NodeProto] = []
    seen: set[int] = set()
    stack = list(outputs)
    leaked: list[str] = []
    while stack:
        name = stack.pop()
        if name in boundary or name in inits:
            continue
        node = producer.get(name)
        if node is None:
            if name in graph_inputs:
                leaked.append(name)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        keep.append(node)
        stack.extend(gu.node_reads(node))
    if leaked:
        raise TrtlabError("extract", f"the boundary does not separate the graph: the outputs still depend on graph "
                          f"input(s) {', '.join(sorted(set(leaked)))} that are not among --extract-inputs",
                          "add them to the inputs, or choose inputs closer to the outputs")
    unused = [n for n in inputs if not any(n in gu.node_reads(k) for k in keep) and n not in outputs]
    if unused:
        raise TrtlabError("extract", f"input(s) {', '.join(unused)} are not read by the extracted part",
                          "choose inputs that lie between the graph inputs and the outputs")
    facts = gu.shape_facts(model)
    new = onnx.ModelProto()
    new.CopyFrom(model)
    g = new.graph
    order = {id(n): i for i, n in enumerate(graph.node)}
    keep.sort(key=lambda n: order[id(n)])
    del g.node[:]
    g.node.extend(keep)
    del g.input[:]
    del g.output[:]
    del g.value_info[:]
    g.input.extend(_value_info(n, facts) for n in inputs)
    g.output.extend(_value_info(n, facts) for n in outputs)
    gu.prune(g)
    notes = [f"extracted {len(keep)} node(s): inputs {', '.join(inputs)} -> outputs {', '.join(outputs)}"]
    untyped = [n for n in inputs + outputs if n not in facts]
    skipped = [f"type of '{n}' unknown after shape inference: declared without a type" for n in untyped]
    return PassResult(new, notes, skipped, modified=True)


def _value_info(name: str, facts: dict) -> onnx.ValueInfoProto:
    fact = facts.get(name)
    if not fact:
        return onnx.ValueInfoProto(name=name)
    elem, dims = fact
    shape = None if dims is None else [d if d is not None else f"{name}_dim{i}" for i, d in enumerate(dims)]
    return onnx.helper.make_tensor_value_info(name, elem, shape)


EXTRACT = Pass(name="extract", description="cut out the subgraph between given tensors as a standalone model",
               run=run, options={"inputs": "boundary input tensor names (default: the graph inputs)",
                                 "outputs": "tensor names to become the outputs"})
