"""LangChain adapters: PoolingEmbeddings (Embeddings), RagIndexRetriever (BaseRetriever), format_docs.

They only translate between LangChain's types and the core (PoolingEmbedder, Retriever, format_context):
every rule about prefixes, search types, scores and citations lives in the core.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, model_validator

from rag_index.build import build_embedder, build_lexical, build_retriever, build_store
from rag_index.config import EmbedderConfig, RetrievalConfig, load_config
from rag_index.search.context import format_context
from rag_index.search.retriever import Retriever
from rag_index.storage.base import ChunkStore
from rag_index.storage.chroma import ChromaStore
from rag_index.types import Embedder, ScoredChunk

__all__ = ["PoolingEmbeddings", "RagIndexRetriever", "format_docs", "shared_embedder", "to_document"]


@functools.lru_cache(maxsize=4)
def _load_embedder(settings: str) -> Embedder:
    return build_embedder(EmbedderConfig.model_validate_json(settings))


def shared_embedder(config: EmbedderConfig) -> Embedder:
    """The embedder a config describes, loaded once per process and shared by every adapter built from it.

    LangChain code (and its standard tests) creates Embeddings and retrievers freely; loading the model
    each time would cost seconds and a copy of the weights. Encoding only reads the weights, so sharing
    one embedder is safe. Pass an embedder explicitly to bypass the cache.
    """
    return _load_embedder(config.model_dump_json())  # a hashable key; fields come in a fixed order


class PoolingEmbeddings(Embeddings):
    """LangChain Embeddings over a PoolingEmbedder: document prefix for documents, query prefix for queries.

    ``PoolingEmbeddings()`` uses the default model; keyword arguments are `embedder:` config keys
    (``PoolingEmbeddings(pooling="cls", device="cpu")``); ``PoolingEmbeddings(embedder=e)`` wraps a
    loaded embedder. The async methods are LangChain's defaults (the sync ones in a thread executor).
    """

    def __init__(self, embedder: Embedder | None = None, **settings: Any) -> None:
        if embedder is not None and settings:
            raise TypeError("give either an embedder or embedder settings, not both")
        self.embedder = embedder if embedder is not None else shared_embedder(EmbedderConfig(**settings))

    @classmethod
    def from_config(cls, path: str | Path | None = None, overrides: Sequence[str] = ()) -> PoolingEmbeddings:
        """The embeddings of a config file's `embedder:` section (and --set style overrides)."""
        return cls(shared_embedder(load_config(path, tuple(overrides)).embedder))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of documents, with the document prefix."""
        return self.embedder.encode_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Vector of a query, with the query prefix."""
        return self.embedder.encode_queries([text])[0].tolist()


def to_document(hit: ScoredChunk) -> Document:
    """A retrieved chunk as a LangChain Document: its text, stored metadata, chunk_id and score."""
    return Document(
        id=hit.id, page_content=hit.text, metadata={**hit.metadata, "chunk_id": hit.id, "score": hit.score}
    )


def format_docs(docs: Sequence[Document]) -> str:
    """Documents as a context block with numbered citations, '[1] handbook.pdf p.3' (for LCEL chains)."""
    return format_context((doc.page_content, doc.metadata) for doc in docs)


class RagIndexRetriever(BaseRetriever):
    """LangChain retriever over a rag-index collection, returning Documents with their score.

    Build it with ``from_config(path, overrides)``, ``from_components(embedder, store)`` or
    ``RagIndexRetriever(retriever=core_retriever)``. Options left as None keep the core retriever's own
    (from `retrieval:` in the config); any of them can also be given per call:
    ``retriever.invoke(question, k=3, where={"source": "faq.txt"})``.

    Metadata of each Document: the chunk's stored metadata (source, page for PDFs, start, end,
    chunk_index, doc_id, content_hash, format, ...) plus ``chunk_id`` and ``score``. Scores are
    similarities, higher is more similar, whatever the store's distance (see rag_index.search.retriever).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", validate_assignment=True)

    retriever: Retriever
    k: int | None = None
    search_type: str | None = None
    fetch_k: int | None = None
    lambda_mult: float | None = None
    score_threshold: float | None = None
    fusion: str | None = None
    rrf_k: int | None = None
    alpha: float | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_options(self) -> RagIndexRetriever:
        # The core checks the combination now, so a bad option fails where it is written, not at query time.
        self._configured()
        return self

    def _configured(self) -> Retriever:
        # Resolved per call, not cached, so that options changed after construction are honoured.
        # None keeps the core retriever's own value; the core checks the rest.
        return self.retriever.replace(**{name: getattr(self, name) for name in RetrievalConfig.model_fields})

    @classmethod
    def from_components(
        cls, embedder: Embedder, store: ChromaStore, lexical: ChunkStore | None = None, **options: Any
    ) -> RagIndexRetriever:
        """A retriever over an existing collection; refuses one built with another embedder.

        Hybrid with a lexical index, similarity search without one (options can say otherwise).
        """
        store.open(embedder.fingerprint, create=False)
        search_type = "hybrid" if lexical is not None else "similarity"
        return cls(retriever=Retriever(embedder, store, lexical=lexical, search_type=search_type), **options)

    @classmethod
    def from_config(
        cls, path: str | Path | None = None, overrides: Sequence[str] = (), **options: Any
    ) -> RagIndexRetriever:
        """The retriever a config file describes (embedder, store and `retrieval:` section)."""
        config = load_config(path, tuple(overrides))
        embedder = shared_embedder(config.embedder)
        store = build_store(config.store)
        store.open(embedder.fingerprint, create=False)
        lexical = build_lexical(config.lexical, store)
        return cls(retriever=build_retriever(config.retrieval, embedder, store, lexical), **options)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        search = {"where": self.where, "where_document": self.where_document, **kwargs}
        return [to_document(hit) for hit in self._configured().search(query, **search)]
