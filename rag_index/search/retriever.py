"""Retriever: embeds a query and asks the stores for the best chunks (dense, lexical, or both fused)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from rag_index.errors import StoreError
from rag_index.search.fusion import fuse, lexical_weight
from rag_index.search.mmr import mmr_select
from rag_index.search.neighbours import expand
from rag_index.search.options import RetrievalConfig
from rag_index.search.recency import with_recency
from rag_index.settings import validated
from rag_index.storage.base import DocumentScore, LexicalStore, Query, document_of
from rag_index.storage.chroma import ChromaStore
from rag_index.types import Embedder, ScoredChunk

DENSE = ("similarity", "mmr", "similarity_score_threshold", "hybrid")  # search types that embed the query
LEXICAL = ("lexical", "hybrid")  # search types that need the lexical index
log = logging.getLogger(__name__)
DENSE_FALLBACK = "until then hybrid search answers from the dense side"  # said after a damaged index's error
# A hybrid search runs its BM25 side here while the query is embedded (the encoder releases the GIL): about
# 4 ms of a 30 ms search on 2 cores. Shared by every retriever; a server's concurrent searches each get one.
_LEXICAL_AHEAD = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-index-lexical")


def weighs_documents(opts: RetrievalConfig) -> bool:
    """Whether a hybrid search with opts fuses document scores in (rrf fuses ranks, not scores)."""
    return bool(opts.document_weight) and opts.fusion != "rrf"


class Retriever:
    """Serves the best chunks for a query text.

    Dense scores are similarities, higher is more similar, for every store distance: cosine similarity
    for ``cosine``, the inner product for ``ip``, and ``1 - d²/2`` (the cosine for unit vectors) for
    ``l2``. Search types:

    - ``similarity``: the k nearest chunks, best first.
    - ``mmr``: fetch_k nearest chunks, then k of them picked by maximal marginal relevance
      (lambda_mult: 1 = relevance only, 0 = diversity only); each keeps its similarity score.
    - ``similarity_score_threshold``: the k nearest chunks whose score is at least score_threshold.
    - ``lexical``: the k best chunks by BM25 over the lexical index; the score is BM25.
    - ``hybrid``: fetch_k chunks from each side, fused (``fusion``: rrf, or convex and dbsf with
      ``alpha``, less in an index of few chunks (``lexical_ramp``); these two also weigh each chunk's
      document as a whole, by ``document_weight`` and the document's chunks: see
      rag_index.search.fusion); the score is the fused one, and each hit's
      metadata says its dense and lexical score and rank, and its document's score and share.

    ``where`` and ``where_document`` filters apply to every side. With ``recency_decay`` set, any search
    type fetches max(k, fetch_k) candidates and ranks them by score + (1 - recency_decay) ** hours since
    their ``created_at`` (texts added through the API; see rag_index.search.recency). With ``neighbours``
    n > 0, each hit's text is widened by up to n chunks on each side in its document, after ranking
    (see rag_index.search.neighbours).
    """

    def __init__(
        self,
        embedder: Embedder,
        store: ChromaStore,
        k: int = 5,
        *,
        lexical: LexicalStore | None = None,
        **options: Any,
    ) -> None:
        """options are the `retrieval:` config keys (search_type, fetch_k, ...), checked the same way."""
        self.embedder = embedder
        self.store = store
        self.lexical = lexical
        self.options = validated(RetrievalConfig, {"k": k, **options}, "retrieval.")
        if lexical is None and self.options.search_type in LEXICAL:
            self._lexical()  # fail here, where the retriever is made, rather than at the first query

    def __getattr__(self, name: str) -> Any:
        # retriever.k, retriever.search_type, ...: the options, read-only
        if name != "options" and name in RetrievalConfig.model_fields:
            return getattr(self.options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def replace(self, **options: Any) -> Retriever:
        """A copy with some options changed (checked)."""
        merged = self._merged(options).model_dump()
        return Retriever(self.embedder, self.store, lexical=self.lexical, **merged)

    def _merged(self, options: dict[str, Any]) -> RetrievalConfig:
        given = {key: value for key, value in options.items() if value is not None}
        return validated(RetrievalConfig, {**self.options.model_dump(), **given}, "retrieval.")

    def search(
        self,
        query: str,
        k: int | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[ScoredChunk]:
        """The best chunks for query (see the class); options left out are the retriever's own."""
        opts = self._merged({"k": k, **options})
        ahead: Future[list[ScoredChunk]] | None = None
        if opts.search_type == "hybrid" and opts.recency_decay is None and self.lexical is not None:
            filters = {"where": where or None, "where_document": where_document or None}
            ahead = _LEXICAL_AHEAD.submit(self._lexical_side, Query(query, None), opts, filters)
        try:
            vector = self.embedder.encode_queries([query])[0] if opts.search_type in DENSE else None
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        hits = self._search(Query(query, vector), opts, where, where_document, ahead)
        return self._widened(hits, opts, where)

    def search_query(
        self,
        query: Query,
        k: int | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[ScoredChunk]:
        """As search, for a query whose vector is already computed (evaluation embeds queries in batches)."""
        opts = self._merged({"k": k, **options})
        return self._widened(self._search(query, opts, where, where_document), opts, where)

    def _widened(
        self, hits: list[ScoredChunk], opts: RetrievalConfig, where: dict[str, Any] | None
    ) -> list[ScoredChunk]:
        # Neighbours obey the query's metadata filter (a namespace must confine them) but not where_document:
        # that one picks the matching chunks, and a neighbour is their context, not a match.
        return expand(hits, opts.neighbours, self.store.get_where, where or None)

    def _search(
        self,
        query: Query,
        opts: RetrievalConfig,
        where: dict[str, Any] | None,
        where_document: dict[str, Any] | None,
        lexical_ahead: Future[list[ScoredChunk]] | None = None,
    ) -> list[ScoredChunk]:
        """lexical_ahead: the hybrid search's BM25 side, already under way (see search)."""
        if opts.recency_decay is not None:
            candidates = opts.model_copy(update={"k": max(opts.k, opts.fetch_k), "recency_decay": None})
            hits = self._search(query, candidates, where, where_document)
            return with_recency(hits, opts.recency_decay)[: opts.k]
        # Chroma rejects an empty filter ({}), which callers use to mean "no filter".
        filters = {"where": where or None, "where_document": where_document or None}
        if opts.search_type == "lexical":
            return self._lexical().search(query, opts.k, **filters)
        if opts.search_type == "hybrid":
            dense = self.store.search(query, opts.fetch_k, **filters)
            weigh = weighs_documents(opts)
            try:
                if lexical_ahead is not None:
                    lexical = lexical_ahead.result()
                else:
                    lexical = self._lexical().search(query, opts.fetch_k, **filters)
                documents = self._document_scores(query, [*dense, *lexical]) if weigh else None
                alpha = opts.alpha
                if opts.fusion != "rrf" and opts.lexical_ramp:
                    alpha = lexical_weight(alpha, self._lexical().approximate_count(), opts.lexical_ramp)
            except StoreError as err:  # damaged derived state: the dense side still answers
                log.warning("%s; %s", err, DENSE_FALLBACK)
                return dense[: opts.k]
            fused = fuse(dense, lexical, opts.fusion, opts.rrf_k, alpha, documents, opts.document_weight)
            return fused[: opts.k]
        if query.vector is None:
            raise ValueError(f"search_type {opts.search_type!r} needs the query's vector")
        if opts.search_type == "mmr":
            found, vectors = self.store.query(query.vector, opts.fetch_k, with_embeddings=True, **filters)
            return [found[i] for i in mmr_select(query.vector, vectors, opts.k, opts.lambda_mult)]
        hits = self.store.search(query, opts.k, **filters)
        if opts.search_type == "similarity_score_threshold":
            threshold = opts.score_threshold
            return [hit for hit in hits if threshold is not None and hit.score >= threshold]
        return hits

    def _lexical_side(
        self, query: Query, opts: RetrievalConfig, filters: dict[str, Any]
    ) -> list[ScoredChunk]:
        """The BM25 side of a hybrid search, and the index-wide counts its document scores will need."""
        lexical = self._lexical()
        hits = lexical.search(query, opts.fetch_k, **filters)
        if weighs_documents(opts):
            lexical.count_ahead(query)
        return hits

    def _document_scores(self, query: Query, hits: list[ScoredChunk]) -> dict[str, DocumentScore]:
        """The BM25 of the query over each hit's whole document (see LexicalIndex.document_scores)."""
        documents = {document for hit in hits if (document := document_of(hit.metadata))}
        return self._lexical().document_scores(query, documents)

    def _lexical(self) -> LexicalStore:
        if self.lexical is None:
            raise StoreError(
                f"collection {self.store.name!r} at {self.store.label} has no lexical index for "
                "search_type lexical or hybrid (the default); set lexical.enabled: true and run "
                "`rag-index index` again, or use retrieval.search_type: similarity"
            )
        return self.lexical
