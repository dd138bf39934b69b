"""How faithful is the CPU FP16 simulation? Measured against real FP16 kernels (ORT CUDA) on the same inputs.

Per model, one seeded input sample:
  real:  trtlab's ``to-fp16`` model on ``onnxrt:cuda``           vs the FP32 model on ``onnxrt:cuda,tf32=0``
  sim:   the FP32 model on ``onnxrt:fp16`` (CPU, storage rounding) vs the FP32 model on ``onnxrt`` (CPU)
Output max abs error and cosine for both (worst over the model's float outputs), and sim/real of the max abs error.

    python bench/gpu_fidelity.py [--json OUT.json] [MODEL[@input:SHAPE,...] ...]
Needs onnxruntime with the CUDA provider and a GPU; without one the real side is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = Path(os.environ.get("TRTLAB_SHARED_MODELS", ROOT.parent / "shared" / "models"))
DEFAULT = ["mnist_opt.onnx", "super_resolution.onnx@input:1x1x224x224", "fastestdet.onnx", "light_densenet121.onnx",
           "road_segmentation_adas.onnx", "yunet_face_120x160.onnx", "tbefn_lowlight_180x320.onnx",
           "deeplab_v3_tflite.onnx", "poly_residual_block.onnx"]


def _errors(ref: dict, out: dict) -> tuple[float, float]:
    worst_abs, worst_cos = 0.0, 1.0
    for name, r in ref.items():
        if r.dtype.kind != "f":
            continue
        r64, o64 = r.astype(np.float64).ravel(), np.asarray(out[name], np.float64).ravel()
        finite = np.isfinite(r64) & np.isfinite(o64)
        if not finite.all():
            return float("inf"), float("nan")
        worst_abs = max(worst_abs, float(np.abs(r64 - o64).max()) if r64.size else 0.0)
        denom = np.linalg.norm(r64) * np.linalg.norm(o64)
        worst_cos = min(worst_cos, float(r64 @ o64 / denom) if denom else 1.0)
    return worst_abs, worst_cos


def _run(spec: str, proto, feeds: dict) -> dict:
    from trtlab import backends

    with backends.create(backends.parse_spec(spec)) as b:
        b.load(proto)
        return b.run(feeds)


def measure(item: str) -> dict:
    from trtlab.passes.to_half import convert_to_half as to_half

    from trtlab.inputs import parse_shape_args, plan_inputs, random_feeds
    from trtlab.model import load_model

    name, _, shapes = item.partition("@")
    model = load_model(MODELS / name)
    plan = plan_inputs(model.proto.graph, parse_shape_args(shapes.split(",") if shapes else None))
    feeds = random_feeds(plan, 1, 0)
    row = {"model": name, "shapes": {k: list(v) for k, v in plan.shapes.items()}}
    cpu, sim = _run("onnxrt", model.proto, feeds), _run("onnxrt:fp16", model.proto, feeds)
    row["sim_max_abs"], row["sim_cosine"] = _errors(cpu, sim)
    try:
        half = to_half(model.proto, "fp16")
        row["fp16_initializers"] = sum(i.data_type == 10 for i in half.graph.initializer)  # 0: nothing converted
        ref = _run("onnxrt:cuda,tf32=0", model.proto, feeds)
        real = _run("onnxrt:cuda", half, feeds)
        row["real_max_abs"], row["real_cosine"] = _errors(ref, real)
        row["cpu_vs_cuda_fp32_max_abs"] = _errors(cpu, ref)[0]
        row["ratio"] = row["sim_max_abs"] / row["real_max_abs"] if row["real_max_abs"] else None
    except Exception as exc:  # a model the conversion or the CUDA provider refuses: say so, keep going
        row["real_error"] = " ".join(str(getattr(exc, "problem", exc)).split())[:300]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'model':32} {'sim max abs':>12} {'sim cos':>10} {'real max abs':>12} {'real cos':>10} {'sim/real':>8}")
    for item in args.models:
        row = measure(item)
        rows.append(row)
        real = (f"{row['real_max_abs']:12.4g} {row['real_cosine']:10.6f} "
                f"{row['ratio'] if row['ratio'] is not None else float('nan'):8.2f}") if "real_max_abs" in row \
            else f"  real side failed: {row.get('real_error', '')[:60]}"
        print(f"{row['model'][:32]:32} {row['sim_max_abs']:12.4g} {row['sim_cosine']:10.6f} {real}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
