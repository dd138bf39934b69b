"""Task metrics for ``compare --task``: what the outputs mean, not whether the tensors are close.

``TaskOptions`` is a plain dataclass (the CLI, the Python API and ``debug precision`` build it the same way).
``Tracker`` is the hook of the compare loop: ``add(sample, ref_outputs, target_outputs)`` for every sample, before
the element-wise comparison drops the arrays, and ``finish(result, arrays)`` writes ``result.task`` (and the arrays
of its plots, ``task_*`` keys, into histograms.npz). Without a task the tracker only looks at the first sample's
output names and shapes and, when they look like detections, class scores or a segmentation map, says which flag to
try (``result.task = {"suggested": ...}``).

The task verdict decides for the outputs it reads; every other output keeps its element-wise verdict
(``overall_passed``). NaN/Inf in the target where the reference is finite fails the run in any output, read by the
task or not (the task metrics also count such values as disagreement). Outputs whose shapes differ between the
backends (data-dependent shapes, e.g. after NMS) are not comparable element by element; the task metric still
compares them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from trtlab.comparators import classification as cls_m
from trtlab.comparators import detection as det_m
from trtlab.comparators import segmentation as seg_m
from trtlab.comparison import task_io
from trtlab.errors import TrtlabError

TASKS = ("detection", "classification", "segmentation")
DEFAULT_MIN_MATCH = {"detection": 0.99, "classification": 1.0, "segmentation": 0.99}
OPTIONS_SHOWN = {"detection": ("layout", "box", "background", "iou", "score_min", "score_margin", "match"),
                 "classification": ("top_k",), "segmentation": ("threshold", "axis", "min_iou")}


@dataclass
class TaskOptions:
    """What ``--task`` compares. ``outputs`` maps roles to output names (detection: boxes, scores, labels or one
    ``output``; classification: scores; segmentation: map); unnamed roles are inferred from names and shapes."""

    task: str
    outputs: dict[str, str] = field(default_factory=dict)
    layout: str = "auto"  # one detection tensor: xyxy-score-label ([N, 6]) | box-obj-cls | obj-box-cls | box-cls
    box: str = "xyxy"  # xyxy | xywh | cxcywh
    background: int | None = None  # detection class scores: this class is never a detection
    iou: float = 0.5
    score_min: float = 0.05
    score_margin: float = 0.01  # a partner this far below score_min still matches (threshold flips by rounding)
    match: str = "greedy"  # greedy | hungarian
    min_match: float | None = None  # default by task: DEFAULT_MIN_MATCH
    top_k: int = 5
    threshold: float = 0.5  # one-channel segmentation maps: foreground above this
    axis: int | None = None  # segmentation class axis; None: inferred
    min_iou: float = 0.9  # segmentation: the IoU every class of a real size (see task_summary) needs

    def __post_init__(self):
        if self.task not in TASKS:
            raise TrtlabError(f"--task {self.task}", "unknown task", f"use one of: {', '.join(TASKS)}")
        for name, lo, hi in (("iou", 0.0, 1.0), ("score_min", -np.inf, np.inf), ("min_match", 0.0, 1.0),
                             ("min_iou", 0.0, 1.0), ("score_margin", 0.0, np.inf)):
            v = getattr(self, name)
            if v is not None and not lo <= v <= hi:
                raise TrtlabError(f"--{name.replace('_', '-')} {v}", f"must be in [{lo:g}, {hi:g}]",
                                  f"e.g. --{name.replace('_', '-')} {DEFAULT_MIN_MATCH['detection']}")
        if self.match not in ("greedy", "hungarian"):
            raise TrtlabError(f"match={self.match}", "unknown matching", "use match=greedy or match=hungarian")
        if self.box not in ("xyxy", "xywh", "cxcywh"):
            raise TrtlabError(f"box={self.box}", "unknown box format", "use box=xyxy, box=xywh or box=cxcywh")
        if self.top_k < 1:
            raise TrtlabError(f"--top-k {self.top_k}", "must be at least 1", "e.g. --top-k 5")

    @property
    def required(self) -> float:
        return DEFAULT_MIN_MATCH[self.task] if self.min_match is None else self.min_match


class Tracker:
    """Collects what the task needs, sample by sample (see the module docstring)."""

    def __init__(self, options: TaskOptions | None, output_names: list[str]):
        self.options = options
        self.output_names = list(output_names)
        self.roles: dict[str, str] | None = None
        self.records: list = []
        self.hint: dict | None = None
        self.flipped = 0  # reference boxes whose corners are out of order: a wrong box format or layout
        self.reading: dict | None = None  # detection: how the tensors were read (task_io.reading)
        if options is not None:
            task_io.check_names(options, self.output_names)

    def add(self, sample: int, ref_out: dict, tgt_out: dict) -> None:
        if self.options is None:
            if sample == 0:
                self.hint = task_io.suggest({n: ref_out[n] for n in self.output_names if n in ref_out})
            return
        if self.roles is None:
            self.roles = task_io.resolve(self.options, {n: ref_out[n] for n in self.output_names if n in ref_out})
        missing = [n for n in self.roles.values() if n not in ref_out or n not in tgt_out]
        if missing:
            raise TrtlabError(", ".join(missing), "output not produced by both backends",
                              "name other outputs for the task (see --help)")
        getattr(self, f"_add_{self.options.task}")(sample, ref_out, tgt_out)

    def _add_detection(self, sample, ref_out, tgt_out) -> None:
        o = self.options
        if self.reading is None:
            self.reading = task_io.reading(o, self.roles, ref_out)
        ref_imgs = task_io.detections(o, self.roles, ref_out)
        tgt_imgs = task_io.detections(o, self.roles, tgt_out)
        if len(ref_imgs) != len(tgt_imgs):
            raise TrtlabError(f"sample {sample}", f"{len(ref_imgs)} images on the reference, {len(tgt_imgs)} on the "
                              "target", "check the batch dimension of the detection outputs")
        self.flipped += sum(d.flipped for d in ref_imgs)
        for b, (r, t) in enumerate(zip(ref_imgs, tgt_imgs)):
            self.records.append(((sample, b), det_m.compare_detections(r, t, o.iou, o.score_min, o.match,
                                                                       o.score_margin)))

    def _add_classification(self, sample, ref_out, tgt_out) -> None:
        name = self.roles["scores"]
        r, t = ref_out[name], tgt_out[name]
        if cls_m.as_rows(r).shape != cls_m.as_rows(t).shape:
            raise TrtlabError(name, f"class scores differ in shape: reference {list(r.shape)}, target "
                              f"{list(t.shape)}", "compare the outputs element-wise (without --task)")
        self.records.append((sample, cls_m.compare_scores(r, t, self.options.top_k)))

    def _add_segmentation(self, sample, ref_out, tgt_out) -> None:
        name = self.roles["map"]
        r, t = ref_out[name], tgt_out[name]
        axis = self.options.axis if self.options.axis is not None else seg_m.class_axis(r.shape)
        n_classes = r.shape[axis] if axis is not None and r.dtype.kind == "f" else 0
        try:
            s = seg_m.compare_maps(r, t, axis, n_classes, self.options.threshold)
        except ValueError as exc:
            raise TrtlabError(name, str(exc), "compare the outputs element-wise (without --task)") from None
        self.records.append((sample, s))

    def finish(self, result, arrays: dict) -> None:
        """Write ``result.task`` (and plot arrays into ``arrays``)."""
        if self.options is None:
            if self.hint is not None:
                result.task = self.hint
            return
        task = self.summary(arrays)
        task["elementwise_skipped"] = [
            {"tensor": m.name, "reason": m.reason} for m in result.outputs
            if m.name in task["outputs"] and m.target_shape is not None]
        others = [m for m in result.outputs if m.name not in task["outputs"]]
        unmatched = [u for u in result.unmatched if u["tensor"] in self.output_names and u["tensor"] not in
                     task["outputs"]]
        broken = [m.name for m in result.outputs if m.name in task["outputs"] and "nonfinite" in (m.rules or [])]
        if broken:  # new NaN/Inf fails the run whatever the task metric says
            task["nonfinite_outputs"] = broken
        task["overall_passed"] = bool(task["passed"] and all(m.passed for m in others) and not unmatched
                                      and not broken)
        result.task = task

    def summary(self, arrays: dict | None = None) -> dict:
        """The task section from the samples added so far (``passed``, ``reason``, ``summary``, ...)."""
        from trtlab.comparison import task_summary

        o = self.options
        if self.roles is None:
            raise TrtlabError(f"--task {o.task}", "no sample was compared", "compare at least one sample")
        task = getattr(task_summary, o.task)(self.records, o, {} if arrays is None else arrays)
        if self.flipped:
            task["warnings"].append(f"{self.flipped} reference boxes have x2 < x1 or y2 < y1 (or a negative size) "
                                    f"as box={o.box}: check the box format and layout (--detection box=...,layout=...)"
                                    "; boxes were compared with their corners ordered")
        task.update({"task": o.task, "outputs": sorted(set(self.roles.values())), "roles": self.roles,
                     "options": {k: v for k, v in asdict(o).items() if k in OPTIONS_SHOWN[o.task]},
                     "min_match": o.required})
        if self.reading is not None:
            task["reading"] = self.reading
        return task


def evaluate(options: TaskOptions, ref_outputs: list[dict], target_outputs: list[dict]) -> dict:
    """The task verdict on outputs already computed, sample by sample (e.g. a goal for ``debug precision``):
    ``evaluate(TaskOptions(task="classification"), ref, tgt)["passed"]``."""
    names = list(dict.fromkeys(n for sample in ref_outputs for n in sample))
    tracker = Tracker(options, names)
    for i, (r, t) in enumerate(zip(ref_outputs, target_outputs)):
        tracker.add(i, r, t)
    return tracker.summary()


def overall_passed(result) -> bool:
    """The verdict of a run: the task's (and the other outputs' element-wise) when a task ran, else element-wise."""
    task = getattr(result, "task", None)
    if task and "overall_passed" in task:
        return bool(task["overall_passed"])
    return bool(result.passed)
