"""The crash-safe write order, shared by every writer (index runs, verify --repair) and every store.

Every change follows one order, so a process killed at any instant leaves a state the next run repairs:

1. the manifest marks the source *not done* and lists its old and new chunk ids;
2. the new chunks are written to every store (upserts of content-addressed ids are idempotent);
3. the old chunks that the new version does not share are deleted from every store;
4. the manifest records the source as done with exactly its new ids.

Removing a source is 1, delete, then forget it. A not-done entry is never taken as indexed: the next run
redoes it, or removes everything it lists when its file is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rag_index.storage.base import ChunkStore
from rag_index.storage.manifest import Entry, Manifest, TextRecord, is_text
from rag_index.types import Chunk

WRITE_BATCH = 256  # chunks embedded and written together: bounds memory, keeps the encoder busy

# Called with the name of each point the writer passes (begun, upserted, written, deleted, committed,
# pruning, pruned). Production passes nothing; crash tests inject one that kills the process there.
Checkpoint = Callable[[str], None]


def no_checkpoint(point: str) -> None:
    """The default checkpoint: nothing happens."""


@dataclass
class SourceChange:
    """A source's new state: its chunks, or why it has none."""

    source: str
    root: str
    content_hash: str
    settings: str
    chunks: list[Chunk]
    skip_reason: str | None = None


class ChunkWriter:
    """Replaces and removes the chunks of sources in the manifest and every store, in the crash-safe order."""

    def __init__(
        self, manifest: Manifest, stores: Sequence[ChunkStore], checkpoint: Checkpoint = no_checkpoint
    ) -> None:
        self.manifest = manifest
        self.stores = list(stores)
        self.checkpoint = checkpoint

    def replace(
        self,
        changes: Sequence[SourceChange],
        vectors_of: Callable[[list[Chunk]], np.ndarray],
        written: Callable[[int], None] = lambda count: None,
        texts: Sequence[TextRecord] = (),
    ) -> int:
        """Write the changes' chunks (vectors_of embeds a batch), drop what they replace: ids dropped.

        texts: the texts (added through the API) the changes write, recorded in the manifest as step 1.
        """
        listed = self.manifest.begin(
            ((c.source, c.root, c.settings, [k.id for k in c.chunks]) for c in changes), texts
        )
        self.checkpoint("begun")
        chunks = [chunk for change in changes for chunk in change.chunks]
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[start : start + WRITE_BATCH]
            vectors = vectors_of(batch)
            for store in self.stores:
                store.upsert(batch, vectors)
                self.checkpoint("upserted")
            written(len(batch))
            self.checkpoint("written")
        stale: list[str] = []
        for change in changes:
            new_ids = {chunk.id for chunk in change.chunks}
            stale.extend(id_ for id_ in listed[change.source] if id_ not in new_ids)
        self._delete(stale)
        self.checkpoint("deleted")
        self.manifest.commit(
            Entry(
                c.source,
                c.root,
                c.content_hash,
                c.settings,
                tuple(dict.fromkeys(k.id for k in c.chunks)),
                c.skip_reason,
            )
            for c in changes
        )
        self.checkpoint("committed")
        return len(stale)

    def forget(self, sources: Iterable[str]) -> int:
        """Delete every chunk the manifest lists for sources, then forget them; returns ids deleted.

        A text (``text:<id>``) is forgotten in step 1, so an interrupted delete is finished, not undone.
        """
        sources = list(sources)
        entries = self.manifest.entries(sources)
        gone = [entries[source] for source in sources]
        if not gone:
            return 0
        dropped = [e.source for e in gone if is_text(e.source)]
        self.manifest.begin(((e.source, e.root, e.settings, ()) for e in gone), dropped=dropped)
        self.checkpoint("pruning")
        ids = [id_ for entry in gone for id_ in entry.chunk_ids]
        self._delete(ids)
        self.manifest.remove(e.source for e in gone)
        self.checkpoint("pruned")
        return len(ids)

    def _delete(self, ids: list[str]) -> None:
        for store in self.stores:
            store.delete(ids)
