"""Retriever: embeds a query and asks the store for the best chunks (similarity, MMR, score threshold)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rag_index.store import ChromaStore
from rag_index.types import Embedder, ScoredChunk

if TYPE_CHECKING:
    from rag_index.config import RetrievalConfig

# How the chunks of a query are chosen; config.py validates retrieval.search_type against this.
SEARCH_TYPES = ("similarity", "mmr", "similarity_score_threshold")


def check_search_options(
    k: int, search_type: str, fetch_k: int, lambda_mult: float, score_threshold: float | None
) -> None:
    """Raise ValueError for options that do not fit together; RetrievalConfig validates with this too."""
    if search_type not in SEARCH_TYPES:
        raise ValueError(f"search_type {search_type!r} is not one of {', '.join(SEARCH_TYPES)}")
    if k < 1:
        raise ValueError(f"k must be a positive number, got {k}")
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
    if search_type == "mmr" and fetch_k < k:
        raise ValueError(f"fetch_k ({fetch_k}) must be at least k ({k}) for search_type 'mmr'")
    if search_type == "similarity_score_threshold" and score_threshold is None:
        raise ValueError("search_type 'similarity_score_threshold' needs a score_threshold")


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of a with every row of b; zero vectors give 0."""
    a_norm = np.linalg.norm(a, axis=1, keepdims=True)
    b_norm = np.linalg.norm(b, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = (a @ b.T) / (a_norm * b_norm.T)
    return np.nan_to_num(sims, nan=0.0, posinf=0.0, neginf=0.0)


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Indices of k candidates by maximal marginal relevance, in the order they are picked.

    Each step takes the candidate maximizing lambda * sim(query, c) - (1 - lambda) * max sim(c, picked),
    with cosine similarities: lambda_mult 1 is plain similarity order, 0 is maximal diversity. This is
    the rule (and tie-break: the first best) of LangChain's maximal_marginal_relevance, vectorized.
    """
    n = min(k, len(candidates))
    if n <= 0:
        return []
    relevance = cosine_matrix(query.reshape(1, -1), candidates)[0]
    redundancy = np.full(len(candidates), -np.inf)  # max similarity to anything picked so far
    available = np.ones(len(candidates), dtype=bool)
    picked = [int(np.argmax(relevance))]
    for _ in range(n - 1):
        last = candidates[picked[-1]].reshape(1, -1)
        redundancy = np.maximum(redundancy, cosine_matrix(candidates, last)[:, 0])
        available[picked[-1]] = False
        gain = np.where(available, lambda_mult * relevance - (1.0 - lambda_mult) * redundancy, -np.inf)
        picked.append(int(np.argmax(gain)))
    return picked


class Retriever:
    """Serves the best chunks for a query text.

    Scores are similarities, higher is more similar, for every store distance: cosine similarity
    for ``cosine``, the inner product for ``ip``, and ``1 - d²/2`` (the cosine for unit vectors) for
    ``l2``. Search types:

    - ``similarity``: the k nearest chunks, best first.
    - ``mmr``: fetch_k nearest chunks, then k of them picked by maximal marginal relevance
      (lambda_mult: 1 = relevance only, 0 = diversity only); each keeps its similarity score.
    - ``similarity_score_threshold``: the k nearest chunks whose score is at least score_threshold.
    """

    def __init__(
        self,
        embedder: Embedder,
        store: ChromaStore,
        k: int = 5,
        *,
        search_type: str = "similarity",
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        score_threshold: float | None = None,
    ) -> None:
        check_search_options(k, search_type, fetch_k, lambda_mult, score_threshold)
        self.embedder = embedder
        self.store = store
        self.k = k
        self.search_type = search_type
        self.fetch_k = fetch_k
        self.lambda_mult = lambda_mult
        self.score_threshold = score_threshold

    @classmethod
    def from_config(cls, config: RetrievalConfig, embedder: Embedder, store: ChromaStore) -> Retriever:
        """The retriever a `retrieval:` config section describes."""
        return cls(embedder, store, **config.model_dump())

    def replace(self, **options: Any) -> Retriever:
        """A copy with some of k, search_type, fetch_k, lambda_mult, score_threshold changed (checked)."""
        current = {
            "k": self.k,
            "search_type": self.search_type,
            "fetch_k": self.fetch_k,
            "lambda_mult": self.lambda_mult,
            "score_threshold": self.score_threshold,
        }
        unknown = sorted(set(options) - set(current))
        if unknown:
            raise TypeError(
                f"unknown retriever option(s): {', '.join(unknown)}; expected {', '.join(current)}"
            )
        return Retriever(self.embedder, self.store, **{**current, **options})

    def search(
        self,
        query: str,
        k: int | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        *,
        search_type: str | None = None,
        fetch_k: int | None = None,
        lambda_mult: float | None = None,
        score_threshold: float | None = None,
    ) -> list[ScoredChunk]:
        """The best chunks for query (see the class for search types); None means the retriever's own."""
        k = self.k if k is None else k
        search_type = search_type or self.search_type
        fetch_k = self.fetch_k if fetch_k is None else fetch_k
        lambda_mult = self.lambda_mult if lambda_mult is None else lambda_mult
        threshold = self.score_threshold if score_threshold is None else score_threshold
        check_search_options(k, search_type, fetch_k, lambda_mult, threshold)
        vector = self.embedder.encode_queries([query])[0]
        # Chroma rejects an empty filter ({}), which callers use to mean "no filter".
        where, where_document = where or None, where_document or None
        if search_type == "mmr":
            candidates, vectors = self.store.query(
                vector, fetch_k, where=where, where_document=where_document, with_embeddings=True
            )
            return [candidates[i] for i in mmr_select(vector, vectors, k, lambda_mult)]
        hits = self.store.query(vector, k, where=where, where_document=where_document)
        if search_type == "similarity_score_threshold":
            return [hit for hit in hits if threshold is not None and hit.score >= threshold]
        return hits
