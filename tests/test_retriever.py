"""The core Retriever: search types, score direction, filters, MMR, and option checks (fake embedder)."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
import numpy as np
import pytest
from langchain_chroma.vectorstores import maximal_marginal_relevance

from rag_index.config import ConfigError, RetrievalConfig, load_config
from rag_index.search.mmr import cosine_matrix, mmr_select
from rag_index.search.retriever import Retriever
from rag_index.storage.chroma import ChromaStore
from rag_index.types import Chunk
from tests.fakes import FakeEmbedder

TEXTS = {
    "grinder-1": ("The Aurora grinder has conical steel burrs.", "handbook.pdf", 1),
    "grinder-2": ("The Aurora grinder has conical steel burrs and a hopper.", "handbook.pdf", 2),
    "grinder-3": ("Aurora grinder burrs: conical steel.", "faq.txt", None),
    "warranty": ("The Aurora warranty lasts two years.", "faq.txt", None),
    "harbour": ("The harbour lighthouse flashes every ten seconds.", "guide.md", None),
    "invoice": ("Invoices are due within thirty days.", "notes.html", None),
}


def make_store(distance: str = "cosine", embedder: FakeEmbedder | None = None) -> ChromaStore:
    embedder = embedder or FakeEmbedder()
    # In-memory Chroma clients share one state per process, so every store gets its own collection.
    store = ChromaStore("unused", f"c-{uuid.uuid4().hex}", distance, client=chromadb.EphemeralClient())
    store.open(embedder.fingerprint)
    chunks = [
        Chunk(
            id_,
            f"doc-{id_}",
            text,
            0,
            len(text),
            {"source": source, "page": page, "start": 0, "end": len(text)},
        )
        for id_, (text, source, page) in TEXTS.items()
    ]
    store.upsert(chunks, embedder.encode_documents([c.text for c in chunks]))
    return store


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    embedder = FakeEmbedder()
    return Retriever(embedder, make_store(embedder=embedder), k=3, search_type="similarity")


def ids(hits: list) -> list[str]:
    return [hit.id for hit in hits]


def test_existing_positional_call_still_works(retriever: Retriever) -> None:
    hits = retriever.search("conical steel burrs", 2, {"source": "faq.txt"}, None)
    assert ids(hits) == ["grinder-3", "warranty"]


@pytest.mark.parametrize("distance", ["cosine", "ip", "l2"])
def test_scores_are_cosine_similarities_best_first_for_every_distance(distance: str) -> None:
    embedder = FakeEmbedder()
    hits = Retriever(embedder, make_store(distance, embedder), k=6, search_type="similarity").search(
        "Aurora grinder warranty"
    )
    query = embedder.encode_queries(["Aurora grinder warranty"])
    docs = embedder.encode_documents([hit.text for hit in hits])
    expected = cosine_matrix(query, docs)[0]
    assert [hit.score for hit in hits] == pytest.approx(expected.tolist(), abs=1e-5)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert hits[0].id == "warranty"  # the only chunk sharing all three words


def test_similarity_returns_k_best(retriever: Retriever) -> None:
    assert ids(retriever.search("conical steel burrs")) == ["grinder-3", "grinder-1", "grinder-2"]
    assert len(retriever.search("conical steel burrs", k=5)) == 5


def test_score_threshold_keeps_only_scores_at_or_above_it(retriever: Retriever) -> None:
    everything = retriever.search("Aurora warranty", k=6)
    cut = everything[2].score
    hits = retriever.search(
        "Aurora warranty", k=6, search_type="similarity_score_threshold", score_threshold=cut
    )
    assert ids(hits) == ids(everything[:3])
    assert all(hit.score >= cut for hit in hits)
    none = retriever.search("Aurora warranty", search_type="similarity_score_threshold", score_threshold=1.01)
    assert none == []


def test_mmr_trades_near_duplicates_for_diversity(retriever: Retriever) -> None:
    similar = retriever.search("Aurora grinder conical steel burrs", k=3)
    assert set(ids(similar)) == {"grinder-1", "grinder-2", "grinder-3"}
    diverse = retriever.search("Aurora grinder conical steel burrs", k=3, search_type="mmr", lambda_mult=0.3)
    assert diverse[0].id == similar[0].id
    assert len({hit.id for hit in diverse} - set(ids(similar))) >= 1
    # each MMR hit keeps its similarity score to the query
    by_id = {hit.id: hit.score for hit in retriever.search("Aurora grinder conical steel burrs", k=6)}
    assert all(hit.score == pytest.approx(by_id[hit.id]) for hit in diverse)


def test_mmr_with_lambda_one_is_similarity_order(retriever: Retriever) -> None:
    query = "Aurora warranty lasts"
    mmr = retriever.search(query, k=4, search_type="mmr", lambda_mult=1.0, fetch_k=6)
    assert ids(mmr) == ids(retriever.search(query, k=4))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("lambda_mult", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_mmr_select_matches_langchain_maximal_marginal_relevance(seed: int, lambda_mult: float) -> None:
    rng = np.random.default_rng(seed)
    candidates = rng.normal(size=(30, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    ours = mmr_select(query, candidates, 10, lambda_mult)
    theirs = maximal_marginal_relevance(query, list(candidates), lambda_mult=lambda_mult, k=10)
    assert ours == theirs


def test_mmr_select_edge_cases() -> None:
    candidates = np.eye(3, dtype=np.float32)
    assert mmr_select(np.ones(3, dtype=np.float32), candidates, 0, 0.5) == []
    assert mmr_select(np.ones(3, dtype=np.float32), candidates[:0], 3, 0.5) == []
    assert sorted(mmr_select(np.array([1, 0.5, 0], dtype=np.float32), candidates, 10, 0.5)) == [0, 1, 2]


@pytest.mark.parametrize("search_type", ["similarity", "mmr", "similarity_score_threshold"])
def test_metadata_and_document_filters_apply_to_every_search_type(
    retriever: Retriever, search_type: str
) -> None:
    options = {"search_type": search_type, "score_threshold": -1.0, "k": 6}
    hits = retriever.search("Aurora grinder", where={"source": "handbook.pdf"}, **options)
    assert set(ids(hits)) == {"grinder-1", "grinder-2"}
    hits = retriever.search("Aurora grinder", where={"page": {"$gte": 2}}, **options)
    assert ids(hits) == ["grinder-2"]
    hits = retriever.search("Aurora grinder", where_document={"$contains": "hopper"}, **options)
    assert ids(hits) == ["grinder-2"]
    both = retriever.search(
        "Aurora", where={"source": "faq.txt"}, where_document={"$contains": "warranty"}, **options
    )
    assert ids(both) == ["warranty"]


def test_empty_filters_mean_no_filter(retriever: Retriever) -> None:
    assert ids(retriever.search("Aurora grinder", where={}, where_document={})) == ids(
        retriever.search("Aurora grinder")
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"search_type": "nearest"},
            r"^retrieval\.search_type: 'nearest' is not one of similarity, mmr, similarity_score",
        ),
        ({"k": 0}, r"^retrieval\.k: 0: Input should be greater than 0$"),
        ({"lambda_mult": 1.5}, r"^retrieval\.lambda_mult: 1\.5: Input should be less than or equal to 1$"),
        (
            {"search_type": "mmr", "k": 30},
            r"^retrieval: fetch_k \(20\) must be at least k \(30\) for search_type 'mmr'$",
        ),
        ({"search_type": "similarity_score_threshold"}, r"needs a score_threshold$"),
    ],
)
def test_bad_options_fail_at_construction_and_per_query(
    retriever: Retriever, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Retriever(retriever.embedder, retriever.store, **options)
    with pytest.raises(ValueError, match=message):
        retriever.search("Aurora", **options)
    with pytest.raises(ValueError, match=message):
        retriever.replace(**options)


def test_replace_returns_a_checked_copy(retriever: Retriever) -> None:
    mmr = retriever.replace(search_type="mmr", fetch_k=4)
    assert (mmr.search_type, mmr.fetch_k, mmr.k) == ("mmr", 4, 3)
    assert retriever.search_type == "similarity"
    with pytest.raises(ConfigError, match=r"^retrieval\.kk: unknown key$"):
        retriever.replace(kk=3)


def test_a_retrieval_section_gives_every_option(retriever: Retriever) -> None:
    config = load_config(
        overrides=[
            "retrieval.search_type=mmr",
            "retrieval.k=2",
            "retrieval.fetch_k=5",
            "retrieval.lambda_mult=0.2",
        ]
    ).retrieval
    built = Retriever(retriever.embedder, retriever.store, **config.model_dump())
    assert (built.search_type, built.k, built.fetch_k, built.lambda_mult) == ("mmr", 2, 5, 0.2)
    assert len(built.search("Aurora grinder")) == 2


def test_retrieval_config_checks_its_options(tmp_path: Path) -> None:
    assert RetrievalConfig() == RetrievalConfig(
        k=5,
        search_type="hybrid",
        fetch_k=20,
        lambda_mult=0.5,
        score_threshold=None,
        fusion="dbsf",
        alpha=0.38,
        lexical_ramp=100,
        document_weight=0.6,
    )
    assert RetrievalConfig(file_weight=0.2).document_weight == 0.2  # the key's former name is still read
    with pytest.raises(ConfigError, match=r"^retrieval\.search_type: 'knn' is not one of similarity, mmr, "):
        load_config(overrides=["retrieval.search_type=knn"])
    with pytest.raises(
        ConfigError, match=r"^retrieval: fetch_k \(3\) must be at least k \(5\) for search_type 'mmr'$"
    ):
        load_config(overrides=["retrieval.search_type=mmr", "retrieval.fetch_k=3"])
    with pytest.raises(
        ConfigError, match=r"^retrieval: search_type 'similarity_score_threshold' needs a score_thr"
    ):
        load_config(overrides=["retrieval.search_type=similarity_score_threshold"])
    with pytest.raises(
        ConfigError, match=r"^retrieval\.lambda_mult: 2: Input should be less than or equal to 1$"
    ):
        load_config(overrides=["retrieval.lambda_mult=2"])
    path = tmp_path / "c.yaml"
    path.write_text("retrieval:\n  search_type: similarity_score_threshold\n  score_threshold: 0.4\n")
    assert load_config(path).retrieval.score_threshold == 0.4
