"""The adversarial suite: every case ends with a documented exit code (never 4, never a signal), one error line,
its inputs byte-identical and nothing partial at its outputs. A fast sample runs by default; all under slow."""

from __future__ import annotations

import pytest

from tests.adversarial.cases import all_cases, fast_sample
from tests.adversarial.harness import check


def test_suite_is_large_enough():
    assert len(all_cases()) >= 500


@pytest.mark.parametrize("case", fast_sample(), ids=lambda c: c.id)
def test_fast(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_all(case, tmp_path):
    check(case, tmp_path)
