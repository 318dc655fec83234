"""A store that cannot be written stops the run with one line naming store.path and the cause."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chromadb.errors import InternalError

from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.errors import StoreError
from rag_index.index.run import index_folder
from rag_index.storage.chroma import ChromaStore
from tests.fakes import FakeEmbedder
from tests.tiny_model import make_tiny_model

REPO = Path(__file__).resolve().parents[1]


def test_a_failing_chroma_write_is_a_store_error_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Burrs are cleaned monthly.")
    embedder = FakeEmbedder()
    store = ChromaStore(str(tmp_path / "store"), "docs")

    def full(*args: object, **kwargs: object) -> None:
        raise InternalError("Failed to apply logs to the metadata segment")

    store.open(embedder.fingerprint)
    monkeypatch.setattr(type(store.collection), "upsert", full)
    chunker = make_chunker("recursive", 50, 5, "tokens", embedder, embedder.max_content_tokens)
    expected = rf"^store\.path {tmp_path / 'store'}: the Chroma store cannot be used: Failed .*there$"
    with pytest.raises(StoreError, match=expected):
        index_folder(tmp_path / "docs", LoaderConfig(), chunker, embedder, store, progress=False)


def test_one_relative_store_path_in_two_working_folders_is_two_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that indexes `store` from one folder, then from another, writes each folder's own store."""
    embedder = FakeEmbedder()
    chunker = make_chunker("recursive", 50, 5, "tokens", embedder, embedder.max_content_tokens)
    for name in ("first", "second"):
        (tmp_path / name / "docs").mkdir(parents=True)
        (tmp_path / name / "docs" / f"{name}.txt").write_text(f"The {name} folder's only note.")
        monkeypatch.chdir(tmp_path / name)
        store = ChromaStore("store", "docs")
        index_folder(Path("docs"), LoaderConfig(), chunker, embedder, store, progress=False)
    for name in ("first", "second"):
        monkeypatch.chdir(tmp_path / name)
        store = ChromaStore("store", "docs")
        store.attach()
        assert [chunk.text for page in store.chunks() for chunk in page] == [
            f"The {name} folder's only note."
        ]


@contextlib.contextmanager
def small_file_system(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of the given size mounted at path (root only); skips where mounting is not allowed."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_ends_the_cli_with_one_line(tmp_path: Path) -> None:
    model = make_tiny_model(tmp_path / "tiny-model")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):  # about 6 MB of text: more than the 4 MB file system holds
        (docs / f"notes {i}.txt").write_text(
            "\n\n".join(f"Entry {i}-{j}: the measured value was {i * j} units." for j in range(9000))
        )
    with small_file_system(tmp_path / "small", "4m") as small:
        args = [sys.executable, "-m", "rag_index.cli", "index", str(docs), "--json", "--quiet"]
        for item in [f"store.path={small / 'store'}", f"embedder.model={model}", "embedder.pooling=mean"]:
            args += ["--set", item]
        result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag-index: error: ") and str(small) in lines[0], lines
    assert lines[0].endswith("check the free space and permissions there"), lines
