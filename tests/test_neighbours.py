"""Neighbour expansion: hits widened to the chunks around them, overlaps given once, ranks and scores kept."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import chromadb
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from rag_index.api import RagIndex
from rag_index.chunking.chunkers import make_chunker
from rag_index.cli import _neighbours_note
from rag_index.config import ConfigError
from rag_index.remote import RemoteIndex
from rag_index.search.neighbours import CONTEXT_END, CONTEXT_IDS, CONTEXT_START, MERGED_IDS, expand, join
from rag_index.search.retriever import Retriever
from rag_index.server.http import create_app
from rag_index.server.mcp import create_mcp
from rag_index.server.service import Service
from rag_index.storage.chroma import ChromaStore
from rag_index.types import Chunk, Document, ScoredChunk
from tests.fakes import FakeEmbedder

# Each part has a word of its own, so a query picks one chunk; chunks of 12 tokens overlap by 4.
WORDS = ["apple", "bridge", "candle", "dragon", "engine", "forest", "garden", "harbour", "island", "jungle"]
TEXT = " ".join(f"the {w} part holds {w} words and" for w in WORDS)


def chunks_of(text: str, doc_id: str, **metadata: object) -> list[Chunk]:
    chunker = make_chunker("recursive", 12, 4, "tokens", FakeEmbedder())
    return chunker.split(Document(doc_id, text, {"source": "notes.txt", **metadata}))


def make_retriever(chunks: list[Chunk], **options: object) -> Retriever:
    embedder = FakeEmbedder()
    store = ChromaStore("unused", f"c-{uuid.uuid4().hex}", "cosine", client=chromadb.EphemeralClient())
    store.open(embedder.fingerprint)
    store.upsert(chunks, embedder.encode_documents([c.text for c in chunks]))
    return Retriever(embedder, store, search_type="similarity", **options)


@pytest.fixture(scope="module")
def doc() -> list[Chunk]:
    return chunks_of(TEXT, "doc-1")


def at(chunks: list[Chunk], word: str) -> int:
    """The index of the first chunk that holds the start of the word's part."""
    return next(i for i, c in enumerate(chunks) if f"the {word} part" in c.text)


def test_the_chunks_overlap_so_the_tests_mean_something(doc: list[Chunk]) -> None:
    assert len(doc) >= 8 and all(b.start < a.end for a, b in itertools.pairwise(doc))


def test_neighbours_are_joined_in_order_without_repeating_the_overlap(doc: list[Chunk]) -> None:
    retriever = make_retriever(doc)
    plain = retriever.search("forest forest", k=1)
    i = next(i for i, c in enumerate(doc) if c.id == plain[0].id)
    assert 1 <= i < len(doc) - 1
    wide = retriever.search("forest forest", k=1, neighbours=1)
    assert wide[0].id == plain[0].id and wide[0].score == plain[0].score  # the hit's rank and score
    assert wide[0].text == TEXT[doc[i - 1].start : doc[i + 1].end]  # each character once, in order
    meta = wide[0].metadata
    assert meta[CONTEXT_IDS] == [doc[i - 1].id, doc[i].id, doc[i + 1].id]
    assert (meta[CONTEXT_START], meta[CONTEXT_END]) == (doc[i - 1].start, doc[i + 1].end)
    assert (meta["start"], meta["end"]) == (doc[i].start, doc[i].end)  # the hit's own span is kept
    first = retriever.search("apple apple", k=1, neighbours=2)[0]  # at the start: only what follows
    assert first.metadata[CONTEXT_IDS] == [c.id for c in doc[:3]] and first.text == TEXT[: doc[2].end]


def test_hits_whose_windows_meet_become_one_passage_at_the_best_rank(doc: list[Chunk]) -> None:
    hits = [
        ScoredChunk(c.id, c.text, score, dict(c.metadata, doc_id=c.doc_id))
        for c, score in [(doc[4], 0.9), (doc[0], 0.8), (doc[6], 0.7)]
    ]
    stored = [Chunk(c.id, c.doc_id, c.text, c.start, c.end, dict(c.metadata, doc_id=c.doc_id)) for c in doc]
    wide = expand(hits, 1, lambda where: stored)
    # windows 3-5 and 5-7 share chunk 5: one passage at the first hit's place; 0-1 does not touch 3
    assert [h.id for h in wide] == [doc[4].id, doc[0].id] and [h.score for h in wide] == [0.9, 0.8]
    assert wide[0].text == TEXT[doc[3].start : doc[7].end] and wide[0].metadata[MERGED_IDS] == [doc[6].id]
    assert wide[0].metadata[CONTEXT_IDS] == [c.id for c in doc[3:8]]
    assert wide[1].text == TEXT[: doc[1].end] and MERGED_IDS not in wide[1].metadata
    assert _neighbours_note(wide[0].id, wide[0].metadata) == " (+3 neighbouring chunks, 1 hit merged)"
    text = " ".join(h.text for h in wide)
    assert all(text.count(f"the {w} part") <= 1 for w in WORDS)  # nothing twice


def test_join_separates_chunks_that_do_not_touch() -> None:
    a = Chunk("a", "d", "one two", 0, 7, {"start": 0})
    b = Chunk("b", "d", "two three", 4, 13, {"start": 4})
    c = Chunk("c", "d", "five", 20, 24, {"start": 20})
    assert join([a, b, c]) == ("one two three\nfive", 0, 24)
    assert join([Chunk("m", "d", "first", 0, 5, {}), Chunk("n", "d", "second", 0, 6, {})]) == (
        "first\nsecond",
        None,
        None,
    )


def test_neighbours_stay_in_their_document_and_obey_the_filter() -> None:
    page_1 = chunks_of(TEXT, "page-1", page=1)
    page_2 = chunks_of(TEXT.replace("apple", "zebra"), "page-2", page=2)
    retriever = make_retriever(page_1 + page_2)
    last = retriever.search("jungle", k=1, neighbours=3, where={"page": 1})[0]
    assert set(last.metadata[CONTEXT_IDS]) <= {c.id for c in page_1}  # a PDF page does not run on
    first = retriever.search("zebra zebra", k=1, neighbours=2)[0]
    assert first.metadata[CONTEXT_IDS] == [c.id for c in page_2[:3]]
    only = retriever.search("forest", k=1, neighbours=1, where={"chunk_index": at(page_1, "forest")})[0]
    assert only.metadata[CONTEXT_IDS] == [only.id]  # the neighbours were filtered out


def test_a_text_without_a_place_in_a_document_gets_no_neighbours(doc: list[Chunk]) -> None:
    memory = Chunk("m1", "text:m1", "Ada parks in bay four", 0, 21, {"rag_index_text": "doc_id,created_at"})
    retriever = make_retriever([*doc, memory])
    hit = retriever.search("Ada parks bay four", k=1, neighbours=2)[0]
    assert hit.id == "m1" and hit.text == "Ada parks in bay four" and CONTEXT_IDS not in hit.metadata


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1, "greater than or equal to 0"), ("two", "valid integer"), (1.5, "valid integer"), (True, "integer")],
)
def test_a_bad_neighbours_value_is_refused_naming_the_field(value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"retrieval\.neighbours: .*{expected}"):
        Retriever(FakeEmbedder(), ChromaStore("unused", "c", "cosine"), neighbours=value)


async def mcp_search(index: RagIndex, **arguments: object) -> dict[str, Any]:
    async with Client(create_mcp(Service(index))) as client:
        return dict((await client.call_tool("search", arguments)).structured_content or {})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[RagIndex, TestClient]:
    root = tmp_path_factory.mktemp("neighbours")
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text(TEXT, encoding="utf-8")
    chunking = {"strategy": "recursive", "size": 12, "overlap": 4}
    index = RagIndex(store={"path": str(root / "store")}, chunking=chunking, embedder=FakeEmbedder())
    index.index(root / "docs")
    return index, TestClient(create_app(index))


def test_neighbours_flow_through_http_and_the_remote_client(served: tuple[RagIndex, TestClient]) -> None:
    _, client = served
    body = {"query": "forest forest", "k": 1, "search_type": "similarity"}
    plain = client.post("/search", json=body).json()["hits"][0]
    wide = client.post("/search", json={**body, "neighbours": 1}).json()["hits"][0]
    assert wide["id"] == plain["id"] and plain["text"] in wide["text"]
    assert len(wide["metadata"][CONTEXT_IDS]) == 3
    bad = client.post("/search", json={**body, "neighbours": -1})
    assert bad.status_code == 422 and "retrieval.neighbours" in bad.text
    remote = RemoteIndex("http://testserver", client=client)
    assert remote.search("forest forest", k=1, search_type="similarity", neighbours=1)[0].text == wide["text"]
    with pytest.raises(ConfigError, match=r"retrieval\.neighbours"):
        remote.search("forest", neighbours=-2)


def test_neighbours_flow_through_mcp_and_a_memory_gets_none(served: tuple[RagIndex, TestClient]) -> None:
    index, client = served
    found = asyncio.run(mcp_search(index, query="forest forest", k=1, neighbours=1))["hits"][0]  # hybrid
    assert "forest" in found["text"] and len(found["metadata"][CONTEXT_IDS]) == 3
    client.post("/texts", json={"texts": ["Ada parks in bay four"], "ids": ["m1"], "namespace": "ada"})
    memory = {"query": "Ada parks bay four", "k": 1, "namespace": "ada", "neighbours": 2}
    hit = client.post("/search", json=memory).json()["hits"][0]
    assert hit["id"] == "m1" and hit["text"] == "Ada parks in bay four" and CONTEXT_IDS not in hit["metadata"]
