"""data/ indexed by the pipeline, read through LangChain: langchain_chroma interop and an LCEL chain."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_chroma import Chroma
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnablePassthrough

from rag_index.build import build_chunker, build_lexical, build_store
from rag_index.config import load_config
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.index.run import index_folder
from rag_index.integrations.langchain import PoolingEmbeddings, RagIndexRetriever, format_docs
from rag_index.storage.chroma import ChromaStore, StoreError
from tests.conftest import DATA

QUESTIONS = json.loads((DATA / "questions.json").read_text())
ANSWER = "See [1]."


@pytest.fixture(scope="module")
def config_path(embedder: PoolingEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file, and data/ indexed into its store as `rag-index index data --config FILE` does."""
    root = tmp_path_factory.mktemp("rag")
    path = root / "config.yaml"
    settings = {
        # the session embedder's settings (torch fp32 on the CPU): from_config reuses the loaded model
        "embedder": {"device": "cpu", "backend": "torch", "dtype": "fp32"},
        "store": {"path": str(root / "store"), "collection": f"rag-{uuid.uuid4().hex[:8]}"},
        "retrieval": {"search_type": "similarity"},  # compared with langchain-chroma's dense search below
    }
    path.write_text(yaml.safe_dump(settings))
    config = load_config(path)
    # index_with_config would load a second copy of the model; these are the same steps with the session one.
    store = build_store(config.store)
    lexical = build_lexical(config.lexical, store)
    chunker = build_chunker(config.chunking, embedder)
    report = index_folder(DATA, config.loader, chunker, embedder, store, lexical=lexical, progress=False)
    assert report.chunks_written > 0 and not report.skipped
    return path


@pytest.fixture(scope="module")
def retriever(config_path: Path) -> RagIndexRetriever:
    return RagIndexRetriever.from_config(config_path, k=3)


@pytest.fixture(scope="module")
def chroma(config_path: Path, embedder: PoolingEmbedder) -> Chroma:
    config = load_config(config_path)
    store = ChromaStore(config.store.path, config.store.collection)
    return Chroma(
        client=store.client,
        collection_name=config.store.collection,
        embedding_function=PoolingEmbeddings(embedder=embedder),
    )


def citation_of(question: dict[str, Any]) -> str:
    page = f" p.{question['page']}" if question["page"] is not None else ""
    return f"{question['source']}{page}"


# --- from_config -----------------------------------------------------------------------------------


def test_from_config_reads_the_retrieval_section(config_path: Path) -> None:
    mmr = RagIndexRetriever.from_config(
        config_path, ["retrieval.search_type=mmr", "retrieval.k=2", "retrieval.fetch_k=6"]
    )
    assert (mmr.retriever.search_type, mmr.retriever.k, mmr.retriever.fetch_k) == ("mmr", 2, 6)
    assert len(mmr.invoke(QUESTIONS[0]["question"])) == 2


def test_from_config_refuses_a_missing_collection(config_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no collection 'absent' at .*; run `rag-index index PATH` first"):
        RagIndexRetriever.from_config(config_path, ["store.collection=absent"])


# --- interoperability with langchain_chroma --------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q["question"][:30])
def test_langchain_chroma_returns_the_same_top_k_in_the_same_order(
    question: dict[str, Any], chroma: Chroma, retriever: RagIndexRetriever
) -> None:
    text = question["question"]
    ours = retriever.invoke(text, k=4)
    theirs = chroma.similarity_search_with_score(text, k=4)
    assert [doc.id for doc in ours] == [doc.id for doc, _ in theirs]
    # Chroma reports cosine distances; our scores are the matching similarities.
    assert [doc.metadata["score"] for doc in ours] == pytest.approx([1 - d for _, d in theirs], abs=1e-6)
    assert ours[0].metadata["source"] == question["source"]


def test_langchain_chroma_mmr_and_filters_agree_with_ours(
    chroma: Chroma, retriever: RagIndexRetriever
) -> None:
    diversified = 0
    for question in QUESTIONS:
        text = question["question"]
        theirs = chroma.max_marginal_relevance_search(text, k=3, fetch_k=8, lambda_mult=0.3)
        ours = retriever.invoke(text, search_type="mmr", k=3, fetch_k=8, lambda_mult=0.3)
        # The same chunks; we keep MMR's pick order, langchain_chroma puts them back in similarity order.
        by_similarity = sorted(ours, key=lambda doc: -doc.metadata["score"])
        assert [doc.id for doc in by_similarity] == [doc.id for doc in theirs]
        diversified += {doc.id for doc in ours} != {doc.id for doc in retriever.invoke(text, k=3)}
        theirs = chroma.similarity_search(text, k=2, filter={"source": "handbook.pdf"})
        ours = retriever.invoke(text, k=2, where={"source": "handbook.pdf"})
        assert [doc.id for doc in ours] == [doc.id for doc in theirs]
    assert diversified  # MMR changed the pick for some question, so the comparison means something


def test_opening_with_langchain_chroma_keeps_the_fingerprint(
    chroma: Chroma, config_path: Path, embedder: PoolingEmbedder
) -> None:
    config = load_config(config_path)
    assert build_store(config.store).stored_fingerprint() == embedder.fingerprint


# --- an LCEL RAG chain with a fake chat model ------------------------------------------------------


class PromptRecorder(BaseCallbackHandler):
    """Keeps the text of every prompt a chat model receives."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.prompts.extend("\n".join(str(m.content) for m in batch) for batch in messages)


def rag_chain(retriever: RagIndexRetriever) -> Runnable:
    """The chain documented in the README."""
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from the numbered context only and cite it as [n].\n\nContext:\n{context}"),
            ("human", "{question}"),
        ]
    )
    llm = FakeListChatModel(responses=[ANSWER])
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )


def check_prompts(recorder: PromptRecorder, retriever: RagIndexRetriever, questions: list[dict]) -> None:
    assert len(recorder.prompts) == len(questions)
    for question in questions:
        (prompt,) = [p for p in recorder.prompts if p.endswith("\n" + question["question"])]
        docs = retriever.invoke(question["question"])
        assert format_docs(docs) in prompt  # the retrieved chunks, in rank order, with their citations
        assert f"[1] {citation_of(question)}\n" in prompt  # the chunk that answers it comes first
        for number, doc in enumerate(docs, 1):
            assert f"[{number}] {doc.metadata['source']}" in prompt
            assert doc.page_content.strip() in prompt


def test_chain_invoke_and_batch(retriever: RagIndexRetriever) -> None:
    chain, recorder = rag_chain(retriever), PromptRecorder()
    assert chain.invoke(QUESTIONS[3]["question"], config={"callbacks": [recorder]}) == ANSWER
    check_prompts(recorder, retriever, QUESTIONS[3:4])
    recorder = PromptRecorder()
    answers = chain.batch([q["question"] for q in QUESTIONS], config={"callbacks": [recorder]})
    assert answers == [ANSWER] * len(QUESTIONS)
    check_prompts(recorder, retriever, QUESTIONS)


@pytest.mark.asyncio
async def test_chain_ainvoke_and_abatch(retriever: RagIndexRetriever) -> None:
    chain, recorder = rag_chain(retriever), PromptRecorder()
    assert await chain.ainvoke(QUESTIONS[0]["question"], config={"callbacks": [recorder]}) == ANSWER
    check_prompts(recorder, retriever, QUESTIONS[:1])
    recorder = PromptRecorder()
    answers = await chain.abatch([q["question"] for q in QUESTIONS], config={"callbacks": [recorder]})
    assert answers == [ANSWER] * len(QUESTIONS)
    check_prompts(recorder, retriever, QUESTIONS)
