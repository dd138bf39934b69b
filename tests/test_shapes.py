"""Shape sweeps and profile suggestions (trtlab.shapes): pure logic."""

import numpy as np
import pytest

from trtlab.errors import TrtlabError
from trtlab.shapes import parse_sweep, profile_arg, suggest_profile, sweep_points


def test_points_move_every_differing_dim_together():
    ranges = parse_sweep(["input:1x3x224x224:8x3x640x640"])
    shapes = [s["input"] for s in sweep_points(ranges, 5)]
    assert shapes[0] == [1, 3, 224, 224] and shapes[-1] == [8, 3, 640, 640] and len(shapes) == 5
    assert all(s[1] == 3 for s in shapes) and [s[2] for s in shapes] == sorted(s[2] for s in shapes)


def test_min_opt_max_and_names_with_colons():
    ranges = parse_sweep(["a:b:1x16:4x64:8x128"])
    assert list(ranges) == ["a:b"]
    assert [s["a:b"] for s in sweep_points(ranges, 5)] == [[1, 16], [4, 64], [8, 128]]


def test_repeats_are_dropped_and_inputs_move_together():
    sets = sweep_points(parse_sweep(["ids:1x8:2x8", "mask:1x8:2x8"]), 5)
    assert [s["ids"] for s in sets] == [[1, 8], [2, 8]] and all(s["ids"] == s["mask"] for s in sets)


@pytest.mark.parametrize("item", ["x", "x:1x4", "x:1x4:8", "x:0x4:8x4", "x:8x4:1x4", "x:1xa:2x4"])
def test_bad_sweeps_are_refused(item):
    with pytest.raises(TrtlabError):
        parse_sweep([item])


def test_suggest_profile_opt_is_the_most_frequent_shape():
    samples = [{"x": np.zeros(s)} for s in [(1, 8), (4, 8), (4, 8), (2, 16), (4, 8)]]
    p = suggest_profile(samples)["x"]
    assert (p["min"], p["opt"], p["max"]) == ([1, 8], [4, 8], [4, 16])
    assert p["histogram"][0] == {"shape": [4, 8], "count": 3}
    assert profile_arg({"x": p, "static": {"min": [3], "opt": [3], "max": [3]}}) == "x:1x8:4x8:4x16"
    with pytest.raises(TrtlabError):
        suggest_profile([{"x": np.zeros((1, 2))}, {"x": np.zeros((1, 2, 3))}])
