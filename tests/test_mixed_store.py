"""One scale for every chunk: files and texts added through the API compete in one store.

The sample corpus and twelve agent memories (data/memories.json, each with a paraphrased question) in one
collection, with the real default model and the default search: the memory questions find their memory
first as often as dense search finds it, and every sample question (the demo's included) finds its page
first, whichever was written first and whether the lexical write buffer still holds the texts or has
merged them into tantivy.
"""

from __future__ import annotations

import json

import pytest

from rag_index.api import RagIndex
from rag_index.build import build_lexical
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.storage.lexical_buffer import BUFFER_LIMIT
from tests.conftest import DATA

QUESTIONS = json.loads((DATA / "questions.json").read_text())
MEMORIES = json.loads((DATA / "memories.json").read_text())
DEMO = "How long does the Aurora grinder warranty last?"  # the Makefile's `make demo` question


def mixed_store(path, embedder: PoolingEmbedder, texts: str, merged: bool) -> RagIndex:
    """The sample corpus and the memories: texts "first", "after" the files, or "none"."""
    index = RagIndex(store={"path": str(path)}, embedder=embedder)
    add = lambda: index.add_texts([m["text"] for m in MEMORIES], ids=[m["id"] for m in MEMORIES])  # noqa: E731
    if texts == "first":
        add()
    index.index(DATA)  # an index run merges the buffer at its end
    if texts == "after":
        add()
    lexical = build_lexical(index.config.lexical, index.store)
    assert lexical is not None
    if merged:
        lexical.merge()
    assert (lexical._buffer.count() == 0) == (merged or texts != "after")
    return index


@pytest.fixture(
    scope="module",
    params=[("none", False), ("after", False), ("after", True), ("first", False)],
    ids=["files-alone", "files-then-texts-buffered", "files-then-texts-merged", "texts-then-files"],
)
def index(request: pytest.FixtureRequest, embedder: PoolingEmbedder, tmp_path_factory) -> RagIndex:
    texts, merged = request.param
    return mixed_store(tmp_path_factory.mktemp("mixed"), embedder, texts, merged)


def holds_memories(index: RagIndex) -> bool:
    return index.text_count() > 0


def test_the_memories_fit_in_the_write_buffer() -> None:
    assert len(MEMORIES) < BUFFER_LIMIT  # so "buffered" above really searches the buffer


def test_memories_are_found_first_among_the_files_as_often_as_by_dense_search(index: RagIndex) -> None:
    if not holds_memories(index):
        pytest.skip("a store of files alone holds no memories")

    def first(**options: str) -> set[str]:
        return {m["id"] for m in MEMORIES if index.search(m["question"], **options)[0].id == m["id"]}

    hybrid, dense = first(), first(search_type="similarity")
    assert len(hybrid) >= len(dense) >= 10, (sorted(hybrid), sorted(dense))


def test_every_sample_question_finds_its_page_first_beside_the_memories(index: RagIndex) -> None:
    assert any(q["question"] == DEMO for q in QUESTIONS)
    missed = []
    for item in QUESTIONS:
        top = index.search(item["question"])[0].metadata
        if top.get("source") != item["source"] or (
            item["page"] is not None and top.get("page") != item["page"]
        ):
            missed.append((item["question"], top.get("source"), top.get("page")))
    assert not missed


def test_a_memory_is_a_document_of_its_own_scored_by_its_chunk(index: RagIndex) -> None:
    if not holds_memories(index):
        pytest.skip("a store of files alone holds no memories")
    memory = MEMORIES[0]
    hits = index.search(memory["question"], k=10)
    hit = next(h for h in hits if h.id == memory["id"])
    # Its document (the text itself) is scored as every file is, and takes no share: one chunk adds nothing.
    assert hit.metadata["document_score"] > 0 and hit.metadata["document_share"] == 0
    files = [h for h in hits if "source" in h.metadata and h.metadata.get("document_share", 0) > 0]
    assert files  # the files' chunks do take a share, by their chunk counts
