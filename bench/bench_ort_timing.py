"""Timing overhead of ``trtlab run --backend onnxrt`` against a bare ``InferenceSession.run`` loop.

    python bench/bench_ort_timing.py [--spec onnxrt[:cuda]] [--rounds 5] [--seconds 1] [--json OUT] [MODEL ...]

Side by side in one process, same model bytes, same inputs, same session settings (graph optimisation disabled, as
trtlab's default): each round runs the bare loop (``perf_counter`` around ``sess.run(None, feeds)``) and trtlab's
timed runner (``trtlab.backends.ort_timing`` + ``trtlab.timing.benchmark``, what ``trtlab run`` calls) for
``--seconds`` each, alternating which goes first; the figure is the median over rounds of each round's median
latency (end-to-end wall time per iteration; on CUDA both include the host<->device copies; trtlab's runner copies
through I/O binding on its own stream, the bare loop lets ORT copy). Overhead = trtlab / bare - 1.

On CUDA a third loop does exactly the work trtlab's runner does, written out bare: copy the inputs into the same
page-locked buffers, the same host-to-device copies on the same stream, ``run_with_iobinding`` on the same
binding, the same device-to-host copies, one stream synchronisation; no events, no bookkeeping. ``overhead`` on
CUDA is trtlab against that loop (what trtlab adds to the work); ``vs sess.run`` is against the plain loop, where
the work differs (pageable copies made by ORT).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = Path(os.environ.get("TRTLAB_SHARED_MODELS", ROOT.parent / "shared" / "models"))
DEFAULT = ["mnist_opt.onnx", "yunet_face_120x160.onnx", "fastestdet.onnx", "super_resolution.onnx"]


def bare_session(path: Path, cuda: bool):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    providers = [("CUDAExecutionProvider", {"use_tf32": "1"}), "CPUExecutionProvider"] if cuda \
        else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), so, providers=providers)


def bare_loop(sess, feeds: dict, seconds: float) -> list[float]:
    out, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(out) < 10:
        t = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t) * 1e3)
    return out


def bound_loop(runner, feeds: dict, seconds: float) -> list[float]:
    """The work of trtlab's CUDA runner without trtlab: same buffers, stream and binding."""
    stream, sess, binding = runner.stream, runner.session, runner.binding
    ins = [(runner.pinned[n].array, feeds[n], dev) for n, dev in runner.device_inputs.items()]
    outs = [(runner.pinned["out:" + n].array, dev) for n, dev in (runner.device_outputs or {}).items()]
    out, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(out) < 10:
        t = time.perf_counter()
        for host, value, dev in ins:
            np.copyto(host, value, casting="no")
            stream.h2d(dev.data_ptr(), host, host.nbytes)
        sess.run_with_iobinding(binding)
        for host, dev in outs:
            stream.d2h(host, dev.data_ptr(), host.nbytes)
        stream.synchronize()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def measure(name: str, spec_text: str, rounds: int, seconds: float) -> dict:
    from trtlab.backends import parse_spec
    from trtlab.backends.ort_timing import open_timed
    from trtlab.inputs import plan_inputs, random_feeds
    from trtlab.model import load_model
    from trtlab.timing import benchmark

    spec = parse_spec(spec_text)
    model = load_model(MODELS / name)
    feeds = random_feeds(plan_inputs(model.proto.graph, {}), 1, 0)
    sess = bare_session(MODELS / name, bool(spec.options.get("cuda")))
    backend, runner, _stream = open_timed(spec, model.proto, feeds)
    bare_loop(sess, feeds, 0.2)  # warm both
    benchmark(runner, feeds, warmup_s=0.2, iterations=1, duration_s=0)
    cuda = runner.cuda and runner.device_outputs is not None
    bare, ours, bound, iterations = [], [], [], [0, 0]
    for r in range(rounds):
        sides = ("bare", "trtlab", "bound") if cuda else ("bare", "trtlab")
        for side in (sides if r % 2 == 0 else sides[::-1]):
            if side == "bare":
                times = bare_loop(sess, feeds, seconds)
                bare.append(float(np.median(times)))
                iterations[0] += len(times)
            elif side == "bound":
                bound.append(float(np.median(bound_loop(runner, feeds, seconds))))
            else:
                rep = benchmark(runner, feeds, warmup_s=0, iterations=10, duration_s=seconds)
                ours.append(rep.stats["wall_ms"]["median"])
                iterations[1] += rep.iterations
    runner.close()
    backend.close()
    b, t = float(np.median(bare)), float(np.median(ours))
    same = float(np.median(bound)) if bound else None
    return {"model": name, "spec": spec_text, "provider": backend.info.get("provider"), "bare_median_ms": b,
            "trtlab_median_ms": t, "bound_median_ms": same, "overhead": t / (same or b) - 1,
            "vs_session_run": t / b - 1, "bare_iterations": iterations[0], "trtlab_iterations": iterations[1],
            "rounds": rounds, "all": {"bare": bare, "trtlab": ours, "bound": bound}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--spec", default="onnxrt")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    rows = []
    print(f"spec {args.spec}, {args.rounds} rounds of {args.seconds:g} s per loop")
    print(f"{'model':24} {'bare p50 ms':>11} {'bound p50 ms':>12} {'trtlab p50 ms':>13} {'overhead':>9} "
          f"{'vs run':>8}")
    for name in args.models:
        row = measure(name, args.spec, args.rounds, args.seconds)
        rows.append(row)
        same = f"{row['bound_median_ms']:12.4f}" if row["bound_median_ms"] is not None else f"{'-':>12}"
        print(f"{name[:24]:24} {row['bare_median_ms']:11.4f} {same} {row['trtlab_median_ms']:13.4f} "
              f"{row['overhead']:+9.2%} {row['vs_session_run']:+8.2%}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
