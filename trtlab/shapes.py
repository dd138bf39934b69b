"""Shape sweeps and profile suggestions for dynamic inputs.

``--sweep-shapes input:1x3x224x224:8x3x640x640`` (one per input; ``NAME:MIN:MAX`` or ``NAME:MIN:OPT:MAX``) gives
``--sweep-points`` shapes per input from min to max: every dimension that differs moves linearly (rounded to an
integer) and all swept inputs move together; with an OPT shape the points are min, opt, max. An optimization
profile (``--profile``) gives min, opt and max.

``suggest_profile`` reads the shapes a data loader produced: min and max elementwise over every shape seen, opt at
the most frequent shape (ties: the largest), with the histogram of shapes.
"""

from __future__ import annotations

import re
from collections import Counter

from trtlab.errors import TrtlabError

_SHAPE = re.compile(r"^\d+(x\d+)*$")


def _dims(text: str, item: str) -> list[int]:
    if not _SHAPE.match(text):
        raise TrtlabError(f"--sweep-shapes {item}", f"'{text}' is not a shape like 1x3x224x224",
                          "write NAME:MIN:MAX, e.g. input:1x3x224x224:8x3x640x640")
    dims = [int(d) for d in text.split("x")]
    if 0 in dims:
        raise TrtlabError(f"--sweep-shapes {item}", "a dimension of 0 makes an empty tensor",
                          "give every dimension at least 1")
    return dims


def parse_sweep(items: list[str]) -> dict[str, list[list[int]]]:
    """``NAME:MIN:MAX`` or ``NAME:MIN:OPT:MAX`` per item -> name -> [min, (opt,) max]; the name is everything before
    the last two (three) shapes, so names with ``:`` work."""
    out: dict[str, list[list[int]]] = {}
    for item in items:
        parts = item.strip().split(":")
        shapes = [p for p in parts[1:] if _SHAPE.match(p)]
        n = 3 if len(shapes) >= 3 else 2
        if len(parts) < n + 1 or not all(_SHAPE.match(p) for p in parts[-n:]):
            raise TrtlabError(f"--sweep-shapes {item}", "not of the form NAME:MIN:MAX (or NAME:MIN:OPT:MAX)",
                              "e.g. --sweep-shapes input:1x3x224x224:8x3x640x640")
        name = ":".join(parts[:-n])
        dims = [_dims(p, item) for p in parts[-n:]]
        if len({len(d) for d in dims}) != 1:
            raise TrtlabError(f"--sweep-shapes {item}", "the shapes have different ranks", "give shapes of one rank")
        if any(lo > hi for lo, hi in zip(dims[0], dims[-1])):
            raise TrtlabError(f"--sweep-shapes {item}", "a MIN dimension is larger than its MAX dimension",
                              "write the smaller shape first")
        out[name] = dims
    return out


def sweep_points(ranges: dict[str, list[list[int]]], points: int = 5) -> list[dict[str, list[int]]]:
    """The shapes to run, in order, without repeats: min..max in ``points`` steps (min, opt, max when given)."""
    if points < 2:
        raise TrtlabError(f"--sweep-points {points}", "a sweep needs at least 2 points", "e.g. --sweep-points 5")
    sets: list[dict[str, list[int]]] = []
    if all(len(v) == 3 for v in ranges.values()):
        sets = [{n: v[i] for n, v in ranges.items()} for i in range(3)]
    else:
        for i in range(points):
            t = i / (points - 1)
            sets.append({n: [round(lo + t * (hi - lo)) for lo, hi in zip(v[0], v[-1])] for n, v in ranges.items()})
    unique: list[dict[str, list[int]]] = []
    for s in sets:
        if s not in unique:
            unique.append(s)
    return unique


def profile_points(profile) -> list[dict[str, list[int]]]:
    """min, opt and max of a ``trtlab.trt.profiles.Profile`` (``shapes``: name -> (min, opt, max))."""
    return sweep_points({n: [list(s) for s in shapes] for n, shapes in profile.shapes.items()})


def shape_label(shapes: dict[str, list[int]]) -> str:
    return " ".join(f"{n}:{'x'.join(map(str, s)) or 'scalar'}" for n, s in shapes.items())


def suggest_profile(samples: list[dict]) -> dict:
    """min/opt/max per input over the shapes of ``samples`` (dicts of arrays), with the histogram of shapes."""
    if not samples:
        raise TrtlabError("--suggest-profile", "the data loader produced no samples", "check the loader script")
    out = {}
    for name in samples[0]:
        seen = [tuple(int(d) for d in s[name].shape) for s in samples if name in s]
        hist = Counter(seen)
        ranks = {len(s) for s in seen}
        if len(ranks) != 1:
            raise TrtlabError(f"--suggest-profile {name}", f"samples of different ranks {sorted(ranks)}",
                              "a profile needs one rank per input")
        opt = max(hist, key=lambda s: (hist[s], s))
        out[name] = {"min": [min(d) for d in zip(*seen)], "opt": list(opt), "max": [max(d) for d in zip(*seen)],
                     "histogram": [{"shape": list(s), "count": c} for s, c in hist.most_common()]}
    return out


def profile_arg(suggested: dict) -> str:
    """The ``--profile`` argument for ``trtlab build`` that the suggestion amounts to (inputs that vary)."""
    items = [f"{n}:{'x'.join(map(str, p['min']))}:{'x'.join(map(str, p['opt']))}:{'x'.join(map(str, p['max']))}"
             for n, p in suggested.items() if p["min"] != p["max"]]
    return ",".join(items)
