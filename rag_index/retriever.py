"""Retriever: embeds a query and asks the store for the nearest chunks."""

from __future__ import annotations

from typing import Any

from rag_index.store import ChromaStore
from rag_index.types import Embedder, ScoredChunk


class Retriever:
    """Serves the k most similar chunks for a query text."""

    def __init__(self, embedder: Embedder, store: ChromaStore, k: int = 5) -> None:
        self.embedder = embedder
        self.store = store
        self.k = k

    def search(
        self,
        query: str,
        k: int | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """Chunks ranked by similarity to query, best first (score: higher is more similar)."""
        vector = self.embedder.encode_queries([query])[0]
        return self.store.query(vector, k or self.k, where=where, where_document=where_document)
