"""Ranking metrics at any cutoff k, computed as trec_eval / pytrec_eval compute them.

Conventions (the ones BEIR reports with):
- a run maps query id -> {document id: score}; higher scores rank first, ties are broken by
  document id in descending order (trec_eval's rule), so results do not depend on dict order;
- qrels map query id -> {document id: grade}; a grade > 0 is relevant, nDCG uses the grade as gain
  with the log2(rank + 1) discount;
- documents without a judgment count as not relevant;
- queries with no relevant document in the qrels are left out of the means (trec_eval and BEIR only
  evaluate queries that have judgments); a judged query the run did not answer scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]
MetricFn = Callable[[Sequence[str], Mapping[str, int], int], float]

DEFAULT_METRICS = (
    "ndcg@10",
    "recall@5",
    "recall@10",
    "recall@100",
    "mrr@10",
    "map@100",
    "precision@10",
    "hit_rate@5",
)


def ranking(scores: Mapping[str, float]) -> list[str]:
    """Document ids best first; equal scores in descending id order, as trec_eval sorts them."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def _relevant(judged: Mapping[str, int]) -> set[str]:
    return {doc for doc, grade in judged.items() if grade > 0}


def recall(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = _relevant(judged)
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def precision(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k, divided by k (trec_eval's P_k: a short list is not rewarded)."""
    return len(_relevant(judged).intersection(ranked[:k])) / k


def mrr(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top k, 0 when there is none."""
    relevant = _relevant(judged)
    return next((1.0 / rank for rank, doc in enumerate(ranked[:k], 1) if doc in relevant), 0.0)


def hit_rate(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """1 when a relevant document is in the top k, else 0."""
    return 1.0 if _relevant(judged).intersection(ranked[:k]) else 0.0


def ndcg(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Normalized discounted cumulative gain: gain = grade, discount = log2(rank + 1) (trec_eval ndcg_cut)."""
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal_grades = sorted((grade for grade in judged.values() if grade > 0), reverse=True)[:k]
    ideal = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal_grades, 1))
    return dcg / ideal if ideal else 0.0


def average_precision(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Mean of precision at each relevant rank within the top k, over all relevant documents (map_cut)."""
    relevant = _relevant(judged)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked[:k], 1):
        if doc in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


METRICS: dict[str, MetricFn] = {
    "hit_rate": hit_rate,
    "map": average_precision,
    "mrr": mrr,
    "ndcg": ndcg,
    "precision": precision,
    "recall": recall,
}


def parse_metric(name: str) -> tuple[MetricFn, int]:
    """'ndcg@10' -> (ndcg, 10); raises ValueError naming the valid metrics."""
    base, sep, cutoff = name.partition("@")
    if base not in METRICS or not sep or not cutoff.isdigit() or int(cutoff) < 1:
        raise ValueError(
            f"unknown metric {name!r}; expected NAME@K with NAME one of {', '.join(sorted(METRICS))}"
        )
    return METRICS[base], int(cutoff)


def per_query(
    run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, dict[str, float]]:
    """Each metric for each query that has at least one relevant document."""
    parsed = {name: parse_metric(name) for name in metrics}
    scores: dict[str, dict[str, float]] = {}
    for query, judged in qrels.items():
        if not _relevant(judged):
            continue
        ranked = ranking(run.get(query, {}))
        scores[query] = {name: fn(ranked, judged, k) for name, (fn, k) in parsed.items()}
    return scores


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Each metric averaged over the queries that have at least one relevant document."""
    scores = per_query(run, qrels, metrics)
    if not scores:
        return {name: 0.0 for name in metrics}
    return {name: sum(q[name] for q in scores.values()) / len(scores) for name in metrics}
