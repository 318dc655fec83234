"""Search options: the `retrieval:` config section, also what Retriever(...) and search(...) accept."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator, model_validator

from rag_index.search.fusion import FUSIONS
from rag_index.settings import Section, one_of

# How the chunks of a query are chosen (see Retriever).
SEARCH_TYPES = ("similarity", "mmr", "similarity_score_threshold", "lexical", "hybrid")


class RetrievalConfig(Section):
    """How queries are answered (see rag_index.search.Retriever for the search types)."""

    k: int = Field(default=5, gt=0)
    # hybrid: dense and BM25 fused, each chunk's document weighed in: chosen on the quality suite (BEIR,
    # document QA, agent memory beside files), see docs/decisions/search-defaults.md
    search_type: str = "hybrid"
    fetch_k: int = Field(default=20, gt=0)  # mmr, hybrid: candidates fetched (per side) before k are picked
    lambda_mult: float = Field(default=0.5, ge=0.0, le=1.0)  # mmr: 1 = relevance only, 0 = diversity only
    score_threshold: float | None = None  # similarity_score_threshold: the lowest score kept
    # hybrid: rrf (rank fusion), convex (a mix of min-max scaled scores) or dbsf (a mix of scores scaled by
    # their mean and spread, as Qdrant's)
    fusion: str = "dbsf"
    rrf_k: int = Field(default=60, gt=0)  # hybrid rrf: 1 / (rrf_k + rank)
    # hybrid convex and dbsf: the lexical side's weight (in an index of many chunks; see lexical_ramp)
    alpha: float = Field(default=0.38, ge=0.0, le=1.0)
    # hybrid convex and dbsf: in an index of n chunks the lexical side weighs alpha * n / (n + lexical_ramp):
    # BM25's statistics mean little over a handful of chunks (0: alpha whatever the size)
    lexical_ramp: int = Field(default=100, ge=0)
    # hybrid convex and dbsf: the most a chunk's document as a whole (BM25 of the query over all its chunks)
    # decides of the chunk's score; a document of n chunks gets document_weight * (1 - 1/n), so a one-chunk
    # document (a memory, an abstract) competes by its chunk alone. Formerly file_weight (still read).
    document_weight: float = Field(
        default=0.6, ge=0.0, le=1.0, validation_alias=AliasChoices("document_weight", "file_weight")
    )
    # recency-aware recall (off: None): fetch_k candidates gain (1 - decay) ** hours since created_at
    recency_decay: float | None = Field(default=None, gt=0.0, lt=1.0)

    @field_validator("fusion")
    @classmethod
    def _known_fusion(cls, value: str) -> str:
        return one_of(value, list(FUSIONS))

    @field_validator("search_type")
    @classmethod
    def _known_search_type(cls, value: str) -> str:
        return one_of(value, list(SEARCH_TYPES))

    @model_validator(mode="after")
    def _options_fit_search_type(self) -> RetrievalConfig:
        if self.search_type in ("mmr", "hybrid") and self.fetch_k < self.k:
            raise ValueError(
                f"fetch_k ({self.fetch_k}) must be at least k ({self.k}) for search_type {self.search_type!r}"
            )
        if self.search_type == "similarity_score_threshold" and self.score_threshold is None:
            raise ValueError("search_type 'similarity_score_threshold' needs a score_threshold")
        return self
