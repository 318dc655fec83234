"""On-disk cache of evaluation results, keyed by the full fingerprint of what produced them."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hash of a JSON-ready fingerprint (dataset, split, embedder, chunker, metrics)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class EvalCache:
    """One JSON file per result (with its fingerprint inside, for humans), plus optional arrays."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: dict[str, Any], suffix: str) -> Path:
        return self.directory / f"{cache_key(key)}{suffix}"

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The stored result for key, or None when there is none."""
        path = self._path(key, ".json")
        if not path.is_file():
            return None
        entry = json.loads(path.read_text(encoding="utf-8"))
        return entry["result"] if entry.get("key") == json.loads(json.dumps(key, default=str)) else None

    def put(
        self, key: dict[str, Any], result: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store result (and arrays such as idf weights beside it); written atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, array in (arrays or {}).items():
            np.save(self._path(key, f".{name}.npy"), array)
        path = self._path(key, ".json")
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"key": key, "result": result}, default=str), encoding="utf-8")
        partial.replace(path)  # readers never see half a file

    def get_arrays(self, key: dict[str, Any], names: Sequence[str]) -> dict[str, np.ndarray] | None:
        """The arrays stored under key by put_arrays, or None unless every one of names is there."""
        paths = {name: self._path(key, f".{name}.npy") for name in names}
        if not all(path.is_file() for path in paths.values()):
            return None
        try:
            return {name: np.load(path) for name, path in paths.items()}
        except (OSError, ValueError):
            return None  # a damaged cache entry is recomputed, not fatal

    def put_arrays(self, key: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Store arrays under key (a forward pass's vectors); each written atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            path = self._path(key, f".{name}.npy")
            partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(partial, array)
            partial.replace(path)
