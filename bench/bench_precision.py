"""`trtlab debug precision` vs ModelOpt AutoCast, side by side on the same models, goal and samples.

    python bench/bench_precision.py [--autocast-python PY] [--snr 50] [--only NAME ...] [--json OUT.json]

Per model: 4 input samples (seeded, the model's default ranges); the first 3 are the search/calibration set, the
last one is held out. trtlab: `trtlab debug precision M -o t.onnx --load-inputs all.npz --holdout 1 --min-snr S`.
AutoCast: `PY -m modelopt.onnx.autocast --onnx_path M --calibration_data search.npz --keep_io_types
--providers cpu` (its default rules: data_max 512, init_max 65504). Both outputs are then judged the same way:
does the file run in onnxruntime as it is; does it meet the goal (SNR >= S dB on every output) on the held-out
sample when run faithfully (trtlab.mixed_precision.widen: FP32 arithmetic with every FP16 tensor stored in FP16;
onnxruntime's CPU provider would otherwise compute FP16 nodes in FP32 and hide overflow); the share of float
compute in FP16 (same measure for both); wall time of each command; evaluations. `trtlab check` parses both.
Where trtlab kept nodes, a third row runs AutoCast with trtlab's exclusion list (`--nodes_to_exclude` from
autocast_nodes_to_exclude.txt): the same decision driving ModelOpt.

nvidia-modelopt[onnx] pins onnx~=1.21 and onnxruntime-gpu~=1.24 (with torch), which conflict with this project's
onnx/onnxruntime: install it in a venv of its own (`pip install "nvidia-modelopt[onnx]"`, the `bench-autocast`
extra) and pass that venv's python.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent.parent / "shared" / "models"
REAL = ["poly_needs_constraints", "super_resolution", "fastestdet", "yunet_face_120x160", "tbefn_lowlight_180x320",
        "deeplab_v3_tflite", "light_densenet121", "road_segmentation_adas"]
BUILT = ["bertlike", "vitlike"]


def model_path(name: str, work: Path) -> Path:
    import onnx

    if name == "bertlike":
        from tests.reports.bertlike import bertlike

        onnx.save(bertlike(), str(work / "bertlike.onnx"))
        return work / "bertlike.onnx"
    if name == "vitlike":
        from tests.mixed_precision.vitlike import vitlike

        onnx.save(vitlike(act_scale=1000.0), str(work / "vitlike.onnx"))
        return work / "vitlike.onnx"
    for base in (SHARED, Path("/work/shared/models")):
        if (base / f"{name}.onnx").exists():
            return base / f"{name}.onnx"
    raise FileNotFoundError(name)


def make_inputs(path: Path, work: Path, n: int = 4) -> list[dict]:
    import numpy as np

    from trtlab.inputs import plan_inputs, random_feeds, save_npz
    from trtlab.model import load_model

    m = load_model(path)
    plan = plan_inputs(m.proto.graph, {}, {}, None)
    samples = [random_feeds(plan, 1, i) for i in range(n)]
    save_npz(work / "all.npz", samples)
    np.savez(work / "search.npz", **samples[0])
    return samples


def timed(cmd: list[str], timeout: int = 900) -> tuple[int, float, str]:
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, time.perf_counter() - start, "timeout"
    return r.returncode, time.perf_counter() - start, r.stdout + r.stderr


def judge(path: Path, original: Path, samples: list[dict], snr: float) -> dict:
    """Runs as it is in onnxruntime? Meets the goal on the held-out sample when run faithfully? FP16 share."""
    from trtlab import backends
    from trtlab.backends import parse_spec
    from trtlab.mixed_precision.evaluate import Goal
    from trtlab.mixed_precision.widen import low_precision_share, widen
    from trtlab.model import load_model

    out = {"exists": path.exists()}
    if not path.exists():
        return out
    mixed = load_model(path, check=False).proto
    held = samples[-1]
    with backends.create(parse_spec("onnxrt")) as ref:
        ref.load(load_model(original).proto)
        expect = ref.run(held)
    try:
        with backends.create(parse_spec("onnxrt:opt=all")) as b:
            b.load(mixed)
            b.run(held)
        out["runs_ort"] = True
    except Exception as exc:
        out["runs_ort"], out["ort_error"] = False, " ".join(str(exc).split())[:160]
    goal = Goal(None, min_snr=snr)
    try:
        with backends.create(parse_spec("onnxrt")) as b:
            b.load(widen(mixed))
            got = b.run(held)
        results = [goal.judge(n, expect[n], got[n]) for n in expect]
        out["meets"] = all(ok for ok, _ in results)
        snrs = [m["snr_db"] for _, m in results]
        out["snr_db"] = min((s for s in snrs if s is not None), default=None)
    except Exception as exc:
        out["meets"], out["judge_error"] = False, " ".join(str(exc).split())[:160]
    out["fp16_share"] = round(low_precision_share(mixed), 4)
    rc, _, text = timed([str(ROOT / ".venv" / "bin" / "trtlab"), "check", str(path), "--no-report"]
                        if (ROOT / ".venv").exists() else ["trtlab", "check", str(path)])
    out["trt_parses"] = rc == 0
    return out


def bench_one(name: str, autocast_py: str | None, snr: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-precision-{name}-"))
    path = model_path(name, work)
    samples = make_inputs(path, work)
    trtlab = str(ROOT / ".venv" / "bin" / "trtlab") if (ROOT / ".venv").exists() else "trtlab"
    row: dict = {"model": name}
    rc, wall, text = timed([trtlab, "debug", "precision", str(path), "-o", str(work / "t.onnx"), "--load-inputs",
                            str(work / "all.npz"), "--holdout", "1", "--min-snr", str(snr), "--json", "--no-report",
                            "--out", str(work / "run")])
    res = json.loads(text[text.index("{"):]) if "{" in text and rc in (0, 1) else {}
    row["trtlab"] = {"rc": rc, "wall_s": round(wall, 2), "evaluations": res.get("counts", {}).get("evaluations"),
                     "kept": len(res.get("kept", [])), **judge(work / "t.onnx", path, samples, snr)}
    if autocast_py:
        rc, wall, text = timed([autocast_py, "-m", "modelopt.onnx.autocast", "--onnx_path", str(path),
                                "--output_path", str(work / "a.onnx"), "--calibration_data", str(work / "search.npz"),
                                "--keep_io_types", "--providers", "cpu"])
        row["autocast"] = {"rc": rc, "wall_s": round(wall, 2), "evaluations": 1 if rc == 0 else 0,
                           **judge(work / "a.onnx", path, samples, snr)}
        if rc != 0:
            row["autocast"]["error"] = text.strip().splitlines()[-1][:200] if text.strip() else ""
        if row["trtlab"]["kept"]:
            row["autocast+list"] = autocast_with_list(autocast_py, path, work, samples, snr)
    return row


def autocast_with_list(autocast_py: str, path: Path, work: Path, samples: list[dict], snr: float) -> dict:
    """AutoCast driven by trtlab's decision: its rules plus --nodes_to_exclude from autocast_nodes_to_exclude.txt."""
    patterns = (work / "run" / "autocast_nodes_to_exclude.txt").read_text().split()
    rc, wall, text = timed([autocast_py, "-m", "modelopt.onnx.autocast", "--onnx_path", str(path),
                            "--output_path", str(work / "al.onnx"), "--calibration_data", str(work / "search.npz"),
                            "--keep_io_types", "--providers", "cpu", "--nodes_to_exclude", *patterns])
    out = {"rc": rc, "wall_s": round(wall, 2), "evaluations": 1 if rc == 0 else 0,
           **judge(work / "al.onnx", path, samples, snr)}
    if rc != 0:
        out["error"] = text.strip().splitlines()[-1][:200] if text.strip() else ""
    return out


def table(rows: list[dict], snr: float) -> str:
    lines = [f"Goal: SNR >= {snr:g} dB on every output, held-out sample; FP16 share = share of float compute "
             "(multiply-adds) in nodes producing FP16.", "",
             "| model | tool | runs in ORT | meets goal (held out) | SNR dB | FP16 share | wall s | evaluations | "
             "kept FP32 | TRT parses |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for tool in ("trtlab", "autocast", "autocast+list"):
            t = r.get(tool)
            if not t:
                continue
            snr_txt = "-" if t.get("snr_db") is None else f"{t['snr_db']:.1f}"
            lines.append(f"| {r['model']} | {tool} | {_yn(t.get('runs_ort'))} | {_yn(t.get('meets'))} | {snr_txt} | "
                         f"{t.get('fp16_share', 0):.1%} | {t['wall_s']} | {t.get('evaluations')} | "
                         f"{t.get('kept', '-')} | {_yn(t.get('trt_parses'))} |")
    return "\n".join(lines)


def _yn(v) -> str:
    return "-" if v is None else ("yes" if v else "**no**")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--autocast-python", help="python of a venv with nvidia-modelopt[onnx] (none: trtlab only)")
    ap.add_argument("--snr", type=float, default=50.0)
    ap.add_argument("--only", nargs="+", help="model names")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    rows = []
    for name in args.only or REAL + BUILT:
        row = bench_one(name, args.autocast_python, args.snr)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(table(rows, args.snr))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
