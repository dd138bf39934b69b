"""The literal registry of passes: name -> Pass. ``trtlab surgeon --list`` prints it."""

from __future__ import annotations

from trtlab.passes.cleanup import CLEANUP
from trtlab.passes.dedup import DEDUP
from trtlab.passes.elide import ELIDE
from trtlab.passes.extract import EXTRACT
from trtlab.passes.fold_constants import FOLD_CONSTANTS
from trtlab.passes.fuse_conv import FUSE_CONV
from trtlab.passes.fuse_pad import FUSE_PAD
from trtlab.passes.infer_shapes import INFER_SHAPES
from trtlab.passes.isolate_unsupported import ISOLATE_UNSUPPORTED
from trtlab.passes.opset import OPSET
from trtlab.passes.override_shapes import OVERRIDE_SHAPES
from trtlab.passes.sanitize_names import SANITIZE_NAMES
from trtlab.passes.simplify import SIMPLIFY
from trtlab.passes.substitute_plugins import SUBSTITUTE_PLUGINS
from trtlab.passes.to_half import TO_BF16, TO_FP16
from trtlab.passes.toposort import TOPOSORT

PASSES = {p.name: p for p in (FOLD_CONSTANTS, CLEANUP, DEDUP, SIMPLIFY, ELIDE, FUSE_CONV, FUSE_PAD, TOPOSORT,
                              INFER_SHAPES, OVERRIDE_SHAPES, EXTRACT, SANITIZE_NAMES, OPSET, TO_FP16, TO_BF16,
                              ISOLATE_UNSUPPORTED, SUBSTITUTE_PLUGINS)}
