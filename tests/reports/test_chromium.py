"""Reports opened in a real headless Chromium: the page renders, key sections are in the DOM, no network use."""

from __future__ import annotations

import numpy as np
import pytest
from trtlab.reports import write_report

from tests.reports.chromium import TrapProxy, dump_dom, need_chromium, screenshot
from tests.reports.fixtures import ALL, make_run


@pytest.fixture
def proxy():
    need_chromium()
    trap = TrapProxy()
    yield trap
    trap.close()


def assert_not_blank(img: np.ndarray) -> None:
    rgb = img[..., :3]
    assert rgb.std() > 0.05, "screenshot is (nearly) uniform"
    dark = (rgb.mean(axis=-1) < 0.5).mean()
    assert 0.002 < dark < 0.5, f"unexpected share of dark pixels: {dark:.4f}"


def test_compare_report_in_chromium(tmp_path, cli, proxy):
    r = cli("compare", "example:tinycnn", "--target", "onnxrt:fp16", "--layerwise", "--out", "run", "-q")
    assert r.code == 0, r
    html = tmp_path / "run" / "report.html"
    img, _ = screenshot(html, tmp_path, proxy_port=proxy.port)
    assert_not_blank(img)
    dom = dump_dom(html, tmp_path, proxy_port=proxy.port)
    for sec in ("run", "findings", "outputs", "layers", "histograms", "timing", "backends", "environment"):
        assert f'<section id="{sec}">' in dom, sec
    assert "PASSED" in dom and dom.count("<svg") >= 3
    assert proxy.page_requests() == []


def test_real_model_report_with_failure_in_chromium(tmp_path, cli, proxy, model_copy):
    model = model_copy("mnist_opt.onnx")
    r = cli("compare", str(model), "--target", "onnxrt:fp16", "--layerwise", "--out", "run", "-q")
    assert r.code in (0, 1), r
    html = tmp_path / "run" / "report.html"
    img, _ = screenshot(html, tmp_path, proxy_port=proxy.port)
    assert_not_blank(img)
    dom = dump_dom(html, tmp_path, proxy_port=proxy.port)
    assert "first divergence" in dom and "Convolution110" in dom and 'class="finding warning"' in dom
    assert proxy.page_requests() == []


@pytest.mark.parametrize("kind", ["surgeon", "check", "build"])
def test_other_schemas_in_chromium(tmp_path, proxy, kind):
    html = write_report(make_run(tmp_path, ALL[kind]))
    img, _ = screenshot(html, tmp_path, height=1200, proxy_port=proxy.port)
    assert_not_blank(img)
    assert proxy.page_requests() == []


def test_trap_proxy_sees_a_page_that_does_use_the_network(tmp_path, proxy):
    """Negative control: the same setup does catch an external request, so the assertions above mean something."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">hello</body></html>')
    dump_dom(page, tmp_path, proxy_port=proxy.port)
    assert any("example.invalid" in line for line in proxy.page_requests()), proxy.requests


def test_report_prints_to_pdf(tmp_path, proxy):
    from tests.reports.chromium import chromium

    html = write_report(make_run(tmp_path, ALL["check"]))
    pdf = tmp_path / "report.pdf"
    proc = chromium(html, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", proxy_port=proxy.port)
    assert pdf.exists() and pdf.read_bytes()[:4] == b"%PDF", proc.stderr[-2000:]
    assert proxy.page_requests() == []


def test_table_sort_and_filter_scripts_work(tmp_path, proxy):
    """Drive the inline script in Chromium: click a numeric header, type into the filter box, read the DOM."""
    from trtlab.reports.html import big_table, page

    rows = [[i, f"layer_{i}", "Conv" if i % 2 else "Relu", f"{10.0 ** -(i % 7):.2e}"] for i in range(40)]
    rows.append([40, "layer_inf", "Add", "inf"])
    body = big_table("All layers", ["#", "tensor", "op", "max abs"], rows, table_id="t", numeric={0, 3}, open_=True)
    driver = ("<script>window.addEventListener('load',function(){"
              "var th=document.querySelectorAll('#t thead th')[3];th.click();th.click();"
              "var f=document.querySelector('input.filter');f.value='relu';f.dispatchEvent(new Event('input'));"
              "var vis=Array.prototype.filter.call(document.querySelectorAll('#t tbody tr'),"
              "function(r){return r.style.display!=='none';});"
              "document.body.setAttribute('data-first',document.querySelector('#t tbody tr').cells[1].textContent);"
              "document.body.setAttribute('data-visible',vis.length);});</script>")
    html = tmp_path / "t.html"
    html.write_text(page("t", "", "", [("s", "S", body)], "").replace("</body>", driver + "</body>"))
    dom = dump_dom(html, tmp_path, proxy_port=proxy.port)
    assert 'data-first="layer_inf"' in dom  # sorted descending by max abs: inf first
    assert 'data-visible="20"' in dom  # 20 Relu rows left after filtering
    assert "20 of 41 rows" in dom
