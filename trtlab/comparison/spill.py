"""Reference tensors parked on disk while the target runs.

A layer-wise comparison holds every exposed tensor of the reference while the target produces its own: on a
BERT-base export that is two copies of ~1,100 activations at once. ``Spill.park`` writes the reference's layer
tensors (not the graph outputs, which the task tracker and ``--save-outputs`` read) to a temporary folder when
they add up to more than ``LIMIT`` bytes, and ``take`` reads each back, once, when its pair is compared: the peak
holds one side plus one tensor instead of both sides. Below the limit nothing is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

LIMIT = 128 << 20


class Spill:
    def __init__(self, limit: int = LIMIT):
        self.limit, self.folder, self.files = limit, None, {}

    def park(self, values: dict, keep) -> None:
        """Move the arrays of ``values`` not named in ``keep`` to disk (in place) when they are large."""
        movable = [n for n, v in values.items() if n not in keep and isinstance(v, np.ndarray) and v.dtype != object]
        if sum(values[n].nbytes for n in movable) < self.limit:
            return
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="trtlab-spill-")
        for i, name in enumerate(movable):
            path = os.path.join(self.folder, f"{len(self.files)}_{i}.npy")
            np.save(path, values.pop(name), allow_pickle=False)
            self.files[name] = path

    def names(self) -> list[str]:
        return list(self.files)

    def take(self, name: str) -> np.ndarray:
        path = self.files.pop(name)
        value = np.load(path, allow_pickle=False)
        os.remove(path)
        return value

    def close(self) -> None:
        self.files = {}
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
