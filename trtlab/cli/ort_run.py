"""``trtlab run MODEL.onnx --backend onnxrt[:cuda[,tf32=0][,fp16]]``: ONNX Runtime timed like trtexec, per-node
profile (``--profile-nodes``), shape sweeps (``--sweep-shapes``, ``--profile``) and ``--suggest-profile``."""

from __future__ import annotations


def add_arguments(p) -> None:
    g = p.add_argument_group("ONNX Runtime (--backend onnxrt...)")
    g.add_argument("--backend", default="trt", metavar="SPEC",
                   help="trt (default: the engine, or an engine built from the model) or onnxrt[:cuda[,tf32=0]"
                   "[,fp16]] (an ONNX model timed on ONNX Runtime)")
    g.add_argument("--profile-nodes", action="store_true",
                   help="onnxrt: run ONNX Runtime's profiler and report each ONNX node's time, summed by op type")
    g.add_argument("--top", type=int, default=10, metavar="N", help="nodes listed by --profile-nodes (default 10)")
    g.add_argument("--sweep-shapes", nargs="+", metavar="NAME:MIN:MAX",
                   help="time at min, max and points between (per input NAME:MIN:MAX or NAME:MIN:OPT:MAX)")
    g.add_argument("--sweep-points", type=int, default=5, metavar="N", help="points of --sweep-shapes (default 5)")
    g.add_argument("--suggest-profile", action="store_true",
                   help="with --data-loader-script: propose min/opt/max from the shapes the loader produces")


def check_sweep_args(args) -> None:
    from trtlab.errors import TrtlabError

    if args.top < 1:
        raise TrtlabError(f"--top {args.top}", "must be at least 1", "e.g. --top 10")
    if args.sweep_shapes and args.profile:
        raise TrtlabError("--sweep-shapes", "and --profile both give sweep shapes", "give one of them")
    if args.suggest_profile and not (args.data_loader_script or args.load_inputs):
        raise TrtlabError("--suggest-profile", "reads the shapes of real inputs",
                          "add --data-loader-script FILE.py:FUNC (or --load-inputs FEEDS.npz)")


def shape_sets(args) -> list[dict]:
    from trtlab.shapes import parse_sweep, profile_points, sweep_points

    if args.sweep_shapes:
        return sweep_points(parse_sweep(args.sweep_shapes), args.sweep_points)
    if args.profile:
        from trtlab.trt.profiles import parse_profiles

        return [s for prof in parse_profiles(args.profile) for s in profile_points(prof)]
    return []


def _time(spec, model, feeds, args):
    from trtlab.backends.ort_timing import open_timed
    from trtlab.timing import benchmark

    backend, runner, stream = open_timed(spec, model, feeds)
    try:
        outputs = {n: v.copy() for n, v in runner.infer(feeds).items()}
        report = benchmark(runner, feeds, warmup_s=args.warmup / 1e3, iterations=args.iterations,
                           duration_s=args.duration)
        return backend.info, outputs, report
    finally:
        runner.close()
        backend.close()
        if stream is not None:
            stream.close()


def latency_key(report) -> str:
    """The metric a row shows: device compute on CUDA, host latency on the CPU."""
    return "compute_ms" if "compute_ms" in report.stats else "host_ms"


def sweep(spec, model, args, sets: list[dict], quiet: bool) -> list[dict]:
    from trtlab.inputs import parse_range_args, plan_inputs, random_feeds
    from trtlab.shapes import shape_label
    from trtlab.ui import progress

    ranges, default_range = parse_range_args(args.val_range)
    rows = []
    with progress(quiet) as bar:
        task = bar.add_task("sweeping shapes", total=len(sets))
        for shapes in sets:
            plan = plan_inputs(model.graph, shapes, ranges, default_range)
            _, _, report = _time(spec, model, random_feeds(plan, args.seed, 0), args)
            key = latency_key(report)
            rows.append({"shapes": shapes, "label": shape_label(shapes), "metric": key,
                         "median_ms": report.stats[key]["median"], "p99_ms": report.stats[key]["p99"],
                         "wall_median_ms": report.stats["wall_ms"]["median"], "throughput_qps": report.throughput_qps,
                         "iterations": report.iterations})
            bar.advance(task)
    return rows


def run_ort(args) -> int:
    from trtlab import backends
    from trtlab.cli.common import command_argv, load_model_arg, make_samples
    from trtlab.errors import TrtlabError
    from trtlab.rundir import atomic_savez, atomic_write_json, environment, fresh_run_dir, write_results
    from trtlab.ui import print_json

    spec = backends.parse_spec(args.backend)
    if spec.name != "onnxrt":
        raise TrtlabError(f"--backend {args.backend}", "run times trt (engines) or onnxrt",
                          "e.g. --backend onnxrt or --backend onnxrt:cuda,tf32=0")
    if args.hybrid or not args.target:
        raise TrtlabError(f"--backend {args.backend}", "needs an ONNX model", "trtlab run MODEL.onnx --backend onnxrt")
    check_sweep_args(args)
    backends.create(spec)  # unknown options fail here
    quiet = args.json or args.quiet
    with fresh_run_dir(args.out, "run", args.target) as run_dir:
        model = load_model_arg(args.target, run_dir)
        sets = shape_sets(args)
        samples, warnings = make_samples(args, model)
        info, outputs, report = _time(spec, model.proto, samples[0], args)
        result = {"schema": "trtlab.run/1", "command": "run", "argv": command_argv(args), "target": str(args.target),
                  "backend": info, "timing": report,
                  "outputs": {n: {"shape": list(v.shape), "dtype": str(v.dtype)} for n, v in outputs.items()},
                  "environment": environment(), "warnings": warnings, "passed": True}
        if args.suggest_profile:
            from trtlab.shapes import profile_arg, suggest_profile

            result["suggested_profile"] = suggest_profile(samples)
            result["suggested_profile_arg"] = profile_arg(result["suggested_profile"])
        if args.profile_nodes:
            from trtlab.backends.ort_profile import profile_nodes

            prof = profile_nodes(spec, model.proto, samples[0])
            prof["measured_ms"] = report.stats[latency_key(report)]["median"]
            prof["coverage"] = prof["nodes_ms"] / prof["measured_ms"] if prof["measured_ms"] else None
            result["node_profile"] = prof
        if sets:
            result["sweep"] = sweep(spec, model.proto, args, sets, quiet)
        if args.save_outputs:
            atomic_savez(args.save_outputs, outputs)
        if args.timing_json:
            atomic_write_json(args.timing_json, report)
        write_results(run_dir, result)
    if args.json:
        print_json(result)
    else:
        print_ort(result, report, run_dir, args.top)
    return 0


def print_ort(result: dict, report, run_dir, top: int) -> None:
    from trtlab.cli.run_cmd import print_timing
    from trtlab.ui import middle_ellipsis, out

    info = result["backend"]
    label = f"onnxruntime {info.get('version')} {info.get('provider')}" + (
        f" (tf32 {'on' if info['tf32'] else 'off'})" if "tf32" in info else "")
    print_timing(report, label, None)
    prof = result.get("node_profile")
    if prof:
        out.print(f"per node ({prof['runs']} profiled runs): nodes sum {prof['nodes_ms']:.4f} ms = "
                  f"{prof['coverage']:.0%} of the measured median", markup=False)
        out.print(f"  (ORT's own run time in the profiled runs: {prof['run_ms']:.4f} ms)", markup=False)
        for r in prof["nodes"][:top]:
            out.print(f"  {r['ms']:9.4f} ms {r['share']:6.1%}  {middle_ellipsis(r['op'], 16):16} "
                      f"{middle_ellipsis(r['name'], 36)}", markup=False)
        ops = [f"{o['op']} {o['share']:.0%}" for o in prof["by_op"][:5]]
        while len(ops) > 1 and len(", ".join(ops)) > 70:  # whole items only: a share is never cut
            ops.pop()
        out.print("  by op: " + ", ".join(ops), markup=False)
    rows = result.get("sweep") or []
    if rows:
        out.print(f"  {'sweep shape':38} {rows[0]['metric'][:-3] + ' p50':>16} {'p99':>10}", markup=False)
    for row in rows:
        label = row["label"]
        if len(label) > 38:  # a shape is never cut: a long one gets a line of its own above its row
            out.print(f"  {label}", markup=False, soft_wrap=True)
            label = ""
        out.print(f"  {label:38} {row['median_ms']:13.4f} ms {row['p99_ms']:10.4f}", markup=False)
    if result.get("suggested_profile"):
        out.print(f"suggested profile: --profile {result['suggested_profile_arg'] or '(static: no input varies)'}",
                  markup=False)
    out.print(f"run: {run_dir}", markup=False)
