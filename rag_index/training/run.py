"""rag-index train-pooling: judged queries -> cached token vectors -> a trained head or adapter file."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_index.build import build_embedder
from rag_index.config import Config
from rag_index.embed.learned import save
from rag_index.evaluation.datasets import RetrievalDataset
from rag_index.evaluation.runner import units
from rag_index.training.data import split_queries
from rag_index.training.tokens import token_vectors
from rag_index.training.trainer import TrainResult, TrainSettings, train


@dataclass(frozen=True)
class TrainReport:
    """What a run did: the figures per epoch, where the file went, and what it cost."""

    result: TrainResult
    out: Path
    train_queries: int
    dev_queries: int
    units: int
    cache_seconds: float  # 0 when every token vector was read from the cache
    train_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "out": str(self.out),
            "bytes": self.out.stat().st_size,
            "train_queries": self.train_queries,
            "dev_queries": self.dev_queries,
            "units": self.units,
            "dev_ndcg@10_mean": round(self.result.mean_dev, 4),
            "dev_ndcg@10_learned": round(self.result.best.dev, 4),
            "best_epoch": self.result.best.epoch,
            "epochs": [
                {"epoch": e.epoch, "loss": e.loss, "dev_ndcg@10": round(e.dev, 4)}
                for e in self.result.history
            ],
            "cache_seconds": self.cache_seconds,
            "train_seconds": self.train_seconds,
        }


def train_pooling(
    config: Config,
    dataset: RetrievalDataset,
    out: Path,
    settings: TrainSettings,
    cache_dir: Path,
    dev_fraction: float = 0.2,
    say: Callable[[str], None] = print,
    progress: bool = True,
    compare: Sequence[str] = (),
) -> TrainReport:
    """Train settings.kind on dataset's judged queries (dev held out) and save the best state to out."""
    # The frozen encoder's token vectors, unpooled: no head, no adapter, no graph pooling.
    plain = config.embedder.model_copy(
        update={"pooling": "mean", "graph_pooling": False, "attention_head": None, "query_adapter": None}
    )
    embedder = build_embedder(plain)
    whole = dataset.whole_documents_by_default
    texts, _, unit_docs, _ = units(dataset, config, embedder, whole)
    judgments = split_queries(dataset.qrels, unit_docs, dev_fraction, settings.seed)
    query_ids = sorted(judgments.relevant_units)
    query_texts = [embedder.query_prefix + dataset.queries[q] for q in query_ids]
    started = time.perf_counter()
    unit_vectors, units_cached = token_vectors(
        embedder, texts, cache_dir, "documents" if whole else "chunks", progress
    )
    query_vectors, queries_cached = token_vectors(embedder, query_texts, cache_dir, "queries", progress)
    cache_seconds = 0.0 if units_cached and queries_cached else round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    result = train(
        query_vectors,
        query_ids,
        unit_vectors,
        judgments,
        dataset.qrels,
        settings,
        embedder.facts.vocab_size,
        say,
        progress,
        compare,
    )
    train_seconds = round(time.perf_counter() - started, 1)
    save(result.module, out, embedder.weights, embedder.pooling)
    return TrainReport(
        result, out, len(judgments.train), len(judgments.dev), len(texts), cache_seconds, train_seconds
    )
