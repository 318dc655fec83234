"""Search options: the `retrieval:` config section, also what Retriever(...) and search(...) accept."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator, model_validator

from rag_index.search.fusion import FUSIONS
from rag_index.settings import Section, one_of

# How the chunks of a query are chosen (see Retriever).
SEARCH_TYPES = ("similarity", "mmr", "similarity_score_threshold", "lexical", "hybrid")


class RetrievalConfig(Section):
    """How queries are answered (see rag_index.search.Retriever for the search types)."""

    k: int = Field(default=5, gt=0, description="Chunks returned per query.")
    # hybrid: dense and BM25 fused, each chunk's document weighed in: chosen on the quality suite (BEIR,
    # document QA, agent memory beside files), see docs/decisions/search-defaults.md
    search_type: str = Field(
        default="hybrid",
        description="similarity: k nearest; mmr: maximal marginal relevance; similarity_score_threshold: k "
        "nearest with score >= score_threshold; lexical: BM25; hybrid: dense and BM25 fused.",
        json_schema_extra={"choices": list(SEARCH_TYPES)},
    )
    fetch_k: int = Field(
        default=20, gt=0, description="mmr, hybrid: candidates fetched (per side) before k are picked (>= k)."
    )
    lambda_mult: float = Field(
        default=0.5, ge=0.0, le=1.0, description="mmr: 1 = relevance only, 0 = diversity only."
    )
    score_threshold: float | None = Field(
        default=None,
        description="similarity_score_threshold: the lowest score kept (required for that search type).",
    )
    fusion: str = Field(
        default="dbsf",
        description="hybrid: dbsf (alpha-weighted mix of scores scaled per query by mean +- 3 sd), convex "
        "(the same with min..max scaling) or rrf (sum of 1 / (rrf_k + rank)).",
        json_schema_extra={"choices": list(FUSIONS)},
    )
    rrf_k: int = Field(default=60, gt=0, description="hybrid rrf: the rank offset, 1 / (rrf_k + rank).")
    alpha: float = Field(
        default=0.38,
        ge=0.0,
        le=1.0,
        description="hybrid dbsf and convex: the weight of the BM25 side (in an index of many chunks).",
    )
    lexical_ramp: int = Field(
        default=100,
        ge=0,
        description="hybrid dbsf and convex: in an index of n chunks BM25 weighs alpha * n / (n + "
        "lexical_ramp); 0: alpha at any size.",
    )
    # a one-chunk document (a memory, an abstract) competes by its chunk alone: see rag_index.search.fusion
    document_weight: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("document_weight", "file_weight"),
        description="hybrid dbsf and convex: the most a chunk's document as a whole (BM25 over all its "
        "chunks) decides of its score, document_weight * (1 - 1/chunks); 0 turns it off. Formerly "
        "file_weight, still read.",
    )
    recency_decay: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Recency-aware recall, off when null: candidates score score + (1 - decay) ** hours "
        "since created_at (e.g. 0.01).",
    )

    # read at query time like every option here: widening hits needs no re-index
    neighbours: int = Field(
        default=0,
        ge=0,
        strict=True,
        description="Neighbour expansion: each hit's text widened by up to this many chunks on each side "
        "in its document (a PDF page), overlaps merged; ranks and scores stay the hits'. Hits whose "
        "windows meet become one passage (see rag_index.search.neighbours); 0 turns it off.",
    )

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
