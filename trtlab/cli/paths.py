"""What each command reads and writes, by argument: checked by ``trtlab.rundir.check_paths`` before any work.

One literal table, so a new output flag is one line here, and every output is checked against every input.
"""

from __future__ import annotations

# command -> (read args, output-file args {dest: flag}, output-folder args {dest: flag})
_INPUTS = ("load_inputs", "data_loader_script")
TABLE: dict[str, tuple[tuple[str, ...], dict[str, str], dict[str, str]]] = {
    "inspect": (("model",), {}, {}),
    "compare": (("model", *_INPUTS), {"save_inputs": "--save-inputs"}, {"out": "--out"}),
    "surgeon": (("model", "substitute_plugins", *_INPUTS), {"output": "-o", "save_inputs": "--save-inputs"},
                {"run_dir": "--out"}),
    "check": (("model",), {}, {"out": "--out"}),
    "build": (("model",), {"output": "-o", "_provenance": "-o (its provenance .json)"},
              {"out": "--out", "triton_repo": "--triton-repo"}),
    "run": (("target", "model", "hybrid", *_INPUTS),
            {"save_outputs": "--save-outputs", "timing_json": "--timing-json", "save_inputs": "--save-inputs"},
            {"out": "--out"}),
    "report": (("run_dir",), {"output": "-o"}, {}),
    "debug": (("model", "replay", *_INPUTS), {"output": "-o", "save_inputs": "--save-inputs", "_inputs": "-o (the "
                                              "reproducer's inputs beside it)"}, {"out": "--out"}),
    "example": ((), {"output": "-o"}, {}),
}


def _value(args, dest: str):
    if dest == "_provenance":
        from trtlab.trt.provenance import path_for

        try:
            return str(path_for(args.output)) if getattr(args, "output", None) else None
        except ValueError:  # "." or "/": -o itself is refused as a folder
            return None
    if dest == "_inputs":
        if getattr(args, "output", None) and getattr(args, "fails", None) == "compare":
            from trtlab.reducer.search import inputs_path_for

            return str(inputs_path_for(args.output))
        return None
    value = getattr(args, dest, None)
    if not isinstance(value, str) or value.startswith("example:"):
        return None
    if dest == "data_loader_script" and ":" in value:
        value = value.rpartition(":")[0] or value
    return value


def check_command_paths(args) -> None:
    """Refuse (exit 2) any output of this command that would overwrite one of its inputs or another output."""
    from trtlab.rundir import check_paths

    entry = TABLE.get(getattr(args, "command", None) or "")
    if entry is None:
        return
    reads, files, dirs = entry
    if getattr(args, "isolate_unsupported", False):  # surgeon --isolate-unsupported -o DIR writes a folder
        files, dirs = {k: v for k, v in files.items() if k != "output"}, {**dirs, "output": "-o"}
    read_paths = [_value(args, d) for d in reads]
    if getattr(args, "in_place", False):  # surgeon --in-place rewrites MODEL on purpose (and checks it itself)
        read_paths = [p for p, d in zip(read_paths, reads) if d != "model"]
    hint = "write to another file" + (", or pass --in-place to rewrite MODEL" if args.command == "surgeon" else "")
    check_paths(read_paths, {flag: _value(args, d) for d, flag in files.items()},
                {flag: _value(args, d) for d, flag in dirs.items()}, hint=hint)
