"""Chroma server mode against a real `chroma run` server: index, re-index, query; server down or dying."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag_index.storage.writer as writer
from rag_index.build import build_embedder, build_store
from rag_index.config import Config, load_config
from rag_index.index.local import index_with_config
from rag_index.index.run import open_manifest
from rag_index.index.verify import verify
from rag_index.search.retriever import Retriever
from rag_index.storage.chroma import Server, StoreError
from tests.chroma_server import ChromaServer, free_port


def http_config(tmp_path: Path, model: Path, port: int, retries: int = 4) -> Config:
    return load_config(
        None,
        [
            "store.mode=http",
            "store.host=127.0.0.1",
            f"store.port={port}",
            f"store.retries={retries}",
            f"store.path={tmp_path / 'state'}",
            f"embedder.model={model}",
            "embedder.pooling=mean",
            "embedder.device=cpu",
            "chunking.size=40",
            "chunking.overlap=5",
        ],
    )


def make_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        body = "\n\n".join(f"Server note {j} of file {i} about lighthouse {j * i}." for j in range(80))
        (root / f"doc {i}.txt").write_text(body)
    return root


def ids_by_source(config: Config) -> dict[str, set[str]]:
    store = build_store(config.store)
    store.attach()
    got: dict[str, set[str]] = {}
    for id_, meta in store.records():
        got.setdefault(meta["source"], set()).add(id_)
    return got


def embedded_twin(config: Config, tmp_path: Path) -> Config:
    """The same config with an embedded store: what the server must hold too."""
    store = config.store.model_copy(update={"mode": "embedded", "path": str(tmp_path / "twin")})
    return config.model_copy(update={"store": store})


def test_index_reindex_and_query_through_a_server(
    server: ChromaServer, tmp_path: Path, tiny_model: Path
) -> None:
    root = make_folder(tmp_path / "docs")
    config = http_config(tmp_path, tiny_model, server.port)
    first = index_with_config(root, config, progress=False)
    assert first.files_indexed == 4 and first.store == f"http://127.0.0.1:{server.port}"
    again = index_with_config(root, config, progress=False)
    assert (again.files_unchanged, again.chunks_embedded, again.chunks_written) == (4, 0, 0)
    (root / "doc 0.txt").write_text("Only one short line now.\n")
    (root / "doc 3.txt").unlink()
    changed = index_with_config(root, config, progress=False)
    assert (changed.files_indexed, changed.files_removed) == (1, 1)

    twin = embedded_twin(config, tmp_path)
    index_with_config(root, twin, progress=False)
    assert ids_by_source(config) == ids_by_source(twin)
    assert verify(config)[0].ok

    embedder = build_embedder(config.embedder)
    store = build_store(config.store)
    store.open(embedder.fingerprint, create=False)
    # The chunk was embedded after its file's name (chunking.file_names).
    hits = Retriever(embedder, store, k=3, search_type="similarity").search("doc 0\nOnly one short line now.")
    assert hits[0].metadata["source"] == "doc 0.txt" and hits[0].score > 0.99
    assert not (tmp_path / "state" / "chroma.sqlite3").exists(), "http mode must not create a local database"


def test_server_down_is_a_clear_error_after_bounded_retries(tmp_path: Path, tiny_model: Path) -> None:
    config = http_config(tmp_path, tiny_model, free_port(), retries=2)
    root = make_folder(tmp_path / "docs")
    with pytest.raises(
        StoreError, match=r"Chroma server at http://127\.0\.0\.1:\d+ is not answering after 3 attempt"
    ):
        index_with_config(root, config, progress=False)


def test_server_dying_mid_run_records_nothing_half_written(
    server: ChromaServer, tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "docs")
    config = http_config(tmp_path, tiny_model, server.port, retries=1)

    def die_after_first_write(point: str) -> None:
        if point == "written":
            server.stop()  # the server is killed after the first batch is in

    monkeypatch.setattr(writer, "WRITE_BATCH", 16)
    with pytest.raises(StoreError, match="is not answering after 2 attempt"):
        index_with_config(root, config, progress=False, checkpoint=die_after_first_write)
    manifest = open_manifest(build_store(config.store))
    assert not any(entry.done for entry in manifest.entries().values())
    manifest.close()

    monkeypatch.undo()
    server.start()
    report = index_with_config(root, config, progress=False)
    assert report.files_indexed == 4
    twin = embedded_twin(config, tmp_path)
    index_with_config(root, twin, progress=False)
    assert ids_by_source(config) == ids_by_source(twin)


def test_the_token_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server("localhost", 8000, token_env="RAG_TEST_TOKEN")
    with pytest.raises(StoreError, match="environment variable RAG_TEST_TOKEN is not set"):
        server.headers()
    monkeypatch.setenv("RAG_TEST_TOKEN", "s3cret")
    assert server.headers() == {"Authorization": "Bearer s3cret"}
    assert "s3cret" not in repr(server) and "s3cret" not in server.url
