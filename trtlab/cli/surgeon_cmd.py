"""``trtlab surgeon MODEL -o OUT [PASS FLAGS...]``: rewrite a model with passes, verified pass by pass."""

from __future__ import annotations

import argparse
from pathlib import Path

from trtlab.cli.common import add_input_args, add_report_arg
from trtlab.partition import DEFAULT_MIN_SIZE

HELP = "rewrite a model with passes (fold constants, cleanup, FP16, ...), checking after each pass that outputs hold"

CHECK_LIMIT = 64 << 20  # run onnx.checker on load below this file size (it takes seconds on BERT-sized models)

# flag -> pass name; the flag's value (if any) becomes the option named in _FLAG_OPTION.
_PASS_FLAGS = {
    "--fold-constants": "fold-constants", "--cleanup": "cleanup", "--dedup": "dedup", "--toposort": "toposort",
    "--infer-shapes": "infer-shapes", "--sanitize-names": "sanitize-names", "--to-fp16": "to-fp16",
    "--to-bf16": "to-bf16", "--override-input-shapes": "override-input-shapes", "--opset": "opset",
    "--extract": "extract",
}
_FLAG_OPTION = {"override-input-shapes": "shapes", "opset": "target"}


class _StepAction(argparse.Action):
    """Appends (pass name, value) to args.steps in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = list(getattr(namespace, "steps", None) or [])
        if option_string in ("-p", "--pass"):
            steps.append(("spec", values))
        else:
            steps.append((_PASS_FLAGS[option_string], values))
        namespace.steps = steps


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", help="path to an .onnx file, or example:NAME for a bundled example")
    p.add_argument("-o", "--output", metavar="OUT.onnx", help="where to write the result (default: in the run dir)")
    p.add_argument("--in-place", action="store_true", help="overwrite MODEL (only with this flag)")
    p.add_argument("--list", action="store_true", help="list the passes and exit")
    g = p.add_argument_group("passes (run in the order given)")
    g.add_argument("-p", "--pass", action=_StepAction, metavar="NAME[:key=value,...]", dest="steps_",
                   help="run a pass by name (repeatable), e.g. -p fold-constants:size_threshold=16M")
    for flag, name in _PASS_FLAGS.items():
        if name in _FLAG_OPTION:
            nargs, meta = ("+", "NAME:SHAPE") if name == "override-input-shapes" else (None, "N")
            g.add_argument(flag, action=_StepAction, nargs=nargs, metavar=meta, dest="steps_",
                           help=f"pass {name}" + (" (e.g. input:1x3x224x224)" if nargs else " (target opset)"))
        elif name == "extract":
            g.add_argument(flag, action=_StepAction, nargs=0, dest="steps_",
                           help="pass extract, with --extract-inputs/--extract-outputs")
        else:
            g.add_argument(flag, action=_StepAction, nargs=0, dest="steps_", help=f"pass {name}")
    o = p.add_argument_group("pass options")
    o.add_argument("--fold-size-threshold", default="1G", metavar="SIZE",
                   help="largest tensor fold-constants materialises (default 1G); bigger ones stay computed")
    o.add_argument("--no-fold-shapes", action="store_true", help="fold-constants: do not fold Shape/Size")
    o.add_argument("--keep-fp32", nargs="+", default=[], metavar="NODE_OR_OPTYPE",
                   help="to-fp16/to-bf16: nodes (by name or op type) that stay FP32")
    o.add_argument("--half-io", action="store_true", help="to-fp16/to-bf16: convert graph inputs/outputs too")
    o.add_argument("--extract-inputs", metavar="A,B", help="extract: boundary inputs (tensor names)")
    o.add_argument("--extract-outputs", metavar="C,D", help="extract: outputs (tensor names); implies --extract")
    d = p.add_argument_group("debugging failed conversions (each runs on its own, not with other passes)")
    d.add_argument("--isolate-unsupported", action="store_true",
                   help="split into TensorRT and fallback segments; -o DIR gets one .onnx per segment + partition.json")
    d.add_argument("--min-segment-size", type=int, default=DEFAULT_MIN_SIZE, metavar="N",
                   help=f"--isolate-unsupported: TensorRT segments with fewer nodes go to the fallback "
                        f"(default {DEFAULT_MIN_SIZE})")
    d.add_argument("--static-support", action="store_true",
                   help="--isolate-unsupported: predict support from trtlab's static table even if a parser exists")
    d.add_argument("--substitute-plugins", metavar="SPEC",
                   help="replace patterns by plugin/standard ops: a rules .yaml/.py file, or builtin[:rule,...]")
    d.add_argument("--dry-run", action="store_true",
                   help="--substitute-plugins: list matches and near misses (with reasons), write no model")
    v = p.add_argument_group("verification")
    v.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                   help="run the model before and after each pass with onnxrt and stop at the first pass that changes "
                   "an output (default: on for models small enough to run in seconds)")
    v.add_argument("--atol", type=float, help="absolute tolerance (default 1e-5; fp16 passes 1e-3, bf16 1e-2)")
    v.add_argument("--rtol", type=float, help="relative tolerance (default 1e-5; fp16 passes 1e-2, bf16 5e-2)")
    w = p.add_argument_group("output")
    w.add_argument("--external-data", action=argparse.BooleanOptionalAction, default=None,
                   help="write weights to OUT.data (default: automatic above 2 GB)")
    w.add_argument("--dump-after", nargs="+", metavar="NAME|all", help="also write the model after these passes")
    w.add_argument("--out", "--run-dir", dest="run_dir", metavar="RUN_DIR",
                   help="run directory, as for every command (default: a new folder under ./trtlab-runs/)")
    w.add_argument("--json", action="store_true", help="print results.json to stdout instead of tables")
    add_report_arg(w, default=False)
    add_input_args(p)


def _steps(args):
    from trtlab.surgery.pipeline import Step, parse_step
    from trtlab.surgery.session import PassFlags, apply_flags

    steps = []
    for name, value in list(getattr(args, "steps", None) or []):
        if name == "spec":
            steps.append(parse_step(value))
        else:
            steps.append(Step(name, {_FLAG_OPTION[name]: value} if name in _FLAG_OPTION else {}))
    flags = PassFlags(fold_size_threshold=args.fold_size_threshold, no_fold_shapes=args.no_fold_shapes,
                      keep_fp32=list(args.keep_fp32), half_io=args.half_io, extract_inputs=args.extract_inputs,
                      extract_outputs=args.extract_outputs)
    return apply_flags(steps, flags, args.dump_after)


def _list_passes() -> int:
    from trtlab.passes.registry import PASSES
    from trtlab.ui import out

    for p in PASSES.values():
        out.print(f"{p.name:<24}{p.description}", markup=False)
    return 0


def run(args) -> int:
    from trtlab.errors import TrtlabError

    if args.list:
        return _list_passes()
    if not args.model:
        raise TrtlabError("trtlab surgeon", "no model given", "trtlab surgeon MODEL.onnx --fold-constants -o OUT.onnx")
    if args.isolate_unsupported or args.substitute_plugins:
        return _debug_modes(args)
    steps = _steps(args)
    example = args.model.startswith("example:")
    model_path = None if example else Path(args.model)
    target = _output_path(args, model_path)
    from trtlab.cli.common import load_model_arg
    from trtlab.model import load_model

    if example:
        loaded = load_model_arg(args.model)
        stem = args.model.split(":", 1)[1]
    else:
        big = model_path.is_file() and model_path.stat().st_size > CHECK_LIMIT
        loaded = load_model(model_path, check=not big)
        stem = model_path.stem
        if big:
            loaded.warnings.append(f"onnx.checker skipped: the model file is over {CHECK_LIMIT >> 20} MB "
                                   "(verification by onnxrt is the stronger check: --verify)")
    from trtlab.cli.common import write_report_if
    from trtlab.cli.surgeon_exec import execute
    from trtlab.rundir import fresh_run_dir

    with fresh_run_dir(args.run_dir, "surgeon", args.model) as run_dir:
        code = execute(args, loaded, steps, run_dir, target or run_dir / f"{stem}.surgeon.onnx")
    write_report_if(args.report, run_dir)
    return code


def _output_path(args, model_path: Path | None) -> Path | None:
    """Where the model goes, validated before any work (not a folder, not the input unless --in-place, in a
    folder that can be written); None: into the run directory."""
    from trtlab.errors import TrtlabError
    from trtlab.rundir import check_output_path

    if args.in_place and model_path is None:
        raise TrtlabError("--in-place", f"{args.model} is a bundled example, not a file", "write it with -o OUT.onnx")
    if args.in_place:
        if args.output and Path(args.output).resolve() != model_path.resolve():
            raise TrtlabError("--in-place", "given together with a different -o", "use one of them")
        return check_output_path(model_path, flag="--in-place")
    if args.output:
        out = Path(args.output)
        if out.exists() and model_path and model_path.exists() and out.resolve() == model_path.resolve():
            raise TrtlabError(f"-o {out}", "would overwrite the input model", "choose another path, or pass --in-place")
        return check_output_path(out, inputs=(model_path,), flag="-o")
    return None


def _debug_modes(args) -> int:
    from trtlab.errors import TrtlabError

    if args.isolate_unsupported and args.substitute_plugins or getattr(args, "steps", None):
        raise TrtlabError("trtlab surgeon", "--isolate-unsupported and --substitute-plugins run on their own",
                          "run other passes first (-o mid.onnx), then isolate or substitute on mid.onnx; or use "
                          "-p isolate-unsupported:out_dir=DIR / -p substitute-plugins:spec=FILE in a pipeline")
    if not Path(args.model).is_file():
        raise TrtlabError(args.model, "file not found", "pass an .onnx model")
    if args.isolate_unsupported:
        from trtlab.cli.partition_run import run_isolate

        return run_isolate(args)
    from trtlab.cli.plugins_run import run_substitute

    return run_substitute(args)
