"""Optimization profiles for dynamic inputs.

Syntax: one ``--profile`` per optimization profile; inside it, one ``INPUT:MIN:OPT:MAX`` per dynamic input,
separated by commas. Shapes are ``1x3x224x224``; ``INPUT:SHAPE`` alone means min = opt = max::

    --profile input:1x3x224x224:4x3x224x224:8x3x224x224
    --profile ids:1x16:1x128:1x512,mask:1x16:1x128:1x512 --profile ids:8x16:8x128:8x512,mask:8x16:8x128:8x512

The input name is everything before the last three colons, so names containing ``/`` or ``:`` work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trtlab.errors import TrtlabError

_DIMS = re.compile(r"^\d+(x\d+)*$|^$")


@dataclass
class Profile:
    shapes: dict[str, tuple[list[int], list[int], list[int]]] = field(default_factory=dict)  # name -> min, opt, max
    items: dict[str, str] = field(default_factory=dict, repr=False)  # name -> the INPUT:... text it came from

    def to_json(self) -> dict:
        return {name: {"min": mn, "opt": opt, "max": mx} for name, (mn, opt, mx) in self.shapes.items()}


def _dims(text: str, item: str) -> list[int]:
    text = text.strip()
    if not _DIMS.match(text):
        raise TrtlabError(f"--profile {item}", f"'{text}' is not a shape like 1x3x224x224",
                          "write INPUT:MIN:OPT:MAX with shapes as 1x3x224x224")
    return [int(d) for d in text.split("x")] if text else []


def _one(item: str, spec: str) -> tuple[str, tuple[list[int], list[int], list[int]]]:
    parts = item.split(":")
    if len(parts) >= 4 and all(_DIMS.match(p.strip()) for p in parts[-3:]):
        name, shapes = ":".join(parts[:-3]), [_dims(p, spec) for p in parts[-3:]]
    elif len(parts) >= 2 and _DIMS.match(parts[-1].strip()):
        name, shapes = ":".join(parts[:-1]), [_dims(parts[-1], spec)] * 3
    else:
        raise TrtlabError(f"--profile {spec}", f"'{item}' is not INPUT:MIN:OPT:MAX (or INPUT:SHAPE)",
                          "e.g. --profile input:1x3x224x224:4x3x224x224:8x3x224x224")
    mn, opt, mx = shapes
    if not (len(mn) == len(opt) == len(mx)):
        raise TrtlabError(f"--profile {spec}", f"min, opt and max of '{name}' have different ranks",
                          "give the same number of dims for min, opt and max")
    if any(not (a <= b <= c) for a, b, c in zip(mn, opt, mx)):
        raise TrtlabError(f"--profile {spec}", f"'{name}' needs min <= opt <= max in every dim "
                          f"(got {_fmt(mn)}, {_fmt(opt)}, {_fmt(mx)})", "reorder the shapes")
    return name.strip(), (mn, opt, mx)


def parse_profiles(specs: list[str] | None) -> list[Profile]:
    profiles = []
    for spec in specs or []:
        profile = Profile()
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, shapes = _one(item, spec)
            if name in profile.shapes:
                raise TrtlabError(f"--profile {spec}", f"input '{name}' appears twice in one profile",
                                  "start another profile with another --profile")
            profile.shapes[name], profile.items[name] = shapes, item
        profiles.append(profile)
    return profiles


def _fmt(dims) -> str:
    return "x".join(str(d) for d in dims) if dims else "(scalar)"


def suggest(shape: list[int]) -> str:
    pick = [[1 if d < 0 else d for d in shape], [4 if d < 0 else d for d in shape], [8 if d < 0 else d for d in shape]]
    return ":".join(_fmt(p) for p in pick)


def network_inputs(network) -> list[tuple[str, list[int], bool]]:
    """(name, shape with -1 for dynamic dims, is_shape_tensor) for every network input."""
    return [(t.name, list(t.shape), bool(t.is_shape_tensor))
            for t in (network.get_input(i) for i in range(network.num_inputs))]


def validate(profiles: list[Profile], network) -> list[str]:
    """Check profiles against the network's inputs; raise on anything the builder would refuse."""
    inputs = network_inputs(network)
    names = {n for n, _s, _t in inputs}
    dynamic = [(n, s) for n, s, _t in inputs if any(d < 0 for d in s)]
    warnings = []
    for k, profile in enumerate(profiles):
        for name in profile.shapes:
            if name not in names:
                raise _unknown_input(name, profile.items.get(name, name), {n: s for n, s, _t in inputs})
        for name, shape in dynamic:
            if name not in profile.shapes:
                raise TrtlabError(f"input '{name}'", f"dynamic dims {_fmt_dims(shape)} have no shapes in profile {k}",
                                  f"add {name}:MIN:OPT:MAX to that --profile, e.g. {name}:{suggest(shape)}")
        for name, shape, _t in inputs:
            if name not in profile.shapes:
                continue
            for label, dims in zip(("min", "opt", "max"), profile.shapes[name]):
                if len(dims) != len(shape) or any(s >= 0 and s != d for s, d in zip(shape, dims)):
                    raise TrtlabError(f"--profile {name}", f"{label} shape {_fmt(dims)} does not fit the input's "
                                      f"dims {_fmt_dims(shape)}", f"keep the static dims, e.g. {name}:{suggest(shape)}")
                if 0 in dims and not _t:  # a shape tensor's profile holds values, where 0 is fine
                    raise TrtlabError(f"--profile {name}", f"{label} shape {_fmt(dims)} has a zero-size dim",
                                      f"every dim needs at least 1, e.g. {name}:{suggest(shape)}")
            if not any(d < 0 for d in shape):
                warnings.append(f"profile {k}: input '{name}' is static ({_fmt(shape)}); its shapes change nothing")
    if dynamic and not profiles:
        name, shape = dynamic[0]
        others = f" (and {len(dynamic) - 1} more dynamic input(s): {', '.join(n for n, _ in dynamic[1:])})" \
            if len(dynamic) > 1 else ""
        raise TrtlabError(f"input '{name}'", f"has dynamic dims {_fmt_dims(shape)} and no optimization profile{others}",
                          f"--profile {','.join(f'{n}:{suggest(s)}' for n, s in dynamic)}")
    return warnings


def _unknown_input(name: str, item: str, shapes: dict[str, list[int]]) -> TrtlabError:
    """No such input; when ``item`` is a real input followed by shapes, the spec had the wrong number of shapes
    (``input:1x3:4x3`` parses as an input named "input:1x3" with one shape)."""
    for real in sorted(shapes, key=len, reverse=True):
        rest = item[len(real) + 1:].split(":") if item.startswith(real + ":") else []
        if rest and all(p.strip() and _DIMS.match(p.strip()) for p in rest):
            return TrtlabError(f"--profile {item}", f"input '{real}' has {len(rest)} shapes; a profile needs 1 "
                               "(INPUT:SHAPE, min = opt = max) or 3 (INPUT:MIN:OPT:MAX)",
                               f"e.g. {real}:{suggest(shapes[real])}")
    return TrtlabError(f"--profile {item}", f"the model has no input '{name}'", f"inputs: {', '.join(sorted(shapes))}")


def _fmt_dims(shape: list[int]) -> str:
    return "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"


def apply(profiles: list[Profile], builder, config, network) -> None:
    shape_inputs = {n for n, _s, t in network_inputs(network) if t}
    for profile in profiles:
        opt_profile = builder.create_optimization_profile()
        for name, (mn, opt, mx) in profile.shapes.items():
            if name in shape_inputs:
                opt_profile.set_shape_input(name, mn, opt, mx)
            else:
                opt_profile.set_shape(name, mn, opt, mx)
        config.add_optimization_profile(opt_profile)
