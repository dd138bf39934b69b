"""Input planning: shapes, ranges, embedding index ranges, npz files, loader scripts."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtlab.errors import TrtlabError
from trtlab.inputs import (
    load_npz,
    loader_samples,
    parse_range_args,
    parse_shape_args,
    plan_inputs,
    random_feeds,
    save_npz,
)


def _embedding_graph(vocab=50):
    table = numpy_helper.from_array(np.ones((vocab, 4), np.float32), "table")
    return helper.make_graph(
        [helper.make_node("Gather", ["ids", "table"][::-1], ["emb"], axis=0)], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, None)], [table])


def test_shape_syntaxes():
    assert parse_shape_args(["a:1x3x224x224", "b:[2,5]", "c:[]"]) == {"a": [1, 3, 224, 224], "b": [2, 5], "c": []}
    with pytest.raises(TrtlabError):
        parse_shape_args(["nocolon"])


def test_ranges():
    per, default = parse_range_args(["ids:[0,99]", "[-1,1]"])
    assert per == {"ids": (0.0, 99.0)} and default == (-1.0, 1.0)
    with pytest.raises(TrtlabError):
        parse_range_args(["x:[1,0]"])


def test_token_ids_stay_inside_the_embedding_and_dynamic_dims_warn():
    plan = plan_inputs(_embedding_graph(50), {"ids": [2, 64]})
    assert plan.ranges["ids"] == (0, 49)
    assert any("batch" in w for w in plan.warnings)  # x's batch defaulted to 1
    feeds = random_feeds(plan, seed=3)
    assert feeds["ids"].shape == (2, 64) and feeds["ids"].max() <= 49 and feeds["ids"].dtype == np.int64
    assert feeds["flag"].dtype == bool and feeds["flag"].shape == ()
    assert feeds["x"].shape == (1, 3)
    again = random_feeds(plan, seed=3)
    assert all(np.array_equal(feeds[k], again[k]) for k in feeds)


@pytest.mark.parametrize("shapes,msg", [({"nope": [1]}, "no input of that name"),
                                        ({"x": [1, 3, 4]}, "rank"),
                                        ({"x": [2, 4]}, "does not fit")])
def test_bad_shape_overrides(shapes, msg):
    with pytest.raises(TrtlabError) as e:
        plan_inputs(_embedding_graph(), shapes)
    assert msg in str(e.value)


def test_npz_roundtrip_and_missing_key(tmp_path):
    plan = plan_inputs(_embedding_graph(), {"ids": [1, 4], "x": [1, 3]})
    samples = [random_feeds(plan, 1, i) for i in range(3)]
    save_npz(tmp_path / "f.npz", samples)
    back = load_npz(tmp_path / "f.npz", plan)
    assert len(back) == 3 and np.array_equal(back[2]["x"], samples[2]["x"])
    np.savez(tmp_path / "partial.npz", x=samples[0]["x"])
    with pytest.raises(TrtlabError) as e:
        load_npz(tmp_path / "partial.npz", plan)
    assert "no data for input" in str(e.value)


def test_loader_script(tmp_path):
    script = tmp_path / "loader.py"
    script.write_text("import numpy as np\n"
                      "def data():\n"
                      "    for i in range(2):\n"
                      "        yield {'ids': np.zeros((1, 4), np.int64), 'flag': np.array(True),"
                      " 'x': np.full((1, 3), i, np.float32)}\n")
    plan = plan_inputs(_embedding_graph())
    samples = loader_samples(f"{script}:data", plan)
    assert len(samples) == 2 and samples[1]["x"][0, 0] == 1
    with pytest.raises(TrtlabError):
        loader_samples(f"{script}:missing", plan)
