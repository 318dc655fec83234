"""Recency-aware recall: a memory's score gains (1 - decay) ** hours since it was created.

As in the Generative Agents paper and LangChain's TimeWeightedVectorStoreRetriever (which counts hours
since last access; here since ``created_at``, the time every text added through the API carries). Chunks
without a ``created_at`` (files' chunks) gain nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from rag_index.types import ScoredChunk

CREATED_AT = "created_at"  # metadata key: when a text was added (UTC ISO 8601)


def hours_since(created_at: object, now: datetime) -> float | None:
    """Hours from an ISO time (naive: UTC) to now; None when the value is not a time."""
    try:
        moment = datetime.fromisoformat(str(created_at))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds() / 3600.0)


def with_recency(hits: Sequence[ScoredChunk], decay: float, now: datetime | None = None) -> list[ScoredChunk]:
    """Hits rescored as score + (1 - decay) ** hours since created_at, best first (stable for ties)."""
    now = now or datetime.now(UTC)
    rescored = []
    for hit in hits:
        hours = hours_since(hit.metadata[CREATED_AT], now) if CREATED_AT in hit.metadata else None
        bonus = 0.0 if hours is None else (1.0 - decay) ** hours
        metadata = {**hit.metadata, "relevance_score": hit.score, "recency": bonus}
        rescored.append(dataclasses.replace(hit, score=hit.score + bonus, metadata=metadata))
    return sorted(rescored, key=lambda hit: -hit.score)
