"""``debug reduce --fails check`` keeps the original error when the parser names no node: error texts are
compared (names and numbers normalised away), not "any refusal"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from onnx import helper

from tests.passes.helpers import const, make_model, tensor
from trtlab.reducer.checks import ParseMode, error_key, same_error

AXIS = ("In node -1 with name: /decoder/Gather_12 and operator: Gather (parseGraph): INVALID_NODE: Axis must be in "
        "the range [-3, 2]")
SHAPE_INPUT = "Network input /decoder/Cast_3_output_0 is a shape tensor and must have type Int32 or Int64."


class _Recorded(ParseMode):
    """ParseMode's comparison on recorded parser results (what the parser said is fixed; the rule is under test)."""

    def __init__(self, results):
        super().__init__(trt=None)
        self.results = list(results)

    def _parse(self, proto, origin):
        ok, message = self.results.pop(0)
        return ok, set(), message, set() if ok else {error_key(message)}


def test_nodeless_error_must_match_the_original_text():
    mode = _Recorded([(False, AXIS), (False, SHAPE_INPUT), (False, AXIS.replace("Gather_12", "Gather_3")), (True, "")])
    plan = SimpleNamespace(model=make_model([], [tensor("x", [1])], [tensor("x", [1])]))
    assert mode.original(plan).reproduces
    cand = SimpleNamespace(proto=None, origin=[])
    other = mode(cand)
    assert not other.reproduces and other.detail.startswith("a different failure")
    assert mode(cand).reproduces  # the same error on another node name
    assert not mode(cand).reproduces  # parses


def test_error_keys_on_real_parser_messages():
    from trtlab.errors import TrtlabError
    from trtlab.model import LoadedModel
    from trtlab.trt.check import parse_network, parser_errors
    from trtlab.trt.module import load

    try:
        trt_module = load()
    except TrtlabError as exc:
        pytest.skip(f"no TensorRT module: {exc.problem}")

    def keys(model):
        _b, _n, parser, logger, ok, _s = parse_network(trt_module, LoadedModel(proto=model, path=None))
        assert not ok
        return {error_key(e["message"]) for e in parser_errors(parser)} | {error_key(m) for m in logger.errors()}

    x = [tensor("x", [2, 3])]
    gather = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=4)], x, [tensor("y", None)],
                        [const("i", [0], np.int64)])
    softmax = make_model([helper.make_node("Softmax", ["x"], ["y"], axis=3)], x, [tensor("y", None)])
    assert same_error(keys(gather), keys(softmax))  # one error, other node, other numbers
    assert not same_error({error_key(AXIS)}, {error_key(SHAPE_INPUT)})
    assert same_error({error_key(AXIS)}, keys(gather))


@pytest.mark.slow
def test_trtlab_check_as_the_check_command_leaves_no_candidate_runs(cli, tmp_path):
    import os

    import onnx

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Fake", ["a"], ["b"], domain="com.acme"),
             helper.make_node("Relu", ["b"], ["y"])]
    model = make_model(nodes, [tensor("x", [2, 3])], [tensor("y", [2, 3])])
    model.opset_import.append(helper.make_opsetid("com.acme", 1))
    onnx.save(model, tmp_path / "m.onnx")
    trtlab = os.path.join(os.path.dirname(__import__("sys").executable), "trtlab")
    r = cli("debug", "reduce", "m.onnx", "-o", "min.onnx", "--check", f"{trtlab} check {{model}}")
    assert r.code == 0, r.out + r.err
    runs = sorted(p.name for p in (tmp_path / "trtlab-runs").iterdir())
    assert not [n for n in runs if "candidate" in n], runs
    assert len(runs) == 1 and runs[0].startswith("reduce-")
