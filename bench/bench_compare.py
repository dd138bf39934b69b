"""Issue 2 benchmark: layer-wise ``trtlab compare`` versus the Polygraphy equivalent, side by side.

trtlab:     trtlab compare M --ref onnxrt --target onnxrt --layerwise --no-report ...
Polygraphy: polygraphy run M --onnxrt --onnx-outputs '*' --save-outputs ref.json ...
            polygraphy run M --onnxrt --onnx-outputs '*' --load-outputs ref.json ...

Same input shapes, value ranges and seed for both. Polygraphy's pair counts as one job: wall times are summed and
the peak is the larger of its two processes. Also checks the FP16 path on the BERT export: trtlab's
``--target onnxrt:fp16 --layerwise`` must run, and Polygraphy's ``--fp-to-fp16`` is recorded (it fails there).

Run: ``python bench/bench_compare.py [--quick] [--repeats N] [--models resnet50 bert]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import models
from bench.measure import load_average, measure, run_once, tail, tool

WORK = models.OUT / "compare"
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CASES = {
    "resnet50": {"shapes": {"input": [1, 3, 224, 224]}, "ranges": {}},
    "bert": {"shapes": {n: [1, 128] for n in BERT_INPUTS},
             "ranges": {"input_ids": (0, models.BERT_VOCAB - 1), "attention_mask": (0, 1), "token_type_ids": (0, 1)}},
}
SEED = 1


def trtlab_args(case: dict) -> list[str]:
    args = ["--input-shapes", *[f"{n}:{'x'.join(map(str, s))}" for n, s in case["shapes"].items()], "--seed", str(SEED)]
    if case["ranges"]:
        args += ["--val-range", *[f"{n}:[{lo},{hi}]" for n, (lo, hi) in case["ranges"].items()]]
    return args


def polygraphy_args(case: dict) -> list[str]:
    args = ["--input-shapes", *[f"{n}:[{','.join(map(str, s))}]" for n, s in case["shapes"].items()],
            "--seed", str(SEED)]
    if case["ranges"]:
        args += ["--val-range", *[f"{n}:[{lo},{hi}]" for n, (lo, hi) in case["ranges"].items()]]
    return args


def bench_model(name: str, repeats: int) -> dict:
    model = str(models.MODELS[name]())
    case, work = CASES[name], WORK / name
    shutil.rmtree(work, ignore_errors=True)
    run_dir = work / "trtlab-run"
    trt = measure("trtlab", [[tool("trtlab"), "compare", model, "--ref", "onnxrt", "--target", "onnxrt",
                              "--layerwise", "--no-report", "--out", str(run_dir), *trtlab_args(case)]],
                  work, repeats, prepare=lambda: shutil.rmtree(run_dir, ignore_errors=True))
    poly_common = [tool("polygraphy"), "run", model, "--onnxrt", "--onnx-outputs", "*", *polygraphy_args(case)]
    poly = measure("polygraphy", [poly_common + ["--save-outputs", "ref.json"],
                                  poly_common + ["--load-outputs", "ref.json"]], work, repeats)
    results = json.loads((run_dir / "results.json").read_text())
    return {
        "model": name, "nodes": results["model"]["nodes"], "trtlab": trt.as_dict(), "polygraphy": poly.as_dict(),
        "wall_ratio": round(trt.wall / poly.wall, 3), "peak_ratio": round(trt.peak / poly.peak, 3),
        "layers_compared": len(results["layers"] or []), "trtlab_passed": results["passed"],
        "ok": all(rc == [0] for rc in trt.rcs) and all(rc == [0, 0] for rc in poly.rcs),
    }


def fp16_check() -> dict:
    """trtlab's FP16 storage simulation on the BERT export, and Polygraphy's --fp-to-fp16 on the same model."""
    model, case, work = str(models.bert()), CASES["bert"], WORK / "fp16"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run_dir = work / "trtlab-run"
    trt = run_once([tool("trtlab"), "compare", model, "--target", "onnxrt:fp16", "--layerwise", "--no-report",
                    "--out", str(run_dir), *trtlab_args(case)], work, work / "trtlab-fp16.log")
    out = {"trtlab": {"rc": trt.rc, "wall_s": round(trt.wall_s, 2), "peak_mb": round(trt.peak_mb)}}
    results_file = run_dir / "results.json"
    if results_file.exists():
        res = json.loads(results_file.read_text())
        failing = [m["name"] for m in res["layers"] or [] if not m["passed"]]
        out["trtlab"].update({"works": trt.rc in (0, 1), "passed": res["passed"],
                              "layers_compared": len(res["layers"] or []), "layers_failing": len(failing),
                              "first_divergence": res["first_divergence"],
                              "outputs": {m["name"]: {"max_abs": m["max_abs"], "cosine": m["cosine"]}
                                          for m in res["outputs"]}})
    else:
        out["trtlab"].update({"works": False, "error": tail(trt.log, 3)})
    poly = run_once([tool("polygraphy"), "run", model, "--onnxrt", "--fp-to-fp16", *polygraphy_args(case)],
                    work, work / "polygraphy-fp16.log")
    log = Path(poly.log).read_text(errors="replace").splitlines()
    errors = [line.strip() for line in log if "Error" in line or "FAIL" in line]
    error = errors[-1] if errors else tail(poly.log, 2)
    if "onnxconverter_common" in error:
        error += " (install onnxconverter-common to see Polygraphy's real --fp-to-fp16 behaviour)"
    out["polygraphy"] = {"rc": poly.rc, "fails": poly.rc != 0, "wall_s": round(poly.wall_s, 2), "error": error[:400]}
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one repeat, BERT only")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", nargs="+", choices=list(CASES), default=list(CASES))
    p.add_argument("--no-fp16", action="store_true", help="skip the FP16 check")
    p.add_argument("--json", metavar="FILE", help="write the results here as JSON")
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    names = ["bert"] if args.quick else args.models
    report = {"repeats": repeats, "load_before": load_average(), "models": []}
    for name in names:
        row = bench_model(name, repeats)
        report["models"].append(row)
        print(f"{name}: trtlab {row['trtlab']['wall_s_median']:.2f} s / {row['trtlab']['peak_mb_median']:.0f} MB, "
              f"polygraphy {row['polygraphy']['wall_s_median']:.2f} s / {row['polygraphy']['peak_mb_median']:.0f} MB"
              f" -> wall x{row['wall_ratio']:.2f}, peak x{row['peak_ratio']:.2f}"
              f"{'' if row['ok'] else '  (a command failed: see ' + str(WORK / name) + ')'}", flush=True)
    if not args.no_fp16:
        report["fp16"] = fp16_check()
        t, poly = report["fp16"]["trtlab"], report["fp16"]["polygraphy"]
        print(f"fp16: trtlab works={t['works']} (rc {t['rc']}, first divergence {t.get('first_divergence')}); "
              f"polygraphy --fp-to-fp16 rc {poly['rc']}: {poly['error'][:160]}", flush=True)
    report["load_after"] = load_average()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
