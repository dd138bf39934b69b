"""The ONNX operator conformance cases through onnxrt:fp16, onnxrt:bf16 and reference (tests/backends/conformance.py):
a fast subset in the default suite, all 1,884 behind the `slow` marker. Totals are in docs/conformance.md."""

import pytest

from tests.backends import conformance as cf

FAST_STRIDE = 18  # ~105 cases, every op family sampled


@pytest.fixture(scope="session")
def node_cases(request):
    return cf.cached_cases(request.config.cache.mkdir("trtlab-conformance"))


def _check(rows: list[dict]) -> dict:
    errors = [(r["name"], spec, status) for r in rows for spec, status in r["half"].items()
              if not status.startswith(("ok", "refused: "))]
    assert not errors, errors[:10]
    refused = [(r["name"], s) for r in rows for s in r["half"].values() if s.startswith("refused")]
    assert all("\n" not in s for _, s in refused), refused
    disagree = [r["name"] for r in rows if r["reference"].startswith(("DISAGREES", "ERROR"))]
    assert not disagree, disagree
    assert all(len(r["half"]) == 2 for r in rows if r["ort"])  # every case ORT runs went through both targets
    return cf.totals(rows)


def test_conformance_subset(node_cases):
    rows = cf.sweep(node_cases[::FAST_STRIDE], workers=1)
    totals = _check(rows)
    assert totals["onnxruntime runs"] >= 80 and totals.get("reference agrees", 0) >= 70, totals


@pytest.mark.slow
def test_conformance_all(node_cases):
    rows = cf.sweep(node_cases, workers=2)
    totals = _check(rows)
    print(totals)
    assert totals["cases"] >= 1800 and totals["onnxruntime runs"] >= 1400, totals
    assert totals["onnxrt:fp16 ok"] + totals.get("onnxrt:fp16 refused", 0) == totals["onnxruntime runs"]
