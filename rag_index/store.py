"""Chroma wrapper: a collection stamped with the embedder's fingerprint, batched writes, scored queries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag_index.types import Chunk, ScoredChunk

FINGERPRINT_KEY = "rag_index_fingerprint"


class StoreError(Exception):
    """A store that cannot be used as asked (missing, or built with another embedder)."""


def _distance_to_score(distance: float, space: str) -> float:
    # Chroma returns distances; users want "higher is more similar". For cosine and ip Chroma's
    # distance is 1 - similarity; for l2 it is the squared distance, 2 - 2*cos for unit vectors.
    if space == "l2":
        return 1.0 - distance / 2.0
    return 1.0 - distance


def chroma_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Metadata Chroma accepts: scalar values only; None dropped, anything else as text."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        flat[str(key)] = (
            value if isinstance(value, str | int | float | bool) else json.dumps(value, default=str)
        )
    return flat


class ChromaStore:
    """One Chroma collection on disk (embedded PersistentClient), or through a client given to it."""

    def __init__(self, path: str, collection: str, distance: str = "cosine", client: Any = None) -> None:
        self.path = path
        self.name = collection
        self.distance = distance
        self._client = client
        self._collection: Any = None

    @property
    def client(self) -> Any:
        """The Chroma client, created on first use (an embedded PersistentClient at path)."""
        if self._client is None:
            import chromadb

            self._client = chromadb.PersistentClient(path=self.path)
        return self._client

    def _missing(self) -> StoreError:
        return StoreError(f"no collection {self.name!r} at {self.path}; run `rag-index index PATH` first")

    def _existing(self) -> Any:
        from chromadb.errors import NotFoundError

        if self._client is None and not Path(self.path).exists():
            return None  # do not create an empty store just to look into it
        try:
            return self.client.get_collection(self.name)
        except NotFoundError:
            return None

    def stored_fingerprint(self) -> dict[str, Any] | None:
        """The fingerprint the collection was built with, or None when there is no collection yet."""
        collection = self._existing()
        if collection is None:
            return None
        return json.loads((collection.metadata or {}).get(FINGERPRINT_KEY, "null"))

    def open(self, fingerprint: dict[str, Any], create: bool = True, recreate: bool = False) -> None:
        """Open the collection for this fingerprint; refuse one built with another (unless recreate)."""
        stored = self.stored_fingerprint()
        if stored is not None and stored != fingerprint and not recreate:
            raise StoreError(
                f"collection {self.name!r} at {self.path} was built with a different embedder:\n"
                f"  stored:  {json.dumps(stored, sort_keys=True)}\n"
                f"  current: {json.dumps(fingerprint, sort_keys=True)}\n"
                "re-index with --recreate, or use the settings it was built with"
            )
        exists = self._existing() is not None
        if recreate and exists:
            self.client.delete_collection(self.name)
        elif not create and not exists:
            raise self._missing()
        self._collection = self.client.get_or_create_collection(
            self.name,
            configuration={"hnsw": {"space": self.distance}},
            metadata={FINGERPRINT_KEY: json.dumps(fingerprint, sort_keys=True)},
            embedding_function=None,
        )

    def attach(self) -> None:
        """Open the existing collection as it is, for reading its contents."""
        self._collection = self._existing()
        if self._collection is None:
            raise self._missing()

    @property
    def collection(self) -> Any:
        """The open Chroma collection."""
        if self._collection is None:
            raise StoreError("the store is not open; call open(fingerprint) first")
        return self._collection

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks with their vectors, in batches below Chroma's maximum batch size."""
        step = self.client.get_max_batch_size()
        for start in range(0, len(chunks), step):
            batch = chunks[start : start + step]
            self.collection.upsert(
                ids=[chunk.id for chunk in batch],
                embeddings=vectors[start : start + step],
                documents=[chunk.text for chunk in batch],
                metadatas=[chroma_metadata({**chunk.metadata, "doc_id": chunk.doc_id}) for chunk in batch],
            )

    def query(
        self,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The k chunks nearest to vector, best first."""
        result = self.collection.query(
            query_embeddings=vector.reshape(1, -1),
            n_results=k,
            where=where,
            where_document=where_document,
            include=["documents", "metadatas", "distances"],
        )
        return [
            ScoredChunk(
                id=id_,
                text=text or "",
                score=_distance_to_score(dist, self.distance),
                metadata=dict(meta or {}),
            )
            for id_, text, meta, dist in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    def count(self) -> int:
        """Number of chunks in the collection."""
        return int(self.collection.count())

    def sources(self) -> dict[str, int]:
        """Chunk count per source file."""
        counts: dict[str, int] = {}
        total, step = self.count(), self.client.get_max_batch_size()
        for offset in range(0, total, step):
            page = self.collection.get(include=["metadatas"], limit=step, offset=offset)
            for meta in page["metadatas"]:
                source = str((meta or {}).get("source", "?"))
                counts[source] = counts.get(source, 0) + 1
        return dict(sorted(counts.items()))
