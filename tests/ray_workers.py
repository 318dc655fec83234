"""Actor classes the Ray tests inject (a module of their own, so Ray workers import it by name)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from rag_index.index.ray_engine import FileEncoder


class DiesOnce(FileEncoder):
    """A FileEncoder whose first call, across all actors, SIGKILLs its own process (marked by a file)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        marker = Path(self.root).parent / "an-actor-was-killed"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return super().__call__(batch)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: SIGKILL cannot be caught")
