"""Arguments and steps shared by several subcommands (model, inputs, output folder)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="path to an .onnx file, or example:NAME for a bundled example "
                   "(see `trtlab example --list`)")


def load_model_arg(text: str, run_dir: Path | None = None):
    """Load MODEL (a path, or example:NAME saved into ``run_dir`` when given): ``trtlab.api.load``."""
    from trtlab.api import load

    return load(text, run_dir)


def command_argv(args) -> list[str]:
    """The command line as given to ``main()`` (for results.json ``argv``), never the host's ``sys.argv``."""
    return list(getattr(args, "_argv", None) or ["trtlab", getattr(args, "command", "")])


def add_module_arg(p: argparse.ArgumentParser) -> None:
    from trtlab.trt.module import ENV_VAR, MODULES

    p.add_argument("--trt-module", choices=MODULES, default=None,
                   help=f"TensorRT Python module (default: tensorrt if importable, else tensorrt_rtx; "
                   f"also ${ENV_VAR})")


def add_report_arg(p: argparse.ArgumentParser, default: bool) -> None:
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=default,
                   help=f"write report.html into the run directory (default {'on' if default else 'off'})")


def write_report_if(enabled: bool, run_dir: Path) -> Path | None:
    """Render report.html when enabled; a failure to draw it is a warning (``trtlab.api.write_report``)."""
    if not enabled:
        return None
    from trtlab.api import write_report

    return write_report(run_dir)


def add_input_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--input-shapes", nargs="+", metavar="NAME:SHAPE",
                   help="shapes for dynamic inputs: name:1x3x224x224 or name:[1,3,224,224]")
    g.add_argument("--val-range", nargs="+", metavar="[NAME:][LO,HI]",
                   help="value range of random inputs, per input (name:[lo,hi]) or for all ([lo,hi]); "
                   "default [0,1], integer indices into a table default to its row range")
    g.add_argument("--seed", type=int, default=1, help="seed of the random inputs (default 1)")
    g.add_argument("--samples", type=int, default=1, help="number of random input samples (default 1)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--load-inputs", metavar="FEEDS.npz", help="read inputs saved by --save-inputs / numpy.savez")
    src.add_argument("--data-loader-script", metavar="FILE.py:FUNC",
                     help="a function that yields dicts {input_name: array}; each dict is one sample")
    g.add_argument("--save-inputs", metavar="FEEDS.npz", help="also save the inputs used to this file")
    g.add_argument("--loader-timeout", type=float, default=600.0, metavar="S",
                   help="seconds --data-loader-script may take to yield its samples (default 600)")


def input_options(args):
    """The inputs flags of a parsed command line as ``trtlab.inputs.InputOptions`` (no Namespace leaves cli/)."""
    from trtlab.inputs import InputOptions

    return InputOptions(input_shapes=args.input_shapes, val_range=args.val_range, seed=args.seed,
                        samples=args.samples, load_inputs=args.load_inputs,
                        data_loader_script=args.data_loader_script, save_inputs=args.save_inputs,
                        loader_timeout=getattr(args, "loader_timeout", None))


def make_samples(args, model) -> tuple[list[dict], list[str]]:
    """Feeds for every sample, and the warnings produced on the way (``trtlab.inputs.make_samples``)."""
    from trtlab.inputs import make_samples as make

    return make(input_options(args), model)
