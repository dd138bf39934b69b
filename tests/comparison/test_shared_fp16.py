"""Issue 10 acceptance on ../shared/models: `compare --target onnxrt:fp16 --layerwise` runs on every model that
onnxruntime runs (no exit 2/4), and every `--target ...` mitigation printed in a finding is accepted verbatim."""

import json
import re
import shlex

import pytest

from tests.conftest import shared_model
from tests.passes.test_shared_models import MODELS, NOT_RUNNABLE

EXTRA = {"super_resolution.onnx": ["--input-shapes", "input:1x1x224x224"],
         "poly_dynamic_identity.onnx": ["--input-shapes", "X:1x2x5x7"],
         "poly_residual_block.onnx": ["--input-shapes", "gpu_0/data_0:1x3x224x224"]}
# the two slowest models (20-40 s a run on 2 cores): their mitigations are not re-run here, to keep CI short
MITIGATIONS_NOT_RERUN = {"road_segmentation_adas.onnx", "light_densenet121.onnx"}


def _mitigations(findings: list[dict]) -> list[list[str]]:
    return [shlex.split(c) for f in findings for c in re.findall(r"`(--(?:target|atol) [^`]+)`", f["mitigation"])]


@pytest.mark.slow
@pytest.mark.parametrize("name", [m for m in MODELS if m not in NOT_RUNNABLE])
def test_fp16_layerwise_runs_and_mitigations_are_accepted(cli, tmp_path, name):
    model = str(shared_model(name))
    r = cli("compare", model, "--target", "onnxrt:fp16", "--layerwise", "--no-report", "--json", "--out",
            str(tmp_path / "run"), *EXTRA.get(name, []))
    assert r.code in (0, 1), r
    res = json.loads(r.out)
    assert res["passed"] == (r.code == 0) and ("verdict" in res and "findings" in res)
    for i, args in enumerate(_mitigations(res["findings"])[:1] if name not in MITIGATIONS_NOT_RERUN else []):
        target = [] if args[0] == "--target" else ["--target", "onnxrt:fp16"]
        again = cli("compare", model, *target, *args, "--no-report", "--json", "--out", str(tmp_path / f"m{i}"),
                    *EXTRA.get(name, []))
        assert again.code in (0, 1), (args, again)
        notes = " ".join(json.loads(again.out)["target"]["notes"])
        assert "match no" not in notes, (args, notes)
