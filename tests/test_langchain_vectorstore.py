"""LangChain's standard VectorStore suite (sync and async) on RagIndexVectorStore, plus what it leaves out."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from rag_index.api import RagIndex
from rag_index.integrations.langchain import EmbeddingsEmbedder, RagIndexVectorStore

for _name in dir(VectorStoreIntegrationTests):
    # The suite's async tests are plain `async def`, written for asyncio_mode=auto (as in
    # test_langchain_standard.py): mark just those for pytest-asyncio's strict mode.
    if _name.startswith("test_") and inspect.iscoroutinefunction(getattr(VectorStoreIntegrationTests, _name)):
        pytest.mark.asyncio(getattr(VectorStoreIntegrationTests, _name))


def memory_index(path: Path, **overrides: object) -> RagIndex:
    """A RagIndex at path embedding with the suite's deterministic fake embeddings (6 dimensions)."""
    embedder = EmbeddingsEmbedder(VectorStoreIntegrationTests.get_embeddings())
    return RagIndex(embedder=embedder, store={"path": str(path)}, **overrides)


class TestRagIndexVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[RagIndexVectorStore]:  # type: ignore[override]
        yield memory_index(tmp_path / "store").as_vectorstore()


@pytest.fixture
def store(tmp_path: Path) -> RagIndexVectorStore:
    return memory_index(tmp_path / "store").as_vectorstore()


def test_every_core_search_type_through_as_retriever(store: RagIndexVectorStore) -> None:
    store.add_texts(["the kettle is in the kitchen", "the car is in the garage"], ids=["k", "c"])
    for search_type, kwargs in [
        ("similarity", {"k": 1}),
        ("mmr", {"k": 1, "fetch_k": 2}),
        ("similarity_score_threshold", {"k": 2, "score_threshold": -1.0}),
        ("lexical", {"k": 1}),
        ("hybrid", {"k": 1, "fetch_k": 2}),
    ]:
        found = store.as_retriever(search_type=search_type, search_kwargs=kwargs).invoke("kettle kitchen")
        assert found, search_type
    lexical = store.as_retriever(search_type="lexical", search_kwargs={"k": 1}).invoke("garage")
    assert [doc.id for doc in lexical] == ["c"]


def test_filters_apply_to_every_search_type(store: RagIndexVectorStore) -> None:
    store.add_texts(["apples are red", "apples are green"], [{"colour": "red"}, {"colour": "green"}])
    for search_type in ("similarity", "mmr", "lexical", "hybrid"):
        docs = store.search("apples", search_type, k=2, filter={"colour": "green"})
        assert [doc.metadata["colour"] for doc in docs] == ["green"], search_type


def test_created_at_is_stored_and_caller_metadata_round_trips(tmp_path: Path) -> None:
    index = memory_index(tmp_path / "store")
    store = index.as_vectorstore()
    (id_,) = store.add_texts(["met Ada at the station"], [{"who": "Ada"}])
    assert store.get_by_ids([id_]) == [
        Document(id=id_, page_content="met Ada at the station", metadata={"who": "Ada"})
    ]
    (chunk,) = index.get_by_ids([id_])
    assert chunk.metadata["who"] == "Ada" and chunk.metadata["created_at"].endswith("+00:00")
    given = store.add_texts(["old memory"], [{"created_at": "2020-01-01T00:00:00+00:00"}])
    assert store.get_by_ids(given)[0].metadata == {"created_at": "2020-01-01T00:00:00+00:00"}


def test_ids_are_deterministic_strings(store: RagIndexVectorStore) -> None:
    first = store.add_texts(["same text"], [{"a": 1}])
    assert store.add_texts(["same text"], [{"a": 1}]) == first
    assert store.add_texts(["same text"], [{"a": 2}]) != first
    assert isinstance(first[0], str)


def test_from_texts_with_a_factory_embeds_with_the_given_embeddings(tmp_path: Path) -> None:
    embeddings = DeterministicFakeEmbedding(size=6)
    store = RagIndexVectorStore.from_texts(
        ["foo", "bar"], embeddings, ids=["1", "2"], index=RagIndex, store={"path": str(tmp_path / "s")}
    )
    assert [doc.id for doc in store.similarity_search("bar", k=1)] == ["2"]
    by_vector = store.similarity_search_by_vector(embeddings.embed_query("foo"), k=1)
    assert [doc.id for doc in by_vector] == ["1"]
    with pytest.raises(TypeError, match="from_texts needs index="):
        RagIndexVectorStore.from_texts(["x"], embeddings)


def test_delete_needs_ids(store: RagIndexVectorStore) -> None:
    with pytest.raises(ValueError, match="needs the ids"):
        store.delete()


def test_recency_is_off_by_default_and_mixes_in_the_age_of_a_memory(tmp_path: Path) -> None:
    index = memory_index(tmp_path / "store")
    store = index.as_vectorstore()
    store.add_texts(["parked in bay 4"], [{"created_at": "2020-01-01T00:00:00+00:00"}], ids=["old"])
    store.add_texts(["parked in bay 4"], ids=["new"])  # the same text: similarity cannot tell them apart
    plain = index.search("parked in bay 4", k=2)
    assert {hit.id for hit in plain} == {"old", "new"} and "recency" not in plain[0].metadata
    recent = index.search("parked in bay 4", k=2, recency_decay=0.01)
    assert recent[0].id == "new" and recent[0].metadata["recency"] == pytest.approx(1.0, abs=1e-3)
    assert recent[1].metadata["recency"] == pytest.approx(0.0, abs=1e-6)
    retriever = store.as_retriever(search_kwargs={"k": 1, "recency_decay": 0.01})
    assert [doc.id for doc in retriever.invoke("parked in bay 4")] == ["new"]


def test_recency_formula_on_fixed_times() -> None:
    from datetime import UTC, datetime

    from rag_index.search.recency import with_recency
    from rag_index.types import ScoredChunk

    now = datetime(2026, 1, 2, tzinfo=UTC)
    hits = [
        ScoredChunk("a", "", 0.5, {"created_at": "2026-01-01T00:00:00+00:00"}),  # 24 hours old
        ScoredChunk("b", "", 0.6, {}),  # a file's chunk: no created_at, no bonus
    ]
    rescored = with_recency(hits, 0.01, now)
    assert [hit.id for hit in rescored] == ["a", "b"]
    assert rescored[0].score == pytest.approx(0.5 + 0.99**24)
    assert rescored[1].score == pytest.approx(0.6)
