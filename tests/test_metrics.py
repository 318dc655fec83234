"""Ranking metrics against hand-computed cases, with trec_eval's conventions."""

from __future__ import annotations

import math

import pytest

from rag_index.evaluation.metrics import (
    average_precision,
    evaluate,
    hit_rate,
    mrr,
    ndcg,
    parse_metric,
    per_query,
    precision,
    ranking,
    recall,
)

JUDGED = {"a": 1, "b": 1, "n": 0}  # n is judged not relevant


def test_ranking_breaks_ties_by_descending_id_as_trec_eval() -> None:
    assert ranking({"a": 1.0, "c": 2.0, "b": 1.0}) == ["c", "b", "a"]


def test_recall_counts_relevant_found_over_all_relevant() -> None:
    ranked = ["n", "a", "x"]
    assert recall(ranked, JUDGED, 1) == 0.0
    assert recall(ranked, JUDGED, 2) == 0.5
    assert recall(ranked, JUDGED, 100) == 0.5


def test_precision_divides_by_k_even_for_short_lists() -> None:
    assert precision(["a", "x"], JUDGED, 5) == pytest.approx(1 / 5)
    assert precision(["a", "b"], JUDGED, 2) == 1.0


def test_mrr_is_one_over_the_first_relevant_rank_within_k() -> None:
    ranked = ["x", "n", "b", "a"]
    assert mrr(ranked, JUDGED, 10) == pytest.approx(1 / 3)
    assert mrr(ranked, JUDGED, 2) == 0.0


def test_hit_rate() -> None:
    assert hit_rate(["x", "a"], JUDGED, 2) == 1.0
    assert hit_rate(["x", "a"], JUDGED, 1) == 0.0


def test_ndcg_uses_graded_gain_and_log2_discount() -> None:
    judged = {"a": 2, "b": 1}
    # DCG@3 = 1/log2(2) + 0/log2(3) + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3)
    expected = 2 / (2 + 1 / math.log2(3))
    assert ndcg(["b", "x", "a"], judged, 3) == pytest.approx(expected)
    assert ndcg(["a", "b"], judged, 10) == pytest.approx(1.0)
    # cut at 1: DCG = 1 (b), ideal = 2 (a)
    assert ndcg(["b", "a"], judged, 1) == pytest.approx(0.5)


def test_ndcg_counts_unjudged_and_zero_graded_documents_as_not_relevant() -> None:
    assert ndcg(["n", "x", "a"], JUDGED, 3) == pytest.approx((1 / 2) / (1 + 1 / math.log2(3)))


def test_average_precision_divides_by_all_relevant() -> None:
    judged = {"a": 1, "b": 1, "c": 1}
    assert average_precision(["a", "x", "b"], judged, 3) == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert average_precision(["x", "a"], judged, 1) == 0.0


def test_queries_without_relevant_documents_are_left_out_of_the_mean() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 0}, "q3": {"c": 1}}
    run = {"q1": {"a": 0.9, "x": 0.5}, "q2": {"b": 0.9}}  # q3 unanswered: scores 0
    assert set(per_query(run, qrels, ["mrr@10"])) == {"q1", "q3"}
    assert evaluate(run, qrels, ["mrr@10", "recall@1"]) == {"mrr@10": 0.5, "recall@1": 0.5}


def test_ties_in_a_run_are_ranked_deterministically() -> None:
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 0.5, "b": 0.5}}  # b sorts before a on the tie
    assert evaluate(run, qrels, ["mrr@10"]) == {"mrr@10": 0.5}


def test_empty_qrels_give_zeros() -> None:
    assert evaluate({}, {}, ["ndcg@10"]) == {"ndcg@10": 0.0}


@pytest.mark.parametrize("name", ["ndgc@10", "ndcg", "ndcg@0", "ndcg@x"])
def test_unknown_metric_names_the_valid_ones(name: str) -> None:
    with pytest.raises(ValueError, match=r"expected NAME@K with NAME one of hit_rate, map, mrr, ndcg"):
        parse_metric(name)


def test_agrees_with_pytrec_eval_on_random_graded_runs() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="pytrec_eval (pytrec-eval-terrier) not installed")
    import random

    rng = random.Random(7)
    docs = [f"d{i}" for i in range(40)]
    qrels = {f"q{q}": {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, 6)} for q in range(30)}
    # Scores rounded to one decimal: many ties, which both must break the same way.
    run = {q: {d: round(rng.random(), 1) for d in rng.sample(docs, 25)} for q in qrels}
    ours = per_query(run, qrels, ["ndcg@10", "recall@10", "map@5", "precision@5"])
    measures = {"ndcg_cut_10", "recall_10", "map_cut_5", "P_5"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    for query, values in ours.items():
        assert values["ndcg@10"] == pytest.approx(theirs[query]["ndcg_cut_10"])
        assert values["recall@10"] == pytest.approx(theirs[query]["recall_10"])
        assert values["map@5"] == pytest.approx(theirs[query]["map_cut_5"])
        assert values["precision@5"] == pytest.approx(theirs[query]["P_5"])
