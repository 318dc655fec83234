"""LangChain adapters: PoolingEmbeddings (Embeddings), RagIndexRetriever (BaseRetriever),
RagIndexVectorStore (VectorStore), format_docs.

They only translate between LangChain's types and the core (PoolingEmbedder, Retriever, RagIndex,
format_context): every rule about prefixes, search types, scores, citations and writes lives in the core.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
from pydantic import ConfigDict, model_validator

from rag_index.build import build_embedder, build_lexical, build_retriever, build_store
from rag_index.config import EmbedderConfig, RetrievalConfig, load_config
from rag_index.index.texts import caller_metadata
from rag_index.search.context import format_context
from rag_index.search.options import SEARCH_TYPES
from rag_index.search.retriever import Retriever
from rag_index.storage.base import LexicalStore
from rag_index.storage.chroma import ChromaStore
from rag_index.types import Chunk, Embedder, ScoredChunk

__all__ = [
    "EmbeddingsEmbedder",
    "MemoryIndex",
    "PoolingEmbeddings",
    "RagIndexRetriever",
    "RagIndexVectorStore",
    "format_docs",
    "shared_embedder",
    "to_document",
]


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


@runtime_checkable
class Searcher(Protocol):
    """What RagIndexRetriever searches with: the core Retriever, or a served index (RagIndex.remote)."""

    def replace(self, **options: Any) -> Searcher:
        """A copy with some retrieval options changed (checked)."""
        ...

    def search(self, query: str, **options: Any) -> list[ScoredChunk]:
        """The best chunks for query."""
        ...


class RagIndexRetriever(BaseRetriever):
    """LangChain retriever over a rag-index collection, returning Documents with their score.

    Build it with ``from_config(path, overrides)``, ``from_components(embedder, store)`` or
    ``RagIndexRetriever(retriever=core_retriever)``, or over a running server with
    ``RagIndex.remote(url).as_retriever()``. Options left as None keep the core retriever's own
    (from `retrieval:` in the config); any of them can also be given per call:
    ``retriever.invoke(question, k=3, where={"source": "faq.txt"})``.

    Metadata of each Document: the chunk's stored metadata (source, page for PDFs, start, end,
    chunk_index, doc_id, content_hash, format, ...) plus ``chunk_id`` and ``score``. Scores are
    similarities, higher is more similar, whatever the store's distance (see rag_index.search.retriever).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", validate_assignment=True)

    retriever: Searcher
    k: int | None = None
    search_type: str | None = None
    fetch_k: int | None = None
    lambda_mult: float | None = None
    score_threshold: float | None = None
    fusion: str | None = None
    rrf_k: int | None = None
    alpha: float | None = None
    lexical_ramp: int | None = None
    document_weight: float | None = None
    recency_decay: float | None = None
    neighbours: int | None = None
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_options(self) -> RagIndexRetriever:
        # The core checks the combination now, so a bad option fails where it is written, not at query time.
        self._configured()
        return self

    def _configured(self) -> Searcher:
        # Resolved per call, not cached, so that options changed after construction are honoured.
        # None keeps the core retriever's own value; the core checks the rest.
        return self.retriever.replace(**{name: getattr(self, name) for name in RetrievalConfig.model_fields})

    @classmethod
    def from_components(
        cls, embedder: Embedder, store: ChromaStore, lexical: LexicalStore | None = None, **options: Any
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


# --- the VectorStore --------------------------------------------------------------------------------


class MemoryIndex(Protocol):
    """What RagIndexVectorStore needs from the index it adapts (rag_index.RagIndex has all of it)."""

    @property
    def embedder(self) -> Embedder | None:
        """The index's embedder (None: it embeds elsewhere, as a remote index does)."""
        ...

    def create(self) -> None:
        """Create the collection if it does not exist yet."""
        ...

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Add (or replace) texts; their ids, in order."""
        ...

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete texts by id; the ids found."""
        ...

    def get_by_ids(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in order."""
        ...

    def search(self, query: str, k: int | None = None, **options: Any) -> list[ScoredChunk]:
        """The best chunks for a query."""
        ...

    def search_by_vector(self, vector: np.ndarray, k: int | None = None, **options: Any) -> list[ScoredChunk]:
        """The best chunks for a query vector."""
        ...


class EmbeddingsEmbedder:
    """Any LangChain Embeddings as an Embedder, so an index can embed with it (from_texts)."""

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        self.truncated = 0  # the Embeddings truncate (or not) on their own
        self._dimension: int | None = None

    @property
    def max_content_tokens(self) -> int:
        """Texts are not chunked by this adapter's measure: a large bound."""
        return 1_000_000

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The Embeddings' class and the vectors' dimension (measured once on a probe text)."""
        if self._dimension is None:
            self._dimension = len(self.embeddings.embed_query("dimension"))
        kind = type(self.embeddings)
        return {"model": f"langchain:{kind.__module__}.{kind.__qualname__}", "dimension": self._dimension}

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Words and punctuation, as a stand-in tokenizer (only chunkers of files use it)."""
        return [match.span() for match in re.finditer(r"\w+|[^\w\s]", text)]

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of documents (embed_documents)."""
        return np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32).reshape(
            len(texts), -1
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of queries (embed_query each)."""
        return np.asarray([self.embeddings.embed_query(t) for t in texts], dtype=np.float32).reshape(
            len(texts), -1
        )


def as_embedder(embeddings: Embeddings) -> Embedder:
    """The Embedder behind LangChain Embeddings: PoolingEmbeddings' own, else an EmbeddingsEmbedder."""
    return (
        embeddings.embedder if isinstance(embeddings, PoolingEmbeddings) else EmbeddingsEmbedder(embeddings)
    )


def _memory_document(chunk: Chunk | ScoredChunk) -> Document:
    # A text's metadata as its caller gave it (LangChain's round trip); a file chunk's as stored.
    return Document(id=chunk.id, page_content=chunk.text, metadata=caller_metadata(chunk.metadata))


def _search_options(k: int, filter: dict[str, Any] | None, options: dict[str, Any]) -> dict[str, Any]:
    # LangChain's `filter` is the core's `where`; every other keyword is a core search option.
    where = options.pop("where", None) or filter
    return {"k": k, "where": where, **options}


class RagIndexVectorStore(VectorStore):
    """LangChain VectorStore over a RagIndex: texts added, updated and deleted beside indexed folders.

    ``RagIndex(...).as_vectorstore()``, or ``RagIndexVectorStore(index)``. Writes follow the index's rules
    (store lock, fingerprint guard, crash-safe order, lexical index); searches see texts and files'
    chunks alike. Documents carry the metadata their caller gave (rag-index's ``created_at`` is kept in
    the store, visible through RagIndex.search and usable in filters). Scores are similarities, higher
    is more similar. ``filter`` is a Chroma ``where``; every core search option (search_type, fetch_k,
    where_document, ...) may be passed as a keyword. The async methods are LangChain's defaults.
    """

    def __init__(self, index: MemoryIndex) -> None:
        self.index = index
        index.create()  # a vector store is ready to write and search once built, as LangChain's Chroma is

    @property
    def embeddings(self) -> Embeddings | None:
        """The index's embedder, as LangChain Embeddings (None for a remote index: the server embeds)."""
        embedder = self.index.embedder
        return None if embedder is None else PoolingEmbeddings(embedder=embedder)

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add texts (replacing those with the same ids); their ids (uuid5 of text and metadata if absent)."""
        return self.index.add_texts(list(texts), metadatas, ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete texts by id (files' chunks are left to `rag-index index`); ids are required."""
        if ids is None:
            raise ValueError("delete needs the ids of the texts to delete")
        self.index.delete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The Documents with these ids, in the order asked; unknown ids are left out."""
        return [_memory_document(chunk) for chunk in self.index.get_by_ids(ids)]

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Documents for a query by any search type of the core (lexical and hybrid too)."""
        k = kwargs.pop("k", 4)
        options = _search_options(k, kwargs.pop("filter", None), {**kwargs, "search_type": search_type})
        return [_memory_document(hit) for hit in self.index.search(query, **options)]

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The k Documents most similar to the query."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The k Documents most similar to the query, with their similarity."""
        options = _search_options(k, filter, {"search_type": "similarity", **kwargs})
        return [(_memory_document(hit), hit.score) for hit in self.index.search(query, **options)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: score  # the core's scores are already similarities, higher is better

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The k Documents nearest to a query vector."""
        options = _search_options(k, filter, {"search_type": "similarity", **kwargs})
        hits = self.index.search_by_vector(np.asarray(embedding, dtype=np.float32), **options)
        return [_memory_document(hit) for hit in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """k Documents picked by maximal marginal relevance among the fetch_k most similar."""
        mmr = {"search_type": "mmr", "fetch_k": max(fetch_k, k), "lambda_mult": lambda_mult, **kwargs}
        return [_memory_document(hit) for hit in self.index.search(query, **_search_options(k, filter, mmr))]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """As max_marginal_relevance_search, for a query vector."""
        mmr = {"search_type": "mmr", "fetch_k": max(fetch_k, k), "lambda_mult": lambda_mult, **kwargs}
        vector = np.asarray(embedding, dtype=np.float32)
        return [
            _memory_document(hit)
            for hit in self.index.search_by_vector(vector, **_search_options(k, filter, mmr))
        ]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> RagIndexVectorStore:
        """A vector store holding texts: ``from_texts(texts, embeddings, index=RagIndex, store={...})``.

        ``index``: a RagIndex (it embeds with its own embedder), or a factory such as the RagIndex class,
        called with ``embedder=`` the embedding's Embedder and the other keywords (config overrides).
        """
        index = kwargs.pop("index", None)
        if index is None:
            raise TypeError(
                "from_texts needs index=: a RagIndex, or a factory such as RagIndex (with overrides)"
            )
        if isinstance(index, type) or not hasattr(index, "add_texts"):
            index = index(embedder=as_embedder(embedding), **kwargs)
        store = cls(index)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def as_retriever(self, **kwargs: Any) -> RagIndexVectorStoreRetriever:
        """A retriever over this store, with any search type of the core (lexical and hybrid too)."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return RagIndexVectorStoreRetriever(vectorstore=self, tags=tags, **kwargs)


class RagIndexVectorStoreRetriever(VectorStoreRetriever):
    """VectorStoreRetriever of a RagIndexVectorStore: every core search type, through its search()."""

    allowed_search_types: ClassVar[Collection[str]] = SEARCH_TYPES

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self.vectorstore.search(query, self.search_type, **(self.search_kwargs | kwargs))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return await run_in_executor(
            None, self.vectorstore.search, query, self.search_type, **(self.search_kwargs | kwargs)
        )
