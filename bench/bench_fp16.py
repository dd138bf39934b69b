"""Issue 10 benchmark: the TensorRT-like FP16 simulation (fold + fuse in FP32, then round) against the plain
per-node simulation (``fold=0``, the behaviour before) and Polygraphy's mark-all save+load, side by side.

Model: a BERT-base-sized encoder built in code (tests/reports/bertlike.py at hidden 768, 12 heads, 12 layers,
FFN 3072, sequence 128: ~85 M parameters, the Shape/Gather/Concat chains of an export; no torch needed).

trtlab:      trtlab compare M --target onnxrt:fp16 --layerwise --no-report           (fold=1, the default)
trtlab:      trtlab compare M --target onnxrt:fp16,fold=0 --layerwise --no-report    (the plain simulation)
Polygraphy:  polygraphy run M --onnxrt --onnx-outputs '*' --save-outputs ref.json, then the same with
             --load-outputs ref.json (FP32 both: Polygraphy has no FP16 simulation that runs on this model)

Run: ``python bench/bench_fp16.py [--repeats N] [--seq 128]``; prints JSON, ratios are trtlab / Polygraphy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import measure, tool  # noqa: E402

WORK = ROOT / "bench" / "out" / "fp16"


def build(seq: int) -> Path:
    import onnx

    from tests.reports.bertlike import bertlike

    path = WORK / f"bert_base_like_seq{seq}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        model = bertlike(layers=12, hidden=768, heads=12, seq=seq)
        onnx.save(model, str(path), save_as_external_data=True, location=path.name + ".data")
    return path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    args = p.parse_args(argv)
    model = str(build(args.seq))
    shape = ["--input-shapes", f"input_ids:1x{args.seq}", "--val-range", "input_ids:[0,99]", "--seed", "1"]
    poly_shape = ["--input-shapes", f"input_ids:[1,{args.seq}]", "--val-range", "input_ids:[0,99]", "--seed", "1"]
    report = {"model": f"bertlike hidden 768 x 12 layers, seq {args.seq}"}
    for label, target in (("trtlab fp16 fold=1", "onnxrt:fp16"), ("trtlab fp16 fold=0", "onnxrt:fp16,fold=0")):
        work = WORK / label.replace(" ", "_").replace("=", "")
        run_dir = work / "run"
        m = measure(label, [[tool("trtlab"), "compare", model, "--target", target, "--layerwise", "--no-report",
                             "--out", str(run_dir), *shape]], work, args.repeats,
                    prepare=lambda d=run_dir: shutil.rmtree(d, ignore_errors=True))
        res = json.loads((run_dir / "results.json").read_text())
        report[label] = {**m.as_dict(), "layers_compared": len(res["layers"] or []),
                         "fused": sum(1 for u in res["unmatched"] if u.get("fused")),
                         "verdict": res["passed"],
                         "failed_rules": sorted({f["rule"] for f in res["verdict"]["failures"]}),
                         "first_nonfinite": res["first_nonfinite"]}
    work = WORK / "polygraphy"
    common = [tool("polygraphy"), "run", model, "--onnxrt", "--onnx-outputs", "*", *poly_shape]
    poly = measure("polygraphy", [common + ["--save-outputs", "ref.json"], common + ["--load-outputs", "ref.json"]],
                   work, args.repeats)
    report["polygraphy mark-all save+load (fp32)"] = poly.as_dict()
    for label in ("trtlab fp16 fold=1", "trtlab fp16 fold=0"):
        report[label]["wall_ratio_vs_polygraphy"] = round(report[label]["wall_s_median"] / poly.wall, 3)
        report[label]["peak_ratio_vs_polygraphy"] = round(report[label]["peak_mb_median"] / poly.peak, 3)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
