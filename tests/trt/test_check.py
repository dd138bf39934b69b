"""trtlab check against the real parser: the public models and graphs built in code."""

import pytest

from tests.conftest import shared_model
from tests.trt.conftest import conv_integer_model, custom_domain_model, loaded
from trtlab.model import load_model
from trtlab.trt.check import partitions_from, run_check

PARSEABLE = ["mnist_opt", "super_resolution", "fastestdet", "deeplab_v3_tflite", "road_segmentation_adas",
             "yunet_face_120x160", "tbefn_lowlight_180x320", "light_densenet121", "poly_reducable",
             "poly_reduce_example", "poly_const_foldable", "poly_constant_fold_bloater", "poly_scan",
             "poly_if_conditionally_invalid", "poly_unbounded_dds", "poly_needs_constraints", "poly_add_infinity",
             "poly_dynamic_identity", "poly_residual_block", "gs_shape_cast_elision"]
# model -> names of the nodes the parser must name
UNPARSEABLE = {"poly_capability": {"Fake1", "Fake2", "Fake3"}, "poly_custom_op_node": {"NegPos_0"},
               "ortx_bert_tokenizer": {"BertTokenizer_1"}, "poly_toy_subgraph": {"n1", "n2", "n3", "n4", "n5", "n6"},
               "poly_nested_local_function": {"onnx_graphsurgeon_node_1"}, "poly_loop": {"while_loop"},
               "poly_nonzero": {"onnx_graphsurgeon_node_1"}, "poly_bad_graph": {"NonZero"},
               "poly_qdq_conv": {"onnx_graphsurgeon_node_1"}}


@pytest.mark.parametrize("name", PARSEABLE)
def test_public_model_parses(trt, name):
    result = run_check(trt, load_model(shared_model(f"{name}.onnx")))
    assert result.parseable and result.passed and not result.failing
    assert result.partitions == [{"nodes": [0, len(result.nodes) - 1], "supported": True, "source": "parser"}]


@pytest.mark.parametrize("name", sorted(UNPARSEABLE))
def test_public_model_fails_with_nodes_named(trt, name):
    result = run_check(trt, load_model(shared_model(f"{name}.onnx")))
    assert not result.parseable
    assert {n.name for n in result.failing} == UNPARSEABLE[name]
    for node in result.failing:
        assert node.error and node.hint and node.op
    covered = [i for p in result.partitions for i in range(p["nodes"][0], p["nodes"][1] + 1)]
    assert covered == list(range(len(result.nodes)))  # every node in exactly one range, in order


def test_custom_domain_without_opset_import_says_so(trt):
    node = run_check(trt, load_model(shared_model("poly_custom_op_node.onnx"))).failing[0]
    assert node.domain == "ai.onnx.contrib" and "imports no opset for domain" in node.hint


def test_conv_integer_fails_with_node_named(trt):
    result = run_check(trt, loaded(conv_integer_model()))
    assert not result.parseable
    (node,) = result.failing
    assert (node.index, node.name, node.op) == (0, "conv_int", "ConvInteger")
    assert "QDQ" in node.hint


@pytest.mark.parametrize("imported", [True, False])
def test_custom_domain_op_between_supported_nodes(trt, imported):
    result = run_check(trt, loaded(custom_domain_model(imported)))
    (node,) = result.failing
    assert (node.index, node.name, node.domain) == (1, "swizzle", "com.acme")
    assert [n.supported for n in result.nodes] == [True, False, True]
    assert "plugin" in node.hint and ("opset" in node.hint) != imported
    assert result.partitions[1] == {"nodes": [1, 1], "supported": False, "source": "rejected"}


def test_local_function_errors_name_the_inner_nodes(trt):
    node = run_check(trt, load_model(shared_model("poly_nested_local_function.onnx"))).failing[0]
    assert "nested_node_fake_1 (Fake_1)" in node.where and "nested_node_fake_2 (Fake_2)" in node.where


def test_string_input_is_a_model_level_error(trt):
    result = run_check(trt, load_model(shared_model("ortx_bert_tokenizer.onnx")))
    assert result.errors and "string" in result.errors[0]["hint"]


def test_partitions_fill_gaps_between_parser_subgraphs():
    parts = partitions_from([([0, 1], True), ([3], True)], failing={2}, n_nodes=5)
    assert parts == [{"nodes": [0, 1], "supported": True, "source": "parser"},
                     {"nodes": [2, 2], "supported": False, "source": "rejected"},
                     {"nodes": [3, 3], "supported": True, "source": "parser"},
                     {"nodes": [4, 4], "supported": False, "source": "rejected"}]
