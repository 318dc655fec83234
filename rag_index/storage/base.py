"""What every store of chunks offers the index run, verify and search: Chroma and the lexical index alike."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from rag_index.types import Chunk, ScoredChunk


def chroma_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Metadata Chroma accepts: scalar values only; None dropped, anything else as text.

    Integers outside int64 and non-finite floats, which Chroma rejects, are kept as text too.
    """
    flat: dict[str, str | int | float | bool] = {}
    for key, value in metadata.items():
        if value is None or not str(key):
            continue
        flat[str(key)] = value if _chroma_scalar(value) else json.dumps(value, default=str)
    return flat


def _chroma_scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def stored_metadata(chunk: Chunk) -> dict[str, str | int | float | bool]:
    """The metadata every store keeps for a chunk: its own, plus doc_id, as Chroma accepts it."""
    return chroma_metadata({**chunk.metadata, "doc_id": chunk.doc_id})


def document_of(metadata: Mapping[str, Any]) -> str | None:
    """The document a chunk belongs to: its file (``source``), else its ``doc_id``.

    A text added through the API has a doc_id of its own (``text:<id>``) unless its caller names one, so the
    turns of one conversation can count as one document. Search weighs every chunk's document on one scale.
    """
    document = metadata.get("source") or metadata.get("doc_id")
    return None if document is None else str(document)


def chunk_stores(store: ChunkStore, lexical: ChunkStore | None) -> list[ChunkStore]:
    """The stores every chunk of a collection is written to: the collection, then its lexical index."""
    return [store] if lexical is None else [store, lexical]


class DocumentScore(NamedTuple):
    """The BM25 of a query over a whole document, and how many chunks the document has."""

    bm25: float
    chunks: int


@dataclass(frozen=True)
class Query:
    """A query as each store needs it: the text (lexical search) and its vector (dense search)."""

    text: str
    vector: np.ndarray | None = None


class ChunkStore(Protocol):
    """A store of chunks kept in step with the manifest: written, deleted, listed and searched by id.

    Writes are idempotent (an upsert of the same id and values, a delete of an absent id), so the index
    run's crash-safe order (mark, write, delete, commit) covers every store the same way.
    """

    @property
    def label(self) -> str:
        """Where the store lives, for messages."""
        ...

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks (with their vectors, which a lexical store ignores)."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id; absent ids are ignored."""
        ...

    def ids(self) -> set[str]:
        """Every chunk id the store holds."""
        ...

    def search(
        self,
        query: Query,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The k best chunks for query, best first; scores are higher-is-better."""
        ...


class LexicalStore(ChunkStore, Protocol):
    """A ChunkStore searched by words that also scores whole documents (LexicalIndex.document_scores)."""

    def approximate_count(self) -> int:
        """About how many chunks the index holds (cheap: hybrid search asks it per query)."""
        ...

    def document_scores(self, query: Query, sources: Collection[str]) -> dict[str, DocumentScore]:
        """BM25 of the query over each of these documents as a whole, and the document's chunks."""
        ...

    def count_ahead(self, query: Query) -> None:
        """Prepare what document_scores will need of the whole index for query (before its candidates)."""
        ...
