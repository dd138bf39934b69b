"""``--task`` flags of ``trtlab compare`` (to ``trtlab.comparison.task.TaskOptions``) and their terminal table."""

from __future__ import annotations

from trtlab.ui import fmt_num, out

TASK_KEYS = {
    "detection": {"boxes", "scores", "labels", "output", "layout", "box", "background", "match"},
    "classification": {"scores"},
    "segmentation": {"map", "threshold", "axis"},
}
ROLE_KEYS = {"boxes", "scores", "labels", "output", "map"}


def add_task_args(p) -> None:
    g = p.add_argument_group("task metrics (compare what the outputs mean)")
    g.add_argument("--task", choices=("detection", "classification", "segmentation"),
                   help="also compare detections as sets matched by class and IoU, top-1/top-k classes, or "
                   "segmentation masks; this verdict decides for the outputs it reads")
    g.add_argument("--detection", metavar="KEY=VALUE,...",
                   help="detection outputs when not inferred: boxes=NAME,scores=NAME,labels=NAME or output=NAME "
                   "(one [N,6] or [N,4+1+C] tensor, layout=xyxy-score-label|box-obj-cls|obj-box-cls|box-cls); "
                   "box=xyxy|xywh|cxcywh, background=CLASS, match=greedy|hungarian")
    g.add_argument("--classification", metavar="scores=NAME", help="the class-score output when not inferred")
    g.add_argument("--segmentation", metavar="KEY=VALUE,...",
                   help="map=NAME (class scores or a label map), axis=CLASS_AXIS, threshold=T (one-channel maps)")
    g.add_argument("--iou", type=float, default=0.5, help="detection: IoU a matched pair needs (default 0.5)")
    g.add_argument("--score-min", type=float, default=0.05,
                   help="detection: detections below this score are ignored on both sides (default 0.05)")
    g.add_argument("--score-margin", type=float, default=0.01,
                   help="detection: a partner up to this far below --score-min still matches, so a score that "
                   "rounding moves across the threshold is not counted missed and spurious (default 0.01)")
    g.add_argument("--min-match", type=float, metavar="FRACTION",
                   help="task verdict: required fraction of matched detections (recall and precision), of top-1 "
                   "agreement, or of agreeing pixels (defaults 0.99, 1.0, 0.99)")
    g.add_argument("--min-iou", type=float, default=0.9,
                   help="segmentation: IoU every class needs (classes under 0.1%% of the pixels only reported; "
                   "default 0.9)")
    g.add_argument("--top-k", type=int, default=5, help="classification: size of the top-k sets compared (default 5)")


def _parse_kv(flag: str, text: str | None, allowed: set[str]) -> dict[str, str]:
    from trtlab.errors import TrtlabError

    found: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in allowed or not value.strip():
            raise TrtlabError(f"{flag} {text}", f"{part.strip()!r} is not KEY=VALUE with a known key",
                              f"keys: {', '.join(sorted(allowed))}")
        found[key] = value.strip()
    return found


def task_options(args):
    """TaskOptions from the parsed flags, or None without --task."""
    from trtlab.comparison.task import TaskOptions
    from trtlab.errors import TrtlabError

    given = [t for t in TASK_KEYS if getattr(args, t, None)]
    if not args.task:
        if given:
            raise TrtlabError(f"--{given[0]}", "needs --task", f"add --task {given[0]}")
        return None
    wrong = [t for t in given if t != args.task]
    if wrong:
        raise TrtlabError(f"--{wrong[0]}", f"does not apply to --task {args.task}", f"use --task {wrong[0]}")
    kv = _parse_kv(f"--{args.task}", getattr(args, args.task), TASK_KEYS[args.task])
    extra: dict = {k: kv[k] for k in ("layout", "box", "match") if k in kv}
    try:
        for k, conv in (("background", int), ("axis", int), ("threshold", float)):
            if k in kv:
                extra[k] = conv(kv[k])
    except ValueError:
        raise TrtlabError(f"--{args.task} {getattr(args, args.task)}", "a number was expected",
                          "e.g. background=0, axis=1, threshold=0.5") from None
    return TaskOptions(task=args.task, outputs={k: v for k, v in kv.items() if k in ROLE_KEYS}, iou=args.iou,
                       score_min=args.score_min, score_margin=args.score_margin, min_match=args.min_match,
                       top_k=args.top_k, min_iou=args.min_iou,
                       **extra)


def print_task(task: dict | None) -> None:
    """The task verdict line and its table (or the hint naming the flag)."""
    from rich.markup import escape
    from rich.table import Table

    from trtlab.ui import wrap80

    if not task:
        return
    if "suggested" in task and "passed" not in task:
        out.print(f"[yellow]hint:[/] {escape(wrap80(task['hint'], indent='    ', first='hint: ')[6:])}")
        return
    verdict = "[bold green]PASSED[/]" if task["passed"] else "[bold red]FAILED[/]"
    head = f"task {task['task']}: {'PASSED' if task['passed'] else 'FAILED'}  "
    reason = wrap80(task["reason"], indent="    ", first=head)[len(head):]
    out.print(f"task {task['task']}: {verdict}  {escape(reason)}")
    for w in task.get("warnings") or []:
        out.print(f"[yellow]task:[/] {escape(wrap80(w, indent='    ', first='task: ')[6:])}")
    for s in task.get("elementwise_skipped") or []:
        text = f"element-wise skipped for {s['tensor']} ({s['reason']}); the task metric decides"
        out.print(f"[dim]{escape(wrap80(text, indent='    '))}[/]")
    t = Table(title=f"{task['task']} metrics", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, value in task["summary"].items():
        t.add_row(key.replace("_", " "), fmt_num(value) if isinstance(value, float) else str(value))
    out.print(t)
    failures = task.get("failures") or []
    if failures:
        t = Table(title=f"failing images ({task.get('failing_samples', len(failures))}, worst first)",
                  title_justify="left")
        cols = list(failures[0])
        for c in cols:
            t.add_column(c.replace("_", " "), justify="left" if c == "where" else "right")
        for f in failures[:10]:
            t.add_row(*(fmt_num(f[c]) if isinstance(f[c], float) else str(f[c]) for c in cols))
        out.print(t)
    overall = "[bold green]PASSED[/]" if task["overall_passed"] else "[bold red]FAILED[/]"
    broken = task.get("nonfinite_outputs")
    why = f"; NaN/Inf the reference lacks in {', '.join(broken)} fails it" if broken else ""
    out.print(f"verdict: {overall} (the {task['task']} metric decides for {', '.join(task['outputs'])}; other outputs "
              f"element-wise{why})")
