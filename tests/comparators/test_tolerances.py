"""Default tolerances by target precision, shared by `compare` and `debug reduce`."""

import pytest
from trtlab.comparators.tolerances import default_for, for_target

from trtlab.backends import parse_spec


@pytest.mark.parametrize("spec, expect", [("onnxrt", (1e-5, 1e-5)), ("onnxrt:fp16", (1e-3, 1e-2)),
                                          ("onnxrt:bf16", (1e-2, 5e-2)), ("reference", (1e-5, 1e-5))])
def test_defaults_follow_the_target_precision(spec, expect):
    assert default_for(parse_spec(spec)) == expect
    tol = for_target(parse_spec(spec))
    assert (tol.atol, tol.rtol) == expect


def test_given_values_win_and_per_tensor_overrides_keep_the_default():
    spec = parse_spec("onnxrt:fp16")
    assert (for_target(spec, 2e-3, None).atol, for_target(spec, 2e-3, None).rtol) == (2e-3, 1e-2)
    tol = for_target(spec, ["logits:0.5"], ["1e-4"])
    assert (tol.atol, tol.rtol, tol.per_atol) == (1e-3, 1e-4, {"logits": 0.5})


def test_help_states_the_defaults_the_code_applies():
    from trtlab.comparators.tolerances import HELP, PRECISION_TOLERANCES

    def short(x: float) -> str:
        return f"{x:.0e}".replace("e-0", "e-")

    said = ", ".join(f"{short(a)}/{short(r)} for {p.upper()}" for p, (a, r) in PRECISION_TOLERANCES.items())
    assert HELP == f"defaults follow the target's precision: atol/rtol {said}"
