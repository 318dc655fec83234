"""Texts written, updated and deleted through the API (agent memory), beside the indexed folders.

Every write follows the rules of an index run: the store's lock (waiting up to a bound), the fingerprint
guard, the crash-safe write order of rag_index/storage/writer.py with its checkpoints, and the lexical
index if one is kept. A write first finishes any text write an earlier process left interrupted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag_index.index.run import open_manifest, prepare, store_lock
from rag_index.index.texts import finish_interrupted, text_records, text_settings, write_texts
from rag_index.storage.base import ChunkStore, chunk_stores
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalIndex
from rag_index.storage.manifest import text_source
from rag_index.storage.writer import Checkpoint, ChunkWriter, no_checkpoint
from rag_index.types import Chunk, Embedder

WRITE_WAIT = 10.0  # seconds a text write waits for another writer (an index run) before it fails


@dataclass
class TextWriter:
    """Adds, replaces and deletes texts in a collection and its lexical index, crash-safely."""

    embedder: Embedder
    store: ChromaStore
    lexical: LexicalIndex | None = None
    checkpoint: Checkpoint = no_checkpoint

    @property
    def stores(self) -> list[ChunkStore]:
        """Every store a chunk is written to: the collection, then its lexical index."""
        return chunk_stores(self.store, self.lexical)

    def vectors_of(self, chunks: list[Chunk]) -> np.ndarray:
        """The vectors of texts' chunks, embedded as documents."""
        return self.embedder.encode_documents([c.text for c in chunks])

    @contextlib.contextmanager
    def session(self, wait: float) -> Iterator[tuple[ChunkWriter, str]]:
        """Hold the lock, open the collection (creating it) and finish interrupted text writes."""
        fingerprint = self.embedder.fingerprint
        with store_lock(self.store, wait), contextlib.closing(open_manifest(self.store)) as manifest:
            prepare(self.store, self.lexical, manifest, fingerprint, checkpoint=self.checkpoint)
            writer = ChunkWriter(manifest, self.stores, self.checkpoint)
            settings = text_settings(fingerprint)
            finish_interrupted(manifest, writer, settings, self.vectors_of)
            yield writer, settings

    def create(self, wait: float = WRITE_WAIT) -> None:
        """Create the collection if it does not exist (and finish interrupted text writes)."""
        with self.session(wait):
            pass

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        wait: float = WRITE_WAIT,
    ) -> list[str]:
        """Add texts (replacing those with the same ids); returns their ids, in order."""
        records = text_records(texts, metadatas, ids)
        if not records:
            return []
        with self.session(wait) as (writer, settings):
            write_texts(writer, records, settings, self.vectors_of)
        return [record.id for record in records]

    def delete(self, ids: Sequence[str], wait: float = WRITE_WAIT) -> list[str]:
        """Delete texts by id; returns the ids that were texts (others, and files' chunks, are left alone)."""
        with self.session(wait) as (writer, _):
            known = writer.manifest.entries(text_source(str(id_)) for id_ in ids)
            writer.forget(list(known))
        return [source.split(":", 1)[1] for source in known]
