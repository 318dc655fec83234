"""PoolingEmbeddings and RagIndexRetriever: what they add over the core is only LangChain's types."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from pydantic import ValidationError

from rag_index.embed.embedder import PoolingEmbedder
from rag_index.errors import ConfigError, StoreError
from rag_index.integrations.langchain import PoolingEmbeddings, RagIndexRetriever, format_docs, to_document
from rag_index.search.retriever import Retriever
from rag_index.types import ScoredChunk
from tests.fakes import FakeEmbedder
from tests.test_retriever import make_store


@pytest.fixture(scope="module")
def core() -> Retriever:
    embedder = FakeEmbedder()
    return Retriever(embedder, make_store(embedder=embedder), k=3, search_type="similarity")


# --- PoolingEmbeddings ---------------------------------------------------------------------------


def test_embeddings_apply_the_query_and_document_prefixes(embedder: PoolingEmbedder) -> None:
    prefixed = copy.copy(embedder)  # shares the loaded model; only the prefixes differ
    prefixed.query_prefix, prefixed.document_prefix = "query: ", "passage: "
    embeddings = PoolingEmbeddings(embedder=prefixed)
    query = embeddings.embed_query("burr cleaning")
    documents = embeddings.embed_documents(["Clean the burrs monthly.", "E7: motor overheated."])
    assert np.allclose(query, embedder.encode(["query: burr cleaning"])[0], atol=1e-6)
    expected = embedder.encode(["passage: Clean the burrs monthly.", "passage: E7: motor overheated."])
    assert np.allclose(documents, expected, atol=1e-6)
    assert not np.allclose(query, embedder.encode(["burr cleaning"])[0], atol=1e-3)
    assert isinstance(query[0], float) and isinstance(documents[0][0], float)


async def _async_equals_sync(embeddings: PoolingEmbeddings) -> None:
    assert await embeddings.aembed_query("grind size") == embeddings.embed_query("grind size")
    assert await embeddings.aembed_documents(["a", "b c"]) == embeddings.embed_documents(["a", "b c"])


@pytest.mark.asyncio
async def test_async_methods_give_the_sync_vectors(embedder: PoolingEmbedder) -> None:
    await _async_equals_sync(PoolingEmbeddings(embedder=embedder))


def test_embeddings_from_settings_share_one_loaded_model() -> None:
    first = PoolingEmbeddings(device="cpu")
    assert PoolingEmbeddings(device="cpu").embedder is first.embedder
    assert PoolingEmbeddings.from_config(overrides=["embedder.device=cpu"]).embedder is first.embedder
    assert PoolingEmbeddings(embedder=FakeEmbedder()).embedder is not first.embedder


def test_embeddings_reject_bad_settings() -> None:
    with pytest.raises(TypeError, match=r"^give either an embedder or embedder settings, not both$"):
        PoolingEmbeddings(embedder=FakeEmbedder(), pooling="cls")
    with pytest.raises(ValidationError, match=r"poolng\n  Extra inputs are not permitted"):
        PoolingEmbeddings(poolng="cls")
    with pytest.raises(ValidationError, match=r"'meen' is not one of auto, attention, cls"):
        PoolingEmbeddings(pooling="meen")


def test_embeddings_work_in_a_langchain_vector_store(embedder: PoolingEmbedder) -> None:
    texts = [
        "The Aurora hopper holds 250 grams of beans.",
        "Error code E7 means the motor overheated.",
        "Orders can be returned within 30 days.",
    ]
    store = InMemoryVectorStore(PoolingEmbeddings(embedder=embedder))
    ids = store.add_texts(texts, metadatas=[{"n": i} for i in range(3)])
    assert len(ids) == 3
    hits = store.similarity_search_with_score("What does E7 mean?", k=3)
    assert hits[0][0].page_content == texts[1] and hits[0][0].metadata == {"n": 1}
    expected = embedder.encode_documents(texts) @ embedder.encode_queries(["What does E7 mean?"])[0]
    assert [score for _, score in hits] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    retriever = store.as_retriever(search_kwargs={"k": 1})
    assert retriever.invoke("How long can I return an order?")[0].page_content == texts[2]


# --- RagIndexRetriever ---------------------------------------------------------------------------


def test_documents_carry_text_chunk_id_offsets_and_score(core: Retriever) -> None:
    docs = RagIndexRetriever(retriever=core).invoke("conical steel burrs")
    hits = core.search("conical steel burrs")
    assert [doc.id for doc in docs] == [hit.id for hit in hits]
    for doc, hit in zip(docs, hits, strict=True):
        assert doc.page_content == hit.text
        assert doc.metadata == {**hit.metadata, "chunk_id": hit.id, "score": hit.score}
        assert {"source", "start", "end", "chunk_id", "score"} <= set(doc.metadata)
        assert ("page" in doc.metadata) == doc.metadata["source"].endswith(".pdf")
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)


def test_to_document_keeps_core_metadata() -> None:
    hit = ScoredChunk("c1", "text", 0.5, {"source": "a.pdf", "page": 2, "start": 3, "end": 7})
    assert to_document(hit) == Document(
        id="c1",
        page_content="text",
        metadata={"source": "a.pdf", "page": 2, "start": 3, "end": 7, "chunk_id": "c1", "score": 0.5},
    )


def test_unset_options_keep_the_core_retrievers_own(core: Retriever) -> None:
    retriever = RagIndexRetriever(retriever=core.replace(k=2, search_type="mmr", fetch_k=6, lambda_mult=0.3))
    expected = core.search("Aurora grinder", k=2, search_type="mmr", fetch_k=6, lambda_mult=0.3)
    assert [doc.id for doc in retriever.invoke("Aurora grinder")] == [hit.id for hit in expected]


@pytest.mark.parametrize(
    "options",
    [
        {"search_type": "similarity", "k": 4},
        {"search_type": "mmr", "k": 3, "fetch_k": 6, "lambda_mult": 0.2},
        {"search_type": "similarity_score_threshold", "k": 6, "score_threshold": 0.3},
    ],
)
def test_every_search_type_gives_the_core_results(core: Retriever, options: dict) -> None:
    docs = RagIndexRetriever(retriever=core, **options).invoke("Aurora grinder warranty")
    expected = core.search("Aurora grinder warranty", **options)
    assert [(doc.id, doc.metadata["score"]) for doc in docs] == [(hit.id, hit.score) for hit in expected]
    assert docs


def test_filters_from_the_constructor_and_per_call(core: Retriever) -> None:
    retriever = RagIndexRetriever(retriever=core, k=6, where={"source": "handbook.pdf"})
    assert {doc.id for doc in retriever.invoke("Aurora")} == {"grinder-1", "grinder-2"}
    hits = retriever.invoke("Aurora", where={"source": "faq.txt"}, where_document={"$contains": "warranty"})
    assert [doc.id for doc in hits] == ["warranty"]
    assert len(retriever.invoke("Aurora", k=1)) == 1


@pytest.mark.asyncio
async def test_ainvoke_and_abatch_match_invoke(core: Retriever) -> None:
    retriever = RagIndexRetriever(retriever=core, k=2)
    assert await retriever.ainvoke("harbour light") == retriever.invoke("harbour light")
    batched = await retriever.abatch(["harbour light", "invoice due"])
    assert batched == retriever.batch(["harbour light", "invoice due"])


def test_bad_options_fail_at_construction_with_the_core_message(core: Retriever) -> None:
    with pytest.raises(
        ValidationError, match=r"retrieval\.lambda_mult: 3\.0: Input should be less than or equal to 1"
    ):
        RagIndexRetriever(retriever=core, lambda_mult=3)
    with pytest.raises(
        ValidationError, match=r"search_type 'similarity_score_threshold' needs a score_threshold"
    ):
        RagIndexRetriever(retriever=core, search_type="similarity_score_threshold")
    with pytest.raises(ValidationError, match=r"search_kwargs\n  Extra inputs are not permitted"):
        RagIndexRetriever(retriever=core, search_kwargs={"k": 2})
    with pytest.raises(ConfigError, match=r"retrieval\.top_k: unknown key"):
        RagIndexRetriever(retriever=core).invoke("Aurora", top_k=2)


def test_from_components_refuses_a_store_built_with_another_embedder(core: Retriever) -> None:
    retriever = RagIndexRetriever.from_components(core.embedder, core.store, k=1)
    assert len(retriever.invoke("Aurora")) == 1
    with pytest.raises(StoreError, match=r"was built with a different embedder"):
        RagIndexRetriever.from_components(FakeEmbedder(tag="other"), core.store)


def test_format_docs_numbers_documents_with_source_and_page() -> None:
    docs = [
        Document(page_content="E7: motor overheated.", metadata={"source": "handbook.pdf", "page": 4}),
        Document(page_content="Returns: 30 days.", metadata={"source": "faq.txt"}),
    ]
    assert (
        format_docs(docs) == "[1] handbook.pdf p.4\nE7: motor overheated.\n\n[2] faq.txt\nReturns: 30 days."
    )


def test_options_changed_after_construction_are_checked_and_used(core: Retriever) -> None:
    retriever = RagIndexRetriever(retriever=core)
    retriever.k = 1
    assert len(retriever.invoke("Aurora")) == 1
    with pytest.raises(
        ValidationError, match=r"retrieval\.lambda_mult: -1\.0: Input should be greater than or equal to 0"
    ):
        retriever.lambda_mult = -1


def test_the_adapter_takes_every_retrieval_option() -> None:
    from rag_index.search.options import RetrievalConfig

    assert set(RetrievalConfig.model_fields) <= set(RagIndexRetriever.model_fields)
