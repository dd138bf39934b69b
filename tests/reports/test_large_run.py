"""A BERT-base-shaped layer-wise run: the report stays small enough to share and usable in a browser."""

from __future__ import annotations

import json
import re

import onnx

from tests.reports.bertlike import bertlike
from tests.reports.chromium import CHROMIUM, dump_dom, screenshot
from tests.reports.test_report_cmd import external_refs

MAX_BYTES = 1_000_000


def test_bertlike_layerwise_report_size_and_tables(tmp_path, cli):
    model = tmp_path / "bertlike.onnx"
    onnx.save(bertlike(), model)
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--out", "run", "-q")
    assert r.code in (0, 1), r
    run = tmp_path / "run"
    res = json.loads((run / "results.json").read_text())
    layers = len(res["layers"])
    fused = sum(1 for u in res["unmatched"] if u.get("fused"))  # folded/fused in FP32, as TensorRT does
    html = (run / "report.html").read_text()
    size = len(html.encode())
    print(f"bertlike: {layers} layers, report {size / 1024:.0f} KiB")
    assert layers > 500 and layers + fused > 800 and size < MAX_BYTES
    full = re.search(r'<details class="tbl"><summary>All layers.*?</details>', html, flags=re.DOTALL)
    assert full, "the full layer table is collapsed by default (no 'open' attribute)"
    assert full.group(0).count("<tr") == layers + 1  # header + one row per layer
    assert 'class="filter" data-table="all-layers"' in html and 'table id="worst-layers"' in html
    assert external_refs(html) == []
    if CHROMIUM.exists():
        img, _ = screenshot(run / "report.html", tmp_path, height=1600)
        assert img[..., :3].std() > 0.05
        assert 'id="all-layers"' in dump_dom(run / "report.html", tmp_path)
