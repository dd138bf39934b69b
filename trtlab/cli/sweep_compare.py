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
            task = bar.add_task(f"comparing at {len(sets)} shapes", total=len(sets))
            rows, info, warnings = sweep_compare(model, ref_spec, target_spec, sets, samples_for, tolerances,
                                                 warmup=max(args.warmup, 0), progress=lambda: bar.advance(task))
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
    from trtlab.ui import fmt_num, middle_ellipsis, out

    # 80 columns: a shape label is never cut; one longer than its column gets a line of its own above its row.
    out.print(f"{'shape':24} {'ok?':4} {'worst output':14} {'max abs':>8} {'cosine':>8} {'ref ms':>8} "
              f"{'tgt ms':>8}", markup=False)
    for r in result["sweep"]:
        label = r["label"]
        if len(label) > 24:
            out.print(label, markup=False, soft_wrap=True)
            label = ""
        out.print(f"{label:24} {'PASS' if r['passed'] else 'FAIL':4} "
                  f"{middle_ellipsis(str(r['worst_output']), 14):14} {fmt_num(r['max_abs']):>8} "
                  f"{fmt_num(r['cosine'], 6):>8} {fmt_num(r['ref_median_ms']):>8} "
                  f"{fmt_num(r['target_median_ms']):>8}", markup=False)
    out.print(f"{'PASSED' if result['passed'] else 'FAILED'} at {sum(r['passed'] for r in result['sweep'])} of "
              f"{len(result['sweep'])} shapes; run: {run_dir}", markup=False)
