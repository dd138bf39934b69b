"""``trtlab run ENGINE_OR_MODEL``: execute an engine (or build one from an ONNX model) and time it like trtexec."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import add_input_args

HELP = ("run a TensorRT engine (or an ONNX model, built first, or on ONNX Runtime with --backend onnxrt) on inputs "
        "and report trtexec-style latency")


def add_arguments(p) -> None:
    from trtlab.cli.common import add_module_arg

    p.add_argument("target", metavar="ENGINE_OR_MODEL", nargs="?", help="an .engine/.plan file (with its .json "
                   "provenance) or an .onnx model (built in memory first)")
    p.add_argument("--hybrid", metavar="DIR", help="run a partition folder (surgeon --isolate-unsupported -o DIR): "
                   "TensorRT segments on TensorRT (on onnxrt where TensorRT cannot execute), the rest on onnxrt")
    p.add_argument("--model", metavar="MODEL.onnx", help="the ONNX model that describes the engine's inputs "
                   "(default: the path recorded in the engine's provenance)")
    add_module_arg(p)
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32", help="when building from ONNX")
    p.add_argument("--profile", action="append", metavar="IN:MIN:OPT:MAX", help="when building from ONNX (see build)")
    g = p.add_argument_group("timing (as trtexec)")
    g.add_argument("--warmup", type=float, default=200.0, metavar="MS", help="warm-up time in ms (default 200)")
    g.add_argument("--iterations", type=int, default=10, help="at least this many timed runs (default 10)")
    g.add_argument("--duration", type=float, default=3.0, metavar="S",
                   help="and at least this many seconds (default 3)")
    g.add_argument("--timing-json", metavar="FILE", help="also write the timing report to FILE")
    p.add_argument("--save-outputs", metavar="OUT.npz", help="save the first sample's outputs")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    add_input_args(p)
    from trtlab.cli.ort_run import add_arguments as add_ort_arguments

    add_ort_arguments(p)


def check_args(args) -> None:
    """Timing settings and output paths, before any file is read or the GPU is looked for."""
    import math

    from trtlab.errors import TrtlabError
    from trtlab.rundir import check_output_path

    if args.iterations < 1:
        raise TrtlabError(f"--iterations {args.iterations}", "must be at least 1", "e.g. --iterations 10")
    for flag, value, unit in (("--duration", args.duration, "s"), ("--warmup", args.warmup, "ms")):
        if not (math.isfinite(value) and value >= 0):
            raise TrtlabError(f"{flag} {value:g}", "must be a finite number >= 0", f"e.g. {flag} 0 ({unit})")
    for flag, path in (("--save-outputs", args.save_outputs), ("--timing-json", args.timing_json)):
        if path:
            check_output_path(path, inputs=(args.target, args.model), flag=flag)


def check_engine_bytes(target: Path, data: bytes) -> None:
    """Refuse what is plainly not a serialized engine (empty, text, an ONNX model); engines of TensorRT and
    TensorRT for RTX start with a ``?trt`` tag (ftrt, vtrt)."""
    from trtlab.errors import TrtlabError

    if not data:
        raise TrtlabError(target, "file is empty", "rebuild the engine with `trtlab build`")
    if len(data) < 8 or data[1:4] != b"trt":
        raise TrtlabError(target, "not a TensorRT engine (no engine header)",
                          "pass an .engine file written by `trtlab build`, or an ONNX model named .onnx (built first)")


def load_target(args):
    """(engine bytes or None, ONNX model, provenance or None): everything that needs no TensorRT and no GPU."""
    from trtlab.errors import TrtlabError
    from trtlab.model import load_model
    from trtlab.trt import provenance

    target = Path(args.target)
    if target.suffix == ".onnx":
        return None, load_model(target), None
    data = target.read_bytes()
    check_engine_bytes(target, data)
    prov = provenance.read(target)
    if prov is not None and prov["engine"].get("sha256") not in (None, provenance.sha256_bytes(data)):
        raise TrtlabError(target, "the engine does not match its provenance file (sha256 differs)",
                          "rebuild with `trtlab build`, or remove the stale .engine.json")
    model_path = args.model or (prov or {}).get("onnx", {}).get("path")
    if not model_path or not Path(model_path).exists():
        raise TrtlabError(target, "no ONNX model describes this engine's inputs", "pass --model MODEL.onnx")
    return data, load_model(model_path), prov


def _engine(args, trt, data, model, prov):
    from trtlab.trt import provenance
    from trtlab.trt.build import BuildOptions, build_engine
    from trtlab.trt.cuda import device_info
    from trtlab.trt.profiles import parse_profiles

    if data is None:
        built = build_engine(trt, model, BuildOptions(precision=args.precision, profiles=parse_profiles(args.profile)))
        return built.engine, built.notes
    gpus = device_info().gpus
    return data, provenance.verify(prov, data, trt, gpus[0] if gpus else None)


def run(args) -> int:
    from trtlab.backends.trt import CPU_HINT, can_execute
    from trtlab.cli.common import command_argv, make_samples
    from trtlab.errors import TrtlabError, UnavailableError
    from trtlab.rundir import atomic_savez, atomic_write_json, environment, fresh_run_dir, write_results
    from trtlab.trt import module
    from trtlab.trt.runner import TrtRunner
    from trtlab.trt.timing import benchmark
    from trtlab.ui import print_json

    check_args(args)
    if args.backend != "trt":
        from trtlab.cli.ort_run import run_ort

        return run_ort(args)
    for flag, given in (("--profile-nodes", args.profile_nodes), ("--sweep-shapes", args.sweep_shapes),
                        ("--suggest-profile", args.suggest_profile)):
        if given:
            raise TrtlabError(flag, "works with --backend onnxrt for now (engines: not yet)",
                              f"trtlab run MODEL.onnx --backend onnxrt[:cuda] {flag} ...")
    if args.hybrid:
        from trtlab.cli.partition_run import run_hybrid

        return run_hybrid(args)
    if not args.target or not Path(args.target).is_file():
        raise TrtlabError(args.target or "trtlab run", "file not found", "pass an .engine file or an .onnx model")
    if args.profile:
        from trtlab.trt.profiles import parse_profiles

        parse_profiles(args.profile)
    data, model, prov = load_target(args)  # bad files are exit 2 on any machine, before the GPU is looked for
    samples, input_warnings = make_samples(args, model)
    trt = module.load(args.trt_module)
    ok, why = can_execute(trt.name)
    if not ok:
        raise UnavailableError("trtlab run", why, "`trtlab doctor --for run` lists what is missing; " + CPU_HINT)
    with fresh_run_dir(args.out, "run", args.target) as run_dir:
        engine, warnings = _engine(args, trt, data, model, prov)
        with TrtRunner(trt, engine) as runner:
            outputs = runner.infer(samples[0])
            report = benchmark(runner, samples[0], warmup_s=args.warmup / 1e3, iterations=args.iterations,
                               duration_s=args.duration)
        if args.save_outputs:
            atomic_savez(args.save_outputs, outputs)
        if args.timing_json:
            atomic_write_json(args.timing_json, report)
        result = {"schema": "trtlab.run/1", "command": "run", "argv": command_argv(args),
                  "target": str(args.target), "module": trt.summary(), "timing": report,
                  "outputs": {n: {"shape": list(v.shape), "dtype": str(v.dtype)} for n, v in outputs.items()},
                  "environment": environment(), "warnings": warnings + input_warnings, "passed": True}
        write_results(run_dir, result)
    if args.json:
        print_json(result)
    else:
        print_timing(report, f"{trt.name} {trt.version}", run_dir)
    return 0


def _ms(value: float) -> str:
    """8 columns, a space first: 4 decimals below 100 ms, fewer above."""
    decimals = 4 if value < 100 else 3 if value < 1000 else 1 if value < 1e5 else 0
    return f" {value:7.{decimals}f}"


def print_timing(report, label: str, run_dir) -> None:
    """Timing in 80 columns: one row per metric (ms), as trtexec prints them."""
    from trtlab.ui import out

    out.print(f"{label}: {report.iterations} iterations in {report.total_s:.2f} s (warm-up "
              f"{report.warmup_iterations}), {report.throughput_qps:.1f} qps", markup=False)
    labels = {"h2d_ms": "H2D latency", "compute_ms": "GPU compute", "d2h_ms": "D2H latency",
              "host_ms": "host latency", "wall_ms": "end-to-end wall"}
    out.print(f"  {'(ms)':15}" + "".join(f"{k:>8}" for k in ("mean", "min", "max", "p50", "p90", "p95", "p99")),
              markup=False)
    for key, name in labels.items():
        s = report.stats.get(key)
        if s and not (key == "wall_ms" and s == report.stats.get("host_ms")):  # the CPU: host latency is the wall
            out.print(f"  {name:15}" + "".join(_ms(s[k]) for k in ("mean", "min", "max", "p50", "p90", "p95", "p99")),
                      markup=False)
    if run_dir is not None:
        out.print(f"run: {run_dir}", markup=False)
