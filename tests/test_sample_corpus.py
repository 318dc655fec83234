"""Integration: index data/ with the real default model and check each sample question's source at rank 1."""

from __future__ import annotations

import json

import chromadb
import pytest

from rag_index.build import build_chunker
from rag_index.config import Config
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.index.run import index_folder
from rag_index.search.retriever import Retriever
from rag_index.storage.chroma import ChromaStore
from tests.conftest import DATA

QUESTIONS = json.loads((DATA / "questions.json").read_text())


@pytest.fixture(scope="module")
def retriever(embedder: PoolingEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    config = Config()
    # The manifest and lock live at the store path; the vectors stay in the in-memory client.
    path = str(tmp_path_factory.mktemp("store"))
    store = ChromaStore(path, "sample-corpus", client=chromadb.EphemeralClient())
    report = index_folder(
        DATA, config.loader, build_chunker(config.chunking, embedder), embedder, store, progress=False
    )
    assert report.skipped == [] and report.chunks_truncated == 0
    return Retriever(embedder, store, k=3, search_type="similarity")


@pytest.mark.parametrize("item", QUESTIONS, ids=[q["question"][:40] for q in QUESTIONS])
def test_each_sample_question_finds_its_source_first(retriever: Retriever, item: dict) -> None:
    hits = retriever.search(item["question"])
    assert hits[0].metadata["source"] == item["source"], [h.metadata["source"] for h in hits]
    if item["page"] is not None:
        assert hits[0].metadata["page"] == item["page"]


def test_every_chunk_of_the_corpus_is_an_exact_span_of_its_document(retriever: Retriever) -> None:
    got = retriever.store.collection.get(include=["metadatas", "documents"])
    assert got["ids"]
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        assert meta["end"] - meta["start"] == len(text)
        assert meta["content_hash"] and meta["source"]
