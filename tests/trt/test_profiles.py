import pytest

from tests.trt.conftest import dynamic_relu_model, loaded
from trtlab.errors import TrtlabError
from trtlab.trt.check import parse_network
from trtlab.trt.profiles import parse_profiles, suggest, validate


def test_one_profile_per_flag_inputs_comma_separated():
    (p0, p1) = parse_profiles(["x:1x3:4x3:8x3,gpu_0/data_0:1:2:3", "x:16x3"])
    assert p0.shapes == {"x": ([1, 3], [4, 3], [8, 3]), "gpu_0/data_0": ([1], [2], [3])}
    assert p1.shapes == {"x": ([16, 3], [16, 3], [16, 3])}


def test_name_may_contain_colons():
    (p,) = parse_profiles(["ns:x:1x3:2x3:4x3"])
    assert "ns:x" in p.shapes


@pytest.mark.parametrize("spec, words", [
    ("x:1x3:8x3:4x3", "min <= opt <= max"), ("x:1x3:2x3x1:4x3", "different ranks"), ("x:1xA", "not INPUT"),
    ("x:1x3,x:2x3", "appears twice")])
def test_bad_profiles_are_one_line_usage_errors(spec, words):
    with pytest.raises(TrtlabError) as exc:
        parse_profiles([spec])
    assert words in str(exc.value) and exc.value.code == 2


def test_suggestion_keeps_static_dims():
    assert suggest([-1, 3, 224]) == "1x3x224:4x3x224:8x3x224"


def _network(trt):
    return parse_network(trt, loaded(dynamic_relu_model()))


def test_dynamic_input_without_profile_is_named(trt):
    _b, network, *_ = _network(trt)
    with pytest.raises(TrtlabError) as exc:
        validate([], network)
    text = str(exc.value)
    assert "input 'x'" in text and "[?,3]" in text and "--profile x:1x3:4x3:8x3" in text


def test_profile_for_unknown_input_or_wrong_static_dim(trt):
    _b, network, *_ = _network(trt)
    with pytest.raises(TrtlabError, match="no input 'y'"):
        validate(parse_profiles(["x:1x3,y:1"]), network)
    with pytest.raises(TrtlabError, match="does not fit"):
        validate(parse_profiles(["x:1x4:2x4:4x4"]), network)
    with pytest.raises(TrtlabError, match="profile 1"):
        validate(parse_profiles(["x:1x3:2x3:4x3", ""]), network)


def test_wrong_number_of_shapes_and_zero_dims_are_named(trt):
    _b, network, *_ = _network(trt)
    for spec, count in (("x:1x3:4x3", 2), ("x:1x3:2x3:4x3:8x3", 4)):
        with pytest.raises(TrtlabError) as exc:
            validate(parse_profiles([spec]), network)
        text = str(exc.value)
        assert f"input 'x' has {count} shapes" in text and "1 (INPUT:SHAPE" in text and "3 (INPUT:MIN:OPT:MAX)" in text
        assert "no input" not in text and "x:1x3:4x3:8x3" in text and exc.value.code == 2
    for spec in ("x:0x3", "x:0x3:1x3:4x3", "x:0x3:0x3:0x3"):
        with pytest.raises(TrtlabError, match="zero-size dim") as exc:
            validate(parse_profiles([spec]), network)
        assert exc.value.code == 2
