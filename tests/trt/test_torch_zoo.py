"""``trtlab check`` and ``build`` (the TensorRT-RTX parser and builder) on PyTorch exports
(tests/models/torch_zoo.py): check never crashes (exit 0 or 1), and where it passes the build succeeds, with the
``--profile`` that build's own hint prints for a model with dynamic dims (a printed mitigation must work when typed),
in FP32 and in FP16 (with at least half of the float compute converted).
Fast: one architecture; the corpus is slow."""

from __future__ import annotations

import json
import re

import pytest

from tests.models import torch_zoo as zoo

pytestmark = [pytest.mark.skipif(zoo.torch_version() is None, reason="torch is not installed (the dev extra has it)"),
              pytest.mark.skipif(__import__("importlib").util.find_spec("tensorrt_rtx") is None,
                                 reason="tensorrt_rtx is not installed (the rtx extra has it)")]

FAST = ["resnet"]


def _check(cli, tmp_path, name: str) -> None:
    model = str(zoo.export(name))
    r = cli("check", model, "--json", "--out", str(tmp_path / "check"))
    assert r.code in (0, 1), r
    res = json.loads(r.out)
    assert res["passed"] == (r.code == 0)
    if r.code:
        assert res["failing"], "refused, naming no node"
        return
    b = cli("build", model, "-o", str(tmp_path / "m.engine"), "--out", str(tmp_path / "build"))
    profile = []
    if b.code == 2:  # dynamic dims and no profile: the hint's --profile, typed as printed
        hint = re.search(r"--profile (\S+)", b.err)
        assert hint, b
        profile = ["--profile", hint.group(1)]
        b = cli("build", model, "-o", str(tmp_path / "m.engine"), *profile, "--out", str(tmp_path / "build2"))
    assert b.code == 0, b
    assert (tmp_path / "m.engine").stat().st_size > 0
    # FP16: most float compute really converted (a Shape-derived FP32 rule must not spread through the graph)
    h = cli("build", model, "--precision", "fp16", "-o", str(tmp_path / "h.engine"), *profile, "--json", "--out",
            str(tmp_path / "build16"))
    assert h.code == 0, h
    assert _find(json.loads(h.out), "half_fraction") >= 0.5, h


def _find(tree, key: str):
    """The first value of ``key`` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    for item in tree if isinstance(tree, list) else []:
        found = _find(item, key)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("name", zoo.names(FAST))
def test_check_and_build_torch_exports(cli, tmp_path, name):
    _check(cli, tmp_path, name)
