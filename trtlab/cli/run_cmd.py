"""``trtlab run ENGINE_OR_MODEL``: execute an engine (or build one from an ONNX model) and time it like trtexec."""

from __future__ import annotations

from pathlib import Path

from trtlab.cli.common import add_input_args

HELP = "run a TensorRT engine (or an ONNX model, built first) on inputs and report trtexec-style latency"


def add_arguments(p) -> None:
    from trtlab.trt.module import add_module_arg

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
    g.add_argument("--duration", type=float, default=3.0, metavar="S", help="and at least this many seconds (default 3)")
    g.add_argument("--timing-json", metavar="FILE", help="also write the timing report to FILE")
    p.add_argument("--save-outputs", metavar="OUT.npz", help="save the first sample's outputs")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: a new folder under ./trtlab-runs/)")
    p.add_argument("--json", action="store_true", help="print results.json to stdout")
    add_input_args(p)


def _engine_and_model(args, trt):
    from trtlab.errors import TrtlabError
    from trtlab.model import load_model
    from trtlab.trt import provenance
    from trtlab.trt.build import BuildOptions, build_engine
    from trtlab.trt.cuda import device_info
    from trtlab.trt.profiles import parse_profiles

    target = Path(args.target)
    if not target.is_file():
        raise TrtlabError(target, "file not found", "pass an .engine file written by `trtlab build`, or an .onnx model")
    if target.suffix == ".onnx":
        model = load_model(target)
        built = build_engine(trt, model, BuildOptions(precision=args.precision, profiles=parse_profiles(args.profile)))
        return built.engine, model, built.notes
    data = target.read_bytes()
    prov = provenance.read(target)
    gpus = device_info().gpus
    warnings = provenance.verify(prov, data, trt, gpus[0] if gpus else None)
    model_path = args.model or (prov or {}).get("onnx", {}).get("path")
    if not model_path or not Path(model_path).exists():
        raise TrtlabError(target, "no ONNX model describes this engine's inputs", "pass --model MODEL.onnx")
    return data, load_model(model_path), warnings


def run(args) -> int:
    from trtlab.backends.trt import CPU_HINT, can_execute
    from trtlab.cli.common import argv_tail, make_samples
    from trtlab.errors import TrtlabError, UnavailableError
    from trtlab.rundir import atomic_savez, atomic_write_json, environment, fresh_run_dir, write_results
    from trtlab.trt import module
    from trtlab.trt.runner import TrtRunner
    from trtlab.trt.timing import benchmark
    from trtlab.ui import print_json

    if args.hybrid:
        from trtlab.partition_run import run_hybrid

        return run_hybrid(args)
    if not args.target or not Path(args.target).is_file():
        raise TrtlabError(args.target or "trtlab run", "file not found", "pass an .engine file or an .onnx model")
    trt = module.load(args.trt_module)
    ok, why = can_execute(trt.name)
    if not ok:
        raise UnavailableError("trtlab run", why, "`trtlab doctor --for run` lists what is missing; " + CPU_HINT)
    with fresh_run_dir(args.out, "run", args.target) as run_dir:
        engine, model, warnings = _engine_and_model(args, trt)
        samples, input_warnings = make_samples(args, model)
        with TrtRunner(trt, engine) as runner:
            outputs = runner.infer(samples[0])
            report = benchmark(runner, samples[0], warmup_s=args.warmup / 1e3, iterations=args.iterations,
                               duration_s=args.duration)
        if args.save_outputs:
            atomic_savez(args.save_outputs, outputs)
        if args.timing_json:
            atomic_write_json(args.timing_json, report)
        result = {"schema": "trtlab.run/1", "command": "run", "argv": ["trtlab", "run", *argv_tail("run")],
                  "target": str(args.target), "module": trt.summary(), "timing": report,
                  "outputs": {n: {"shape": list(v.shape), "dtype": str(v.dtype)} for n, v in outputs.items()},
                  "environment": environment(), "warnings": warnings + input_warnings, "passed": True}
        write_results(run_dir, result)
    if args.json:
        print_json(result)
    else:
        print_timing(report, trt, run_dir)
    return 0


def print_timing(report, trt, run_dir) -> None:
    from trtlab.ui import out

    out.print(f"{trt.name} {trt.version}: {report.iterations} iterations in {report.total_s:.2f} s "
              f"(warm-up {report.warmup_iterations}), throughput {report.throughput_qps:.1f} qps", markup=False)
    labels = {"h2d_ms": "H2D latency", "compute_ms": "GPU compute", "d2h_ms": "D2H latency",
              "host_ms": "host latency", "wall_ms": "end-to-end wall"}
    for key, label in labels.items():
        s = report.stats.get(key)
        if s:
            out.print(f"  {label:16} mean {s['mean']:.4f} ms  min {s['min']:.4f}  max {s['max']:.4f}  "
                      f"p50 {s['p50']:.4f}  p90 {s['p90']:.4f}  p95 {s['p95']:.4f}  p99 {s['p99']:.4f}", markup=False)
    out.print(f"run: {run_dir}", markup=False)
