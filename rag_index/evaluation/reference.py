"""Published reference figures the evaluation must reproduce (../shared/datasets/README.md)."""

from __future__ import annotations

# all-MiniLM-L6-v2, fp32, title + " " + text, max 256 tokens, exact cosine search, SciFact test split.
SCIFACT_REFERENCE: dict[str, dict[str, float]] = {
    "mean": {"ndcg@10": 0.6451, "recall@100": 0.925},
    "cls": {"ndcg@10": 0.6063, "recall@100": 0.916},
    "weighted_mean": {"ndcg@10": 0.6299, "recall@100": 0.918},
    "max": {"ndcg@10": 0.4571, "recall@100": 0.793},
}
