"""``trtlab compare MODEL --sweep-shapes NAME:MIN:MAX [--sweep-points N]``: one comparison per shape."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--sweep-shapes", nargs="+", metavar="NAME:MIN:MAX",
                   help="compare at min, max and points between (per input NAME:MIN:MAX or NAME:MIN:OPT:MAX); "
                   "one row per shape")
    p.add_argument("--sweep-points", type=int, default=5, metavar="N", help="points of --sweep-shapes (default 5)")


def run_sweep(args) -> int:
    from trtlab import backends
    from trtlab.cli.common import command_argv, load_model_arg
    from trtlab.cli.task_args import task_options
    from trtlab.comparators.tolerances import for_target
    from trtlab.comparison.sweep_shapes import sweep_compare
    from trtlab.errors import TrtlabError
    from trtlab.inputs import parse_range_args, plan_inputs, random_feeds
    from trtlab.rundir import environment, fresh_run_dir, write_results
    from trtlab.shapes import parse_sweep, sweep_points
    from trtlab.ui import print_json, progress

    if args.layerwise or args.attribute or args.load_inputs or args.data_loader_script or args.input_shapes:
        raise TrtlabError("--sweep-shapes", "sweeps compare outputs on seeded random inputs at each shape",
                          "leave out --layerwise/--attribute/--load-inputs/--data-loader-script/--input-shapes, "
                          "or compare one shape with --input-shapes")
    if getattr(args, "target_model", None):
        raise TrtlabError("--sweep-shapes", "sweeps run one model on both backends",
                          "leave out --target-model, or compare one shape with --input-shapes")
    task = task_options(args)
    ref_spec, target_spec = backends.parse_spec(args.ref), backends.parse_spec(args.target)
    for spec in (ref_spec, target_spec):
        backends.create(spec)
    tolerances = for_target(target_spec, args.atol, args.rtol)
    sets = sweep_points(parse_sweep(args.sweep_shapes), args.sweep_points)
    ranges, default_range = parse_range_args(args.val_range)
    with fresh_run_dir(args.out, "compare", args.model) as run_dir:
        model = load_model_arg(args.model, run_dir)

        def samples_for(shapes):
            try:
                plan = plan_inputs(model.proto.graph, shapes, ranges, default_range)
            except TrtlabError as exc:  # the shapes came from --sweep-shapes: name that flag, not --input-shapes
                if not exc.subject.startswith("--input-shapes"):
                    raise
                name = exc.subject.split(" ", 1)[-1]
                raise TrtlabError(f"--sweep-shapes {name}", exc.problem,
                                  "give MIN and MAX that keep the model's fixed dims"
                                  + (f" ({exc.hint})" if exc.hint else "")) from None
            return [random_feeds(plan, args.seed, i) for i in range(max(args.samples, 1))]

        with progress(args.quiet or args.json) as bar:
            bar_task = bar.add_task(f"comparing at {len(sets)} shapes", total=len(sets))
            rows, info, warnings = sweep_compare(model, ref_spec, target_spec, sets, samples_for, tolerances,
                                                 warmup=max(args.warmup, 0), progress=lambda: bar.advance(bar_task),
                                                 min_cosine=args.min_cosine, task=task)
        result = {"schema": "trtlab.shape-sweep/1", "command": "compare", "argv": command_argv(args),
                  "model": str(args.model), **info, "passed": all(r["passed"] for r in rows), "sweep": rows,
                  "environment": environment(), "warnings": warnings}
        write_results(run_dir, result)
    if args.json:
        print_json(result)
    else:
        print_sweep(result, run_dir)
    return 0 if result["passed"] else 1


def print_sweep(result: dict, run_dir) -> None:
    """One row per shape in 80 columns; the verdict column names the failing rule; a longer shape gets its own
    line."""
    from trtlab.ui import fmt_num, middle_ellipsis, out

    out.print(f"{'shape':20} {'verdict':9} {'worst output':12} {'max abs':>8} {'cosine':>8} {'ref ms':>7} "
              f"{'tgt ms':>7}", markup=False)
    for r in result["sweep"]:
        label = r["label"]
        if len(label) > 20:
            out.print(label, markup=False, highlight=False)
            label = ""
        verdict = "PASS" if r["passed"] else (r.get("rule") or "FAIL")
        err = "NaN/Inf" if r.get("nonfinite") else fmt_num(r["max_abs"])
        out.print(f"{label:20} {verdict:9} {middle_ellipsis(str(r['worst_output']), 12):12} {err:>8} "
                  f"{fmt_num(r['cosine'], 6)[:8]:>8} {fmt_num(r['ref_median_ms']):>7} "
                  f"{fmt_num(r['target_median_ms']):>7}", markup=False, highlight=False)
        if r.get("task") and not r["task"]["passed"] and r["task"].get("reason"):
            why = r["task"]["reason"]
            out.print(f"{'':20} task: {why if len(why) <= 53 else why[:52] + '…'}", markup=False, highlight=False)
    n, bad = len(result["sweep"]), sum(not r["passed"] for r in result["sweep"])
    verdict = f"FAILED at {bad} of {n} shapes" if bad else f"PASSED at all {n} shapes"
    out.print(verdict, markup=False, highlight=False)
    out.print(f"run: {run_dir}", markup=False, highlight=False)
