"""Lexical and hybrid search: fusion rules, the Retriever's new search types, filters on both sides."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag_index.errors import StoreError
from rag_index.search.fusion import fuse
from rag_index.search.retriever import Retriever
from rag_index.storage.base import DocumentScore
from rag_index.storage.lexical import LexicalConfig, LexicalIndex
from rag_index.types import Chunk, ScoredChunk
from tests.fakes import FakeEmbedder
from tests.test_retriever import TEXTS, make_store


def hit(id_: str, score: float) -> ScoredChunk:
    return ScoredChunk(id_, f"text of {id_}", score, {"source": id_})


def test_dbsf_scales_by_mean_and_spread_so_an_outlier_does_not_squeeze_the_rest() -> None:
    dense = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.4), hit("d", 0.3)]
    lexical = [hit("d", 30.0), hit("c", 3.0), hit("b", 2.0), hit("a", 1.0)]  # one outlier
    scores = [30.0, 3.0, 2.0, 1.0]
    mean = sum(scores) / 4
    sd = (sum((x - mean) ** 2 for x in scores) / 4) ** 0.5
    fused = {h.id: h.score for h in fuse(dense, lexical, "dbsf", alpha=1.0)}
    assert fused["c"] == pytest.approx((3.0 - mean + 3 * sd) / (6 * sd))
    # Min-max scaling puts c at (3 - 1) / 29 = 0.07; mean and spread keep it near b and a, as BM25 did.
    assert fused["c"] - fused["a"] == pytest.approx(2.0 / (6 * sd)) and fused["c"] > 0.3
    assert fuse(dense, [hit("x", 2.0), hit("y", 2.0)], "dbsf", alpha=1.0)[0].score == 1.0  # no spread


def test_rrf_adds_one_over_k_plus_rank_per_side() -> None:
    fused = fuse([hit("a", 0.9), hit("b", 0.8)], [hit("b", 12.0), hit("c", 3.0)], "rrf", rrf_k=60)
    scores = {h.id: h.score for h in fused}
    assert scores == pytest.approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61, "c": 1 / 62})
    assert [h.id for h in fused] == ["b", "a", "c"]
    b = fused[0].metadata
    assert (b["dense_rank"], b["dense_score"], b["lexical_rank"], b["lexical_score"]) == (2, 0.8, 1, 12.0)
    assert "lexical_rank" not in fused[1].metadata  # a came from the dense side only


def test_convex_mixes_per_query_scaled_scores_with_alpha() -> None:
    dense = [hit("a", 0.9), hit("b", 0.7), hit("c", 0.5)]
    lexical = [hit("c", 10.0), hit("b", 6.0)]
    fused = {h.id: h.score for h in fuse(dense, lexical, "convex", alpha=0.25)}
    # dense scaled: a 1, b .5, c 0; lexical scaled: c 1, b 0 (a absent: 0)
    assert fused == pytest.approx({"a": 0.75, "b": 0.375, "c": 0.25})
    assert next(h.id for h in fuse(dense, lexical, "convex", alpha=1.0)) == "c"
    assert next(h.id for h in fuse(dense, lexical, "convex", alpha=0.0)) == "a"


def test_each_document_weighs_in_by_its_chunks() -> None:
    dense = [hit("a", 0.9), hit("b", 0.7), hit("c", 0.5)]
    lexical = [hit("c", 10.0), hit("b", 6.0)]
    # each hit is its own document here (source = id); a of one chunk, b of 5, c of 2
    documents = {"a": DocumentScore(0.0, 1), "b": DocumentScore(4.0, 5), "c": DocumentScore(2.0, 2)}
    fused = fuse(dense, lexical, "convex", alpha=0.25, documents=documents, document_weight=0.5)
    # the mix (a .75, b .375, c .25), then a share of 0.5 * (1 - 1/chunks) taken by the min-max scaled
    # document score: a keeps its mix (one chunk), b 0.6 * .375 + 0.4 * 1, c 0.75 * .25 + 0.25 * 0.5
    assert {h.id: h.score for h in fused} == pytest.approx({"a": 0.75, "b": 0.625, "c": 0.3125})
    assert [h.metadata["document_score"] for h in fused] == [0.0, 4.0, 2.0]
    assert [h.metadata["document_share"] for h in fused] == [0.0, 0.4, 0.25]
    plain = fuse(dense, lexical, "convex", alpha=0.25, documents=documents)  # document_weight 0: no effect
    assert [h.score for h in plain] == pytest.approx([0.75, 0.375, 0.25])


def test_a_one_chunk_document_competes_on_the_scale_of_a_files_chunk() -> None:
    """A memory (its own document, one chunk) and a file's chunk with equal evidence score the same."""
    memory = ScoredChunk("m", "", 0.8, {"doc_id": "text:m"})
    chunk = ScoredChunk("c", "", 0.8, {"source": "big.pdf", "doc_id": "page-1"})
    documents = {"text:m": DocumentScore(5.0, 1), "big.pdf": DocumentScore(5.0, 200)}
    fused = fuse(
        [memory, chunk], [memory, chunk], "dbsf", alpha=0.4, documents=documents, document_weight=0.5
    )
    assert fused[0].score == pytest.approx(fused[1].score)


def test_fusion_of_empty_sides_and_ties_is_stable() -> None:
    assert fuse([], [], "rrf") == []
    assert [h.id for h in fuse([hit("x", 1.0)], [], "convex")] == ["x"]
    tied = fuse([hit("b", 0.5), hit("a", 0.5)], [], "convex")  # equal scores: dense order decides
    assert [h.id for h in tied] == ["b", "a"]


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    embedder = FakeEmbedder()
    store = make_store(embedder=embedder)
    lexical = LexicalIndex(tmp_path_factory.mktemp("lexical"), LexicalConfig(), filter_ids=store.ids_where)
    lexical.upsert(
        [
            Chunk(id_, f"doc-{id_}", text, 0, len(text), {"source": source, "page": page})
            for id_, (text, source, page) in TEXTS.items()
        ]
    )
    # lexical_ramp 0: six chunks would all but silence BM25 (see rag_index.search.fusion.lexical_weight)
    return Retriever(embedder, store, k=3, lexical=lexical, search_type="hybrid", fetch_k=6, lexical_ramp=0)


def test_hybrid_search_runs_its_lexical_side_while_the_query_is_embedded(hybrid: Retriever) -> None:
    """The embedder waits until BM25 has begun: with the two sides run one after the other, it never would."""
    begun = threading.Event()
    lexical = hybrid.lexical
    assert lexical is not None

    class Watched:
        def __getattr__(self, name: str) -> Any:
            return getattr(lexical, name)

        def search(self, *args: Any, **kwargs: Any) -> list[ScoredChunk]:
            begun.set()
            return lexical.search(*args, **kwargs)

    class Waiting(FakeEmbedder):
        def encode_queries(self, texts: list[str]) -> np.ndarray:
            assert begun.wait(timeout=60), "the lexical search did not begin while the query was embedded"
            return super().encode_queries(texts)

    watched = Retriever(Waiting(), hybrid.store, lexical=Watched(), **hybrid.options.model_dump())
    assert [h.id for h in watched.search("lighthouse")] == [h.id for h in hybrid.search("lighthouse")]


def test_lexical_search_type_ranks_by_bm25(hybrid: Retriever) -> None:
    hits = hybrid.search("lighthouse", search_type="lexical")
    assert [h.id for h in hits] == ["harbour"]


def test_hybrid_returns_fused_hits_that_explain_themselves(hybrid: Retriever) -> None:
    for fusion in ("rrf", "convex", "dbsf"):
        hits = hybrid.search("warranty years", fusion=fusion)
        assert hits[0].id == "warranty" and len(hits) == 3
        assert {"dense_score", "dense_rank", "lexical_score", "lexical_rank"} <= set(hits[0].metadata)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hybrid_weighs_each_hits_document_unless_fusion_is_rrf(hybrid: Retriever) -> None:
    # faq.txt as a whole holds both 'warranty' and 'burrs'; handbook.pdf's two chunks hold 'burrs' only.
    hits = hybrid.search("warranty burrs", fusion="dbsf", document_weight=0.9, k=4)
    assert hits[0].id == "warranty" and hits[1].id == "grinder-3"  # the rest of faq.txt comes next
    assert hits[0].metadata["document_score"] > hits[2].metadata["document_score"] > 0
    assert all("document_score" not in h.metadata for h in hybrid.search("warranty burrs", fusion="rrf"))


def test_filters_apply_to_both_sides(hybrid: Retriever) -> None:
    for search_type in ("lexical", "hybrid"):
        hits = hybrid.search("Aurora grinder burrs", search_type=search_type, where={"source": "faq.txt"})
        assert hits and {h.metadata["source"] for h in hits} == {"faq.txt"}
        hits = hybrid.search("Aurora", search_type=search_type, where_document={"$contains": "warranty"})
        assert [h.id for h in hits] == ["warranty"]


def test_a_bad_filter_is_the_callers_error_not_a_damaged_index(hybrid: Retriever) -> None:
    for search_type in ("lexical", "hybrid"):
        with pytest.raises(ValueError, match=r"Expected where operator"):
            hybrid.search("Aurora", search_type=search_type, where={"source": {"$bogus": 1}})
    assert hybrid.lexical is not None and hybrid.lexical.damage() is None


def test_hybrid_needs_fetch_k_of_at_least_k(hybrid: Retriever) -> None:
    with pytest.raises(ValueError, match=r"fetch_k \(6\) must be at least k \(8\) for search_type 'hybrid'"):
        hybrid.search("Aurora", k=8)


def test_a_store_without_lexical_index_says_how_to_get_one(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    store = make_store(embedder=embedder)
    with pytest.raises(StoreError, match=r"has no lexical index .* set lexical\.enabled: true"):
        Retriever(embedder, store, search_type="hybrid")
    assert Retriever(embedder, store, search_type="similarity").search("Aurora")
