"""End to end on SciFact: a small subset by default, the full reference figures as a slow benchmark test."""

from __future__ import annotations

import numpy as np
import pytest

from rag_index.config import load_config
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.evaluation import SCIFACT_REFERENCE, evaluate, load_dataset, run_eval, subset
from tests.conftest import SHARED

SCIFACT = SHARED / "datasets" / "scifact"
pytestmark = pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"{SCIFACT} (shared datasets) is not present")


def test_subset_metrics_match_an_independent_computation(embedder: PoolingEmbedder) -> None:
    dataset = subset(load_dataset(SCIFACT), queries=20, distractors=60)
    dense = load_config(overrides=["retrieval.search_type=similarity"])
    report = run_eval(dataset, dense, grid={"embedder.pooling": ["mean", "max"]}, progress=False)
    mean, max_ = report.results
    assert len(report.passes) == 1 and report.passes[0].poolings == ["max", "mean"]
    # The same ranking computed by hand: embed documents and queries, score every pair by cosine.
    documents = list(dataset.documents())
    vectors = embedder.encode([d.text for d in documents])
    queries = list(dataset.qrels)
    similarity = embedder.encode([dataset.queries[q] for q in queries]) @ vectors.T
    run = {
        q: {d.id: float(s) for d, s in zip(documents, row, strict=True)}
        for q, row in zip(queries, similarity, strict=True)
    }
    expected = evaluate(run, dataset.qrels, list(mean.metrics))
    assert mean.metrics == pytest.approx(expected, abs=1e-6)
    assert mean.metrics["ndcg@10"] > max_.metrics["ndcg@10"]  # as on the full split, mean beats max
    assert np.all(vectors.dtype == np.float32)


@pytest.mark.slow
def test_full_scifact_reproduces_the_reference_figures() -> None:
    # The reference figures are dense retrieval by exact cosine similarity (BEIR's), not the default hybrid.
    report = run_eval(
        load_dataset(SCIFACT),
        grid={"embedder.pooling": list(SCIFACT_REFERENCE)},
        progress=False,
        search="exact",
    )
    for result in report.results:
        tolerance = 0.002 if result.pooling == "mean" else 0.005
        assert result.metrics["ndcg@10"] == pytest.approx(
            SCIFACT_REFERENCE[result.pooling]["ndcg@10"], abs=tolerance
        )
