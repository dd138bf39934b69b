"""Which outputs a task reads, and how to read them: roles from names and shapes, detections from tensors.

Detection outputs are either separate tensors (boxes [N, 4] or [B, N, 4+], scores [N] or class scores [N, C],
labels [N]; a leading batch dimension is one image per row) or one tensor [N, K] / [B, N, K] in a ``layout``:
``xyxy-score-label`` (K = 6, e.g. post-NMS [x1, y1, x2, y2, score, class]), ``box-obj-cls`` (YOLO: 4 box, objectness,
C class scores; score = objectness * class score), ``obj-box-cls`` (objectness first) or ``box-cls`` (4 box, C class
scores). Boxes are in ``box`` format (xyxy, xywh, cxcywh).
"""

from __future__ import annotations

import numpy as np

from trtlab.comparators.detection import Detections, flipped, to_xyxy
from trtlab.errors import TrtlabError

ROLES = {"detection": ("boxes", "scores", "labels", "output"), "classification": ("scores",),
         "segmentation": ("map",)}
NAME_HINTS = {"boxes": ("box", "bbox"), "scores": ("score", "conf", "prob"), "labels": ("label", "class", "cls")}
LAYOUTS = ("xyxy-score-label", "box-obj-cls", "obj-box-cls", "box-cls")
MIN_CLASSES = 10  # [B, C] with at least this many columns looks like class scores


def check_names(options, output_names: list[str]) -> None:
    allowed = ROLES[options.task]
    for role, name in options.outputs.items():
        if role not in allowed:
            raise TrtlabError(f"--{options.task} {role}={name}", f"unknown output role for {options.task}",
                              f"name outputs as {', '.join(f'{r}=NAME' for r in allowed)}")
        if name not in output_names:
            raise TrtlabError(f"--{options.task} {role}={name}", "not an output of the model",
                              f"outputs are: {', '.join(output_names)}")
    if options.task == "detection" and options.layout not in ("auto",) + LAYOUTS:
        raise TrtlabError(f"layout={options.layout}", "unknown detection layout", f"use one of: {', '.join(LAYOUTS)}")


def _by_name(names: list[str], role: str) -> str | None:
    return next((n for n in names if any(h in n.lower() for h in NAME_HINTS[role])), None)


def _float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def _box_outputs(outs: dict[str, np.ndarray]) -> list[str]:
    """Float [N, 4] / [B, N, 4] outputs with N >= 2 (a pooled [1, 4] vector is not a box list)."""
    return [n for n, a in outs.items() if _float(a) and a.ndim in (2, 3) and a.shape[-1] == 4 and a.shape[-2] >= 2]


def _scores_for(outs: dict[str, np.ndarray], lead: tuple, names: list[str]) -> str | None:
    """Scores of the boxes with leading shape ``lead``: [N] (or [B, N]) exactly, or class scores [N, C]."""
    for n in names:
        a = outs[n]
        if _float(a) and (a.shape == lead or (a.ndim == len(lead) + 1 and a.shape[:-1] == lead and a.shape[-1] >= 2)):
            return n
    return None


def shape_roles(outs: dict[str, np.ndarray]) -> dict[str, str] | None:
    """Roles read from shapes alone, only where the layout is unambiguous: boxes [N, 4] with scores [N] (or
    class scores [N, C]) and labels [N] if any, N >= 2; or one output [N, 6] / [N, 4 + 1 + C] with N >= 2."""
    for boxes in _box_outputs(outs):
        lead = outs[boxes].shape[:-1]
        rest = [n for n in outs if n != boxes]
        scores = _scores_for(outs, lead, rest)
        if scores is None:
            continue
        roles = {"boxes": boxes, "scores": scores}
        lab = [n for n in rest if n != scores and outs[n].dtype.kind in "iu" and outs[n].shape == lead]
        if lab:
            roles["labels"] = lab[0]
        return roles
    if len(outs) == 1:
        n, a = next(iter(outs.items()))
        if _float(a) and a.ndim in (2, 3) and a.shape[-1] >= 6 and a.shape[-2] >= 2:
            return {"output": n}
    return None


def _detection_roles(options, outs: dict[str, np.ndarray]) -> dict[str, str]:
    """Roles given (``--detection``), then by names (boxes/scores/labels), then by shape where unambiguous;
    otherwise a one-line error naming ``--detection``."""
    roles = dict(options.outputs)
    if "output" in roles:
        return {"output": roles["output"]}
    names = list(outs)
    for role in ("boxes", "scores", "labels"):
        if role not in roles:
            found = _by_name([n for n in names if n not in roles.values()], role)
            if found:
                roles[role] = found
    if not roles:
        found = shape_roles(outs)
        if found:
            return found
    elif "boxes" in roles:  # named boxes may carry more columns (landmarks): the first 4 are the box
        lead = outs[roles["boxes"]].shape[:-1]
        rest = [n for n in names if n not in roles.values()]
        if "scores" not in roles:
            found = _scores_for(outs, lead, rest)
            if found:
                roles["scores"] = found
        if "labels" not in roles:
            lab = [n for n in rest if n != roles.get("scores") and outs[n].dtype.kind in "iu"
                   and outs[n].shape == lead]
            if lab:
                roles["labels"] = lab[0]
        if "scores" in roles:
            return roles
    raise TrtlabError("--task detection", "cannot tell which outputs hold boxes and scores (outputs: "
                      + ", ".join(f"{n} {list(a.shape)}" for n, a in outs.items()) + ")",
                      "name them: --detection boxes=NAME,scores=NAME,labels=NAME or --detection output=NAME")


def reading(options, roles: dict[str, str], outs: dict[str, np.ndarray]) -> dict:
    """How the detection tensors are read (for results.json): roles, layout, box format, where roles came from."""
    given = set(options.outputs)
    how = "given" if given >= set(roles) else ("names" if all(
        r in given or (r in NAME_HINTS and _by_name([roles[r]], r)) for r in roles) else "shapes")
    if "output" in roles:
        a = outs[roles["output"]]
        layout = options.layout if options.layout != "auto" else (
            "xyxy-score-label" if a.shape[-1] == 6 else "box-obj-cls")
        shapes = {roles["output"]: list(a.shape)}
    else:
        per_class = np.asarray(outs[roles["scores"]]).ndim == outs[roles["boxes"]].ndim
        layout = "boxes+class-scores" if per_class else "boxes+scores" + ("+labels" if "labels" in roles else "")
        shapes = {n: list(outs[n].shape) for n in roles.values()}
    return {"roles": dict(roles), "layout": layout, "box": options.box, "roles_from": how, "shapes": shapes}


def resolve(options, outs: dict[str, np.ndarray]) -> dict[str, str]:
    """Role -> output name for the task, from ``options.outputs`` and, for roles not named, names and shapes."""
    if options.task == "detection":
        return _detection_roles(options, outs)
    role = ROLES[options.task][0]
    if role in options.outputs:
        return {role: options.outputs[role]}
    pick = classification_candidates(outs) if options.task == "classification" else segmentation_candidates(outs)
    if not pick:
        flag = f"--{options.task} {role}=NAME"
        raise TrtlabError(f"--task {options.task}", "no output looks like "
                          + ("class scores [B, C]" if options.task == "classification" else "a segmentation map")
                          + " (outputs: " + ", ".join(f"{n} {list(a.shape)}" for n, a in outs.items()) + ")",
                          f"name it: {flag}")
    return {role: pick[0]}


def classification_candidates(outs: dict[str, np.ndarray], min_classes: int = 2) -> list[str]:
    found = []
    for n, a in outs.items():
        shape = list(a.shape)
        while len(shape) > 2 and shape[-1] == 1:
            shape.pop()
        if _float(a) and len(shape) in (1, 2) and shape[-1] >= min_classes:
            found.append(n)
    return sorted(found, key=lambda n: not any(h in n.lower() for h in ("logit", "prob", "score", "output")))


CLASS_NAMES = ("logit", "prob", "score", "class", "cls", "softmax", "pred")


def _class_like(name: str, a: np.ndarray) -> bool:
    """For a hint only: a [B, C] output is taken for class scores when its name says so, its rows are
    probabilities (in [0, 1], summing to 1), or C is not a multiple of 64 (10, 80, 1000, 1001 classes; embeddings
    and feature vectors are 128, 512, 768, 2048 wide), not merely for having ten or more columns."""
    if any(h in name.lower() for h in CLASS_NAMES) or (a.ndim and a.shape[-1] % 64):
        return True
    rows = np.asarray(a, np.float64).reshape(-1, a.shape[-1]) if a.ndim else np.zeros((0, 1))
    return bool(rows.size and np.isfinite(rows).all() and (rows >= 0).all() and (rows <= 1).all()
                and np.allclose(rows.sum(axis=-1), 1.0, atol=1e-3))


def segmentation_candidates(outs: dict[str, np.ndarray], hint: bool = False) -> list[str]:
    """Score maps [N, C, H, W] / [N, H, W, C] (H, W >= 8) and label maps [N, H, W]. For a hint, C must be 2 or
    more and not 3, so image-to-image outputs (RGB, one-channel super-resolution) are not taken for masks."""
    found = []
    for n, a in outs.items():
        if _float(a) and a.ndim == 4 and sorted(a.shape[1:])[1] >= 8:
            c = a.shape[1] if a.shape[1] <= a.shape[3] else a.shape[3]
            if not hint or (c >= 2 and c != 3):
                found.append(n)
        elif a.dtype.kind in "iu" and a.ndim == 3 and min(a.shape[1:]) >= 8:
            found.append(n)
    return found


def suggest(outs: dict[str, np.ndarray]) -> dict | None:
    """A hint when the outputs look like a task's (no task was asked): {"suggested": task, "hint": text}."""
    names = list(outs)
    has = {role: _by_name(names, role) for role in NAME_HINTS}
    if (has["boxes"] and has["scores"]) or (len(outs) >= 2 and shape_roles(outs)):
        task, why = "detection", "outputs look like detections (" + ", ".join(
            f"{n} {list(outs[n].shape)}" for n in names[:3]) + ")"
        flag = "--task detection"
    elif len(outs) == 1 and [n for n in classification_candidates(outs, MIN_CLASSES) if _class_like(n, outs[n])]:
        n = classification_candidates(outs, MIN_CLASSES)[0]
        task, why, flag = "classification", f"output {n} {list(outs[n].shape)} looks like class scores", \
            "--task classification"
    elif segmentation_candidates(outs, hint=True) and len(outs) == 1:
        n = segmentation_candidates(outs, hint=True)[0]
        task, why, flag = "segmentation", f"output {n} {list(outs[n].shape)} looks like a segmentation map", \
            "--task segmentation"
    else:
        return None
    return {"suggested": task, "flag": flag,
            "hint": f"{why}: element-wise tolerances compare them position by position; {flag} compares what they "
                    "mean"}


def _images(a: np.ndarray, rank: int) -> list[np.ndarray]:
    """Split a leading batch dimension: arrays of ``rank`` dimensions per image."""
    a = np.asarray(a)
    if a.ndim == rank:
        return [a]
    if a.ndim == rank + 1:
        return list(a)
    return [a.reshape((-1,) + a.shape[a.ndim - rank + 1:]) if rank > 1 else a.reshape(-1)]


def _from_class_scores(scores: np.ndarray, background: int | None) -> tuple[np.ndarray, np.ndarray]:
    s = scores.astype(np.float64)
    if background is not None and 0 <= background < s.shape[-1]:
        s = s.copy()
        s[:, background] = -np.inf
    s = np.where(np.isnan(s), -np.inf, s)
    labels = np.argmax(s, axis=-1)
    return np.take_along_axis(s, labels[:, None], -1)[:, 0], labels


def _single(options, arr: np.ndarray) -> list[Detections]:
    out = []
    layout = options.layout
    for a in _images(arr, 2):
        a = a.astype(np.float64)
        if layout == "auto":
            layout = "xyxy-score-label" if a.shape[-1] == 6 else "box-obj-cls"
        if layout == "xyxy-score-label":
            boxes, scores, labels = a[:, :4], a[:, 4], np.rint(np.nan_to_num(a[:, 5])).astype(np.int64)
        elif layout == "box-cls":
            boxes = a[:, :4]
            scores, labels = _from_class_scores(a[:, 4:], options.background)
        else:
            obj, boxes, cls = (a[:, 4], a[:, :4], a[:, 5:]) if layout == "box-obj-cls" else (a[:, 0], a[:, 1:5],
                                                                                            a[:, 5:])
            if cls.shape[1]:
                scores, labels = _from_class_scores(cls, options.background)
                scores = scores * obj
            else:
                scores, labels = obj, np.zeros(len(obj), np.int64)
        out.append(_detections(options, boxes, scores, labels))
    return out


def _detections(options, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> Detections:
    d = Detections(to_xyxy(boxes, options.box), scores, labels)
    d.flipped = flipped(boxes[scores >= options.score_min], options.box)
    return d


def detections(options, roles: dict[str, str], outs: dict[str, np.ndarray]) -> list[Detections]:
    """One ``Detections`` per image."""
    if "output" in roles:
        return _single(options, outs[roles["output"]])
    boxes = _images(outs[roles["boxes"]], 2)
    s_arr = np.asarray(outs[roles["scores"]])
    per_class = s_arr.ndim == outs[roles["boxes"]].ndim
    scores = _images(s_arr, 2 if per_class else 1)
    labels = _images(outs[roles["labels"]], 1) if "labels" in roles else [None] * len(boxes)
    if not len(boxes) == len(scores) == len(labels):
        raise TrtlabError(", ".join(roles.values()), "boxes, scores and labels hold different numbers of images",
                          "name matching outputs with --detection boxes=...,scores=...,labels=...")
    out = []
    for b, s, lab in zip(boxes, scores, labels):
        if per_class:
            s, cls_label = _from_class_scores(s, options.background)
            lab = cls_label if lab is None else lab
        n = min(len(b), len(s), len(lab) if lab is not None else len(s))
        lab = np.zeros(n, np.int64) if lab is None else np.asarray(lab).reshape(-1)[:n].astype(np.int64)
        out.append(_detections(options, b[:n, :4], np.asarray(s, np.float64)[:n], lab))
    return out
