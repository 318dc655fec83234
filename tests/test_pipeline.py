"""The pipeline and the store with a fake embedder and an in-memory Chroma client."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import chromadb
import numpy as np
import pytest

from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.index.run import index_folder
from rag_index.search.retriever import Retriever
from rag_index.storage.base import chroma_metadata
from rag_index.storage.chroma import ChromaStore, StoreError
from rag_index.storage.writer import WRITE_BATCH
from rag_index.types import Chunk
from tests.fakes import FakeEmbedder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "grinder.txt").write_text(
        "The Aurora grinder has conical steel burrs.\n\nIt grinds 2 grams per second.\n"
    )
    (root / "sub" / "harbour.md").write_text(
        "# Harbour\n\nThe lighthouse signal flashes every ten seconds.\n"
    )
    (root / "notes.html").write_text("<html><body><p>Invoices are due within thirty days.</p></body></html>")
    (root / "empty.txt").write_text("")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02garbage\x00")
    return root


def make_store(tmp_path: Path, name: str = "") -> ChromaStore:
    # In-memory Chroma clients share one state per process, so every test gets its own collection.
    return ChromaStore(
        str(tmp_path / "store"), name or f"c-{uuid.uuid4().hex}", client=chromadb.EphemeralClient()
    )


def run(root: Path, store: ChromaStore, embedder: FakeEmbedder | None = None, **kwargs: object):
    embedder = embedder or FakeEmbedder()
    chunker = make_chunker("recursive", 40, 5, "tokens", embedder, embedder.max_content_tokens)
    return index_folder(root, LoaderConfig(), chunker, embedder, store, progress=False, **kwargs)


def test_indexes_readable_files_and_reports_the_rest(folder: Path, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    report = run(folder, store)
    assert report.files_indexed == 3
    assert {s.path for s in report.skipped} == {"empty.txt", "binary.txt"}
    assert all(s.reason for s in report.skipped)
    assert report.chunks_written == store.count() > 0
    assert set(store.sources()) == {"grinder.txt", "notes.html", "sub/harbour.md"}


def test_chunk_metadata_has_source_hash_and_offsets(folder: Path, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    run(folder, store)
    got = store.collection.get(include=["metadatas", "documents"])
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        assert {"source", "content_hash", "start", "end", "doc_id"} <= set(meta)
        original = (folder / meta["source"]).read_text()
        if meta["source"].endswith(".txt"):
            assert original[meta["start"] : meta["end"]] == text


def test_reindexing_the_same_folder_keeps_ids_and_count(folder: Path, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    run(folder, store)
    first = sorted(store.collection.get()["ids"])
    run(folder, store)
    assert sorted(store.collection.get()["ids"]) == first


def test_retriever_ranks_the_matching_chunk_first(folder: Path, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    embedder = FakeEmbedder()
    run(folder, store, embedder)
    results = Retriever(embedder, store, k=3, search_type="similarity").search(
        "how often does the lighthouse signal flash"
    )
    assert results[0].metadata["source"] == "sub/harbour.md"
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert (
        Retriever(embedder, store, search_type="similarity")
        .search("grinder", where={"source": "notes.html"}, k=1)[0]
        .metadata["source"]
        == "notes.html"
    )


def test_a_different_embedder_is_refused_unless_recreate(folder: Path, tmp_path: Path) -> None:
    store = make_store(tmp_path)
    run(folder, store, FakeEmbedder(tag="one"))
    with pytest.raises(StoreError, match=r"different embedder:\n  stored: .*one.*\n  current: .*two"):
        run(folder, store, FakeEmbedder(tag="two"))
    report = run(folder, store, FakeEmbedder(tag="two"), recreate=True)
    assert store.stored_fingerprint() == FakeEmbedder(tag="two").fingerprint
    assert store.count() == report.chunks_written


def test_querying_a_missing_collection_is_a_clear_error(tmp_path: Path) -> None:
    store = make_store(tmp_path, "never-built")
    with pytest.raises(StoreError, match="run `rag-index index PATH` first"):
        store.open(FakeEmbedder().fingerprint, create=False)
    with pytest.raises(StoreError, match="run `rag-index index PATH` first"):
        store.attach()


def test_writes_are_batched_below_chromas_limit(folder: Path, tmp_path: Path, monkeypatch) -> None:
    store = make_store(tmp_path)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 2)
    report = run(folder, store)
    assert store.count() == report.chunks_written > 2


def test_metadata_is_flattened_for_chroma() -> None:
    flat = chroma_metadata({"a": 1, "b": None, "c": ["x", 2], "d": {"k": "v"}, "e": True, "f": 0.5})
    assert flat == {"a": 1, "c": '["x", 2]', "d": '{"k": "v"}', "e": True, "f": 0.5}


def test_no_metadata_value_can_break_the_store(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.open(FakeEmbedder().fingerprint)
    hostile = {
        "source": "x.txt",
        "huge": 2**70,
        "nan": float("nan"),
        "inf": float("-inf"),
        "nested": {"a": [1, {"b": None}]},
        "bytes": b"\x00\xff",
        "": "empty key",
        "none": None,
        "flag": True,
    }
    chunk = Chunk("id-1", "doc-1", "text", 0, 4, hostile)
    store.upsert([chunk], FakeEmbedder().encode_documents(["text"]))
    stored = store.collection.get(ids=["id-1"], include=["metadatas"])["metadatas"][0]
    assert stored["huge"] == str(2**70) and stored["nan"] == "NaN" and stored["inf"] == "-Infinity"
    assert stored["nested"] == '{"a": [1, {"b": null}]}' and stored["flag"] is True
    assert "none" not in stored and "" not in stored


class RecordingEmbedder(FakeEmbedder):
    """A FakeEmbedder that records each encode call's size and thread."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, str]] = []

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append((len(texts), threading.current_thread().name))
        return super().encode_documents(texts)


def test_files_are_embedded_a_write_batch_at_a_time_in_a_thread_ahead(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for n in range(40):  # small files: several go to one encoder call
        (root / f"note{n:02d}.txt").write_text(
            "\n\n".join(f"Note {n} paragraph {p}: grinder burrs {n * p} tamper" for p in range(40))
        )
    embedder, store = RecordingEmbedder(), make_store(tmp_path)
    report = run(root, store, embedder)
    sizes = [size for size, _ in embedder.calls]
    assert sum(sizes) == report.chunks_embedded == report.chunks_written
    assert len(sizes) >= 2 and all(size >= WRITE_BATCH for size in sizes[:-1])
    assert {thread for _, thread in embedder.calls} == {"rag-index-prefetch"}  # not the writing thread
    # Each file got its own vectors out of its group's: the stored vector is its own text's.
    stored = store.collection.get(include=["documents", "embeddings", "metadatas"])
    chunker = make_chunker("recursive", 40, 5, "tokens", embedder, embedder.max_content_tokens)
    rows = zip(stored["documents"], stored["embeddings"], stored["metadatas"], strict=True)
    for text, vector, meta in rows:
        chunk = Chunk("", "", text, 0, len(text), dict(meta))
        expected = FakeEmbedder().encode_documents([chunker.embedding_text(chunk)])[0]
        np.testing.assert_allclose(vector, expected, atol=1e-6)
