"""Figures for docs/task-metrics.md: ``compare --task`` on the shared real detectors and segmenters.

Runs each case with the trtlab CLI (run directories under bench/out/task-figures/), copies the task plots of the
report into docs/figures/ as SVG, and prints the markdown table of verdicts. BF16 needs opset 13: the opset-9 YuNet
is upgraded first with ``trtlab surgeon --opset 13`` (verified by the surgeon).

Run: ``python bench/task_figures.py`` (needs ../shared/models).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import tool  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT.parent / "shared" / "models"
WORK = ROOT / "bench" / "out" / "task-figures"
FIGURES = ROOT / "docs" / "figures"
YUNET = ["--task", "detection", "--detection", "boxes=loc,scores=conf,background=0", "--score-min", "0"]
CASES = [  # (figure name or None, model, target, extra args)
    ("task-fastestdet-fp16", "fastestdet.onnx", "onnxrt:fp16", ["--task", "detection", "--score-min", "0"]),
    (None, "fastestdet.onnx", "onnxrt:bf16", ["--task", "detection", "--score-min", "0"]),
    (None, "fastestdet.onnx", "reference", ["--task", "detection", "--score-min", "0"]),
    (None, "yunet_face_120x160.onnx", "onnxrt:fp16", YUNET),
    ("task-yunet-bf16", "yunet13.onnx", "onnxrt:bf16", YUNET),
    (None, "yunet_face_120x160.onnx", "reference", YUNET),
    (None, "deeplab_v3_tflite.onnx", "onnxrt:fp16", ["--task", "segmentation"]),
    ("task-road-fp16", "road_segmentation_adas.onnx", "onnxrt:fp16", ["--task", "segmentation"]),
    (None, "road_segmentation_adas.onnx", "reference", ["--task", "segmentation"]),
    (None, "mnist_opt.onnx", "onnxrt:fp16", ["--task", "classification", "--samples", "16"]),
]


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([tool("trtlab"), *argv], capture_output=True, text=True)


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    up = run(["surgeon", str(MODELS / "yunet_face_120x160.onnx"), "--opset", "13", "-o", str(WORK / "yunet13.onnx"),
              "--no-report", "-q"])
    assert up.returncode == 0, up.stderr
    rows = ["| model | target | exit | element-wise | task verdict | s |", "|---|---|---|---|---|---|"]
    for i, (fig, name, target, extra) in enumerate(CASES):
        model = WORK / name if name == "yunet13.onnx" else MODELS / name
        out = WORK / f"run{i}"
        start = time.perf_counter()
        r = run(["compare", str(model), "--target", target, "--out", str(out), "-q", *extra])
        wall = time.perf_counter() - start
        if not (out / "results.json").exists():
            rows.append(f"| {name} | {target} | {r.returncode} | - | {r.stderr.strip().splitlines()[-1]} | "
                        f"{wall:.1f} |")
            continue
        res = json.loads((out / "results.json").read_text())
        task = res["task"]
        rows.append(f"| {name} | {target} | {r.returncode} | {'PASSED' if res['passed'] else 'FAILED'} | "
                    f"{'PASSED' if task['passed'] else 'FAILED'}: {task['reason']} | {wall:.1f} |")
        if fig:
            html = (out / "report.html").read_text()
            section = html[html.index('<section id="task"'):]
            section = section[:section.index("</section>")]
            svgs = re.findall(r"<svg.*?</svg>", section, re.S)
            for k, svg in enumerate(svgs):
                path = FIGURES / f"{fig}{'-' + str(k) if k else ''}.svg"
                path.write_text('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
                                + svg[4:] + "\n")
                print(f"wrote {path.relative_to(ROOT)}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
