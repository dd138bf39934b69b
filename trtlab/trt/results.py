"""Run-directory helpers for the TensorRT commands (they live in ``trtlab.rundir`` and ``trtlab.cli.common``)."""

from trtlab.cli.common import argv_tail
from trtlab.rundir import fresh_run_dir, write_results

__all__ = ["argv_tail", "fresh_run_dir", "write_results"]
