"""TensorRT check/build time: trtlab versus the raw parser/builder and versus Polygraphy, in one run.

    python bench/bench_trt.py [--models mnist_opt,...] [--reps 3] [--write docs/benchmarks.md]

Measures, per model and with the same TensorRT module (Polygraphy gets POLYGRAPHY_USE_TENSORRT_RTX=1 for
tensorrt_rtx):
- raw: ``OnnxParser.parse`` and ``Builder.build_serialized_network`` called directly (median of --reps);
- trtlab in-process: ``run_check`` and ``build_to_files`` (model loading, provenance and files included);
- CLI wall time: ``trtlab check`` vs ``polygraphy inspect capability``; ``trtlab build`` vs ``polygraphy convert``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
DEFAULT = ["mnist_opt", "super_resolution", "yunet_face_120x160", "tbefn_lowlight_180x320", "fastestdet",
           "road_segmentation_adas"]
PROFILES = {"super_resolution": ("input", [1, 1, 224, 224], [2, 1, 224, 224], [4, 1, 224, 224])}


def median_time(fn, reps: int) -> float:
    fn()  # warm-up: imports and first-call costs are not what is measured
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def raw_times(trt, path: Path, name: str, reps: int) -> tuple[float, float]:
    from trtlab.trt.module import CapturingLogger

    data = path.read_bytes()

    def parse():
        logger = CapturingLogger.create(trt)
        builder = trt.mod.Builder(logger)
        network = builder.create_network(0)
        parser = trt.mod.OnnxParser(network, logger)
        assert parser.parse(data, str(path))
        return builder, network, parser

    def build():
        builder, network, _parser = parse()
        config = builder.create_builder_config()
        if name in PROFILES:
            inp, mn, opt, mx = PROFILES[name]
            profile = builder.create_optimization_profile()
            profile.set_shape(inp, mn, opt, mx)
            config.add_optimization_profile(profile)
        assert builder.build_serialized_network(network, config) is not None

    return median_time(parse, reps), median_time(build, reps)


def trtlab_times(trt, path: Path, name: str, reps: int, tmp: Path) -> tuple[float, float]:
    from trtlab.building import build_to_files
    from trtlab.model import load_model
    from trtlab.trt.build import BuildOptions
    from trtlab.trt.check import run_check
    from trtlab.trt.profiles import Profile

    profiles = [Profile({PROFILES[name][0]: PROFILES[name][1:]})] if name in PROFILES else []
    own: dict[str, list[float]] = {"check": [], "build": []}

    def check():
        start = time.perf_counter()
        result = run_check(trt, load_model(path))
        own["check"].append(time.perf_counter() - start - result.timing["parse_s"])

    def build():
        start = time.perf_counter()
        result = build_to_files(trt, load_model(path), BuildOptions(profiles=profiles), tmp / f"{name}.engine")
        own["build"].append(time.perf_counter() - start - result.timing["parse_s"] - result.timing["build_s"])

    times = median_time(check, reps), median_time(build, reps)
    return (*times, statistics.median(own["check"][1:]), statistics.median(own["build"][1:]))


def _dims(d):
    return "[" + ",".join(map(str, d)) + "]"


def cli_times(trt, path: Path, name: str, reps: int, tmp: Path) -> dict[str, float]:
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    if trt.name == "tensorrt_rtx":
        env["POLYGRAPHY_USE_TENSORRT_RTX"] = "1"
    prof_t, prof_p = [], []
    if name in PROFILES:
        inp, mn, opt, mx = PROFILES[name]
        prof_t = ["--profile", f"{inp}:{'x'.join(map(str, mn))}:{'x'.join(map(str, opt))}:{'x'.join(map(str, mx))}"]
        prof_p = ["--trt-min-shapes", f"{inp}:{_dims(mn)}", "--trt-opt-shapes", f"{inp}:{_dims(opt)}",
                  "--trt-max-shapes", f"{inp}:{_dims(mx)}"]
    cmds = {
        "trtlab check": ["trtlab", "check", str(path), "--out", str(tmp / "c"), "--trt-module", trt.name, "-q"],
        "polygraphy capability": ["polygraphy", "inspect", "capability", str(path), "-o", str(tmp / "pc")],
        "trtlab build": ["trtlab", "build", str(path), "-o", str(tmp / "t.engine"), "--out", str(tmp / "b"),
                         "--trt-module", trt.name, "-q", *prof_t],
        "polygraphy convert": ["polygraphy", "convert", str(path), "--convert-to", "trt", "-o", str(tmp / "p.engine"),
                               *prof_p],
    }
    out = {}
    for label, cmd in cmds.items():
        def once(cmd=cmd, label=label):
            for leftover in (tmp / "c", tmp / "b"):
                subprocess.run(["rm", "-rf", str(leftover)], check=True)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"{label} failed on {name}: {proc.stderr[-800:]}")
        out[label] = median_time(once, reps)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(DEFAULT))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--write", metavar="FILE", help="replace the '## TensorRT check/build' section of FILE")
    args = ap.parse_args(argv)
    from trtlab.trt.module import load

    trt = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-trt-") as d:
        tmp = Path(d)
        for name in args.models.split(","):
            path = MODELS / f"{name}.onnx"
            raw_parse, raw_build = raw_times(trt, path, name, args.reps)
            lab_check, lab_build, own_check, own_build = trtlab_times(trt, path, name, args.reps, tmp)
            cli = cli_times(trt, path, name, args.reps, tmp)
            rows.append((name, raw_parse, lab_check, raw_build, lab_build, own_check, own_build, cli))
            print(f"{name}: done", file=sys.stderr)
    text = render(trt, rows, args.reps)
    print(text)
    if args.write:
        write_section(Path(args.write), text)
    return 0


def render(trt, rows, reps) -> str:
    import platform

    lines = ["## TensorRT check/build", "",
             (f"`python bench/bench_trt.py` on {platform.machine()} ({os.cpu_count()} CPUs, shared), {trt.name} "
              f"{trt.version}, CPU only; medians of {reps} runs, seconds. Polygraphy ran with the same module "
              "(`POLYGRAPHY_USE_TENSORRT_RTX=1`)."), "",
             ("In-process. `own` is trtlab's own work, measured inside the same call: wall time minus the time spent "
              "in TensorRT's parse and build (model loading with the ONNX checker, hashing, the capability query, "
              "writing engine and provenance); `own %` is relative to the raw parser/builder time. The raw and "
              "trtlab columns are separate runs, so on this shared 2-core machine their difference is mostly noise; "
              "`own` is not."), "",
             "| model | raw parse | trtlab check | own | raw parse+build | trtlab build | own | own % |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rp, lc, rb, lb, oc, ob, _cli in rows:
        lines.append(f"| {name} | {rp:.4f} | {lc:.4f} | {oc:.4f} | {rb:.3f} | {lb:.3f} | {ob:.4f} | "
                     f"{ob / rb * 100:.1f}% |")
    lines += ["", "Command line, wall time including Python start-up (ratio < 1: trtlab is faster):", "",
              "| model | trtlab check | polygraphy inspect capability | ratio "
              "| trtlab build | polygraphy convert | ratio |",
              "|---|---|---|---|---|---|---|"]
    for name, *_rest, cli in rows:
        c, pc, b, pb = (cli["trtlab check"], cli["polygraphy capability"], cli["trtlab build"],
                        cli["polygraphy convert"])
        lines.append(f"| {name} | {c:.2f} | {pc:.2f} | {c / pc:.2f} | {b:.2f} | {pb:.2f} | {b / pb:.2f} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    head, sep, tail = old.partition("## TensorRT check/build")
    if sep:  # drop the old section up to the next '## ' heading, keep anything after it
        nxt = tail.find("\n## ")
        rest = tail[nxt + 1:] if nxt >= 0 else ""
        old = head.rstrip() + "\n\n" + rest
    path.write_text(old.rstrip() + "\n\n" + text)


if __name__ == "__main__":
    raise SystemExit(main())
