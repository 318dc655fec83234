"""Embed each distinct chunk text once: a per-run memory of vectors, backed by the vectors already stored.

The key is the sha256 of the text; the embedder fingerprint is implied, because the cache lives for one
embedder and the store it reads is stamped with that embedder's fingerprint (ChromaStore.open refuses any
other). Re-chunking, renaming a file or indexing a copy then costs lookups instead of forward passes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag_index.types import Embedder

MAX_REMEMBERED = 50_000  # vectors kept in memory (about 75 MB at 384 dimensions); older ones are dropped


class StoredVectors(Protocol):
    """Where vectors already computed can be found by text hash: a ChromaStore."""

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the texts with these hashes (the ones found)."""
        ...


def text_hash(text: str) -> str:
    """The cache key of a chunk text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Document vectors by text hash: memory first, then the store, then the embedder."""

    def __init__(self, embedder: Embedder, store: StoredVectors | None = None) -> None:
        self.embedder = embedder
        self.store = store
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self.embedded = 0  # texts that went through the model
        self.reused = 0  # texts whose vector came from memory or the store

    def vectors(self, texts: Sequence[str], hashes: Sequence[str] | None = None) -> np.ndarray:
        """Vectors of texts in order, embedding only texts not seen before."""
        keys = list(hashes) if hashes is not None else [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {k: self._memory[k] for k in keys if k in self._memory}
        unknown = [k for k in dict.fromkeys(keys) if k not in found]
        if unknown and self.store is not None:
            found.update(self.store.vectors_by_text_hash(unknown))
        first_text = dict(zip(keys, texts, strict=True))
        todo = [k for k in dict.fromkeys(keys) if k not in found]
        if todo:
            vectors = self.embedder.encode_documents([first_text[k] for k in todo])
            found.update(zip(todo, vectors, strict=True))
        self.embedded += len(todo)
        self.reused += len(keys) - len(todo)
        for key in keys:
            self._remember(key, found[key])
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._memory[key] = vector
        self._memory.move_to_end(key)
        if len(self._memory) > MAX_REMEMBERED:
            self._memory.popitem(last=False)
