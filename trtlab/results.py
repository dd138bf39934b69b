"""Typed results: every command's result is a dataclass that writes itself as JSON and reads itself back.

``Result`` is the mixin: ``to_json()`` gives the plain JSON object written to results.json (arrays never: they go
to .npz files), and ``SomeResult.from_json(source)`` rebuilds the dataclass from a dict, a results.json path or
a run directory, nested dataclasses (per-tensor metrics, per-pass records, per-node reports) included. Non-finite
floats, written as the strings "nan", "inf" and "-inf", come back as floats where the field is a float.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from trtlab.errors import TrtlabError

NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


class Result:
    """Mixin for result dataclasses: ``.to_json()`` and ``Class.from_json(dict | path | run_dir)``.

    ``run_dir`` is the run directory the result was written to or read from (None for a result built in memory);
    it is an attribute, not a field, so it never appears in results.json."""

    run_dir: Path | None = None

    def to_json(self) -> dict:
        """The result as a plain JSON object (what results.json holds)."""
        from trtlab.rundir import jsonable

        return jsonable(self)

    @classmethod
    def from_json(cls, source):
        """Rebuild the result from a dict, a JSON text, a results.json path or a run directory holding one."""
        run_dir = None
        if isinstance(source, dict):
            data = source
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            data = json.loads(source)
        else:
            from trtlab.rundir import RESULTS, read_results

            path = Path(source)
            run_dir = path if path.is_dir() else path.parent
            if not path.is_dir() and path.name != RESULTS:
                data = _read_json(path)
            else:
                data = read_results(run_dir)
        result = from_dict(cls, data)
        result.run_dir = run_dir
        return result


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TrtlabError(path, "file not found", "pass a results.json or a run directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtlabError(path, f"not valid JSON ({exc})", "pass a results.json written by trtlab") from None


def from_dict(cls, data: dict):
    """``cls`` (a dataclass) from a JSON object; unknown keys are ignored, missing ones take their defaults."""
    if not isinstance(data, dict):
        raise TrtlabError(cls.__name__, f"expected a JSON object, got {type(data).__name__}",
                          "pass the results.json a trtlab command wrote")
    hints = typing.get_type_hints(cls)
    kwargs, missing = {}, []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in data:
            kwargs[f.name] = _value(hints.get(f.name, Any), data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            missing.append(f.name)
    if missing:
        raise TrtlabError(cls.__name__, f"the JSON lacks {', '.join(missing)}",
                          "pass a results.json written by the same kind of trtlab command")
    return cls(**kwargs)


def _value(tp, value):
    if value is None:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                built = _value(arg, value)
                if built is not value or _fits(arg, value):
                    return built
        return value
    if tp is float and isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    if origin is list and args and isinstance(value, list):
        return [_value(args[0], v) for v in value]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _value(args[1], v) for k, v in value.items()}
    return value


def _fits(tp, value) -> bool:
    base = typing.get_origin(tp) or tp
    return isinstance(base, type) and isinstance(value, base)
