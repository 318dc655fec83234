"""Bad input, tried as a new user would: every file is indexed or listed with a specific reason, the run
completes, and everything else in the folder is indexed."""

from __future__ import annotations

import os
import shutil
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import chromadb
import pytest

import rag_index.index.run as pipeline
import rag_index.index.survey as survey
from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.index.report import IndexReport
from rag_index.index.run import index_folder
from rag_index.storage.chroma import ChromaStore
from tests.conftest import DATA, SHARED
from tests.fakes import FakeEmbedder

SAMPLE_PDFS = SHARED / "pdfs" / "sample-files"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def run(root: Path, tmp_path: Path, loader: LoaderConfig | None = None) -> tuple[IndexReport, ChromaStore]:
    embedder = FakeEmbedder()
    store = ChromaStore(str(tmp_path / "store"), f"c-{uuid.uuid4().hex}", client=chromadb.EphemeralClient())
    chunker = make_chunker("recursive", 60, 5, "tokens", embedder, embedder.max_content_tokens)
    report = index_folder(root, loader or LoaderConfig(), chunker, embedder, store, progress=False)
    return report, store


def reasons(report: IndexReport) -> dict[str, str]:
    return {skipped.path: skipped.reason for skipped in report.skipped}


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "ünïcode dir").mkdir(parents=True)
    handbook = (DATA / "handbook.pdf").read_bytes() if (DATA / "handbook.pdf").exists() else None
    (root / "good.txt").write_text("A perfectly ordinary file about harbour lights.\n")
    (root / "ünïcode dir" / "naïve file ☃ with spaces.md").write_text(
        "# Snow\n\nA snowman made of Unicode.\n"
    )
    (root / "latin-1.txt").write_bytes("Grüße aus Köln, ça va?".encode("latin-1"))
    (root / "utf-16.txt").write_bytes("Grüße in UTF-16 mit BOM.\n".encode("utf-16"))
    (root / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (root / "zero.pdf").write_bytes(b"")
    (root / "image.pdf").write_bytes(PNG)
    if handbook is not None:
        (root / "truncated.pdf").write_bytes(handbook[: len(handbook) // 3])
    os.symlink(root / "loop-b.txt", root / "loop-a.txt")
    os.symlink(root / "loop-a.txt", root / "loop-b.txt")
    outside = tmp_path / "outside.txt"
    outside.write_text("A file outside the indexed folder.\n")
    os.symlink(outside, root / "outside-link.txt")
    return root


def test_each_bad_file_is_listed_with_a_specific_reason(bad_folder: Path, tmp_path: Path) -> None:
    report, store = run(bad_folder, tmp_path)
    got = reasons(report)
    expected = {
        "latin-1.txt": "not UTF-8 text",
        "binary.txt": "binary file",
        "zero.pdf": "empty file",
        "image.pdf": "not a PDF",
        "loop-a.txt": "symlink loop",
        "loop-b.txt": "symlink loop",
        "outside-link.txt": (
            "symlink leads outside the indexed folder (set loader.follow_symlinks to follow it)"
        ),
    }
    assert {path: got[path] for path in expected} == expected
    if "truncated.pdf" in got:
        assert got["truncated.pdf"].startswith("corrupt PDF")
    assert set(store.sources()) == {"good.txt", "utf-16.txt", "ünïcode dir/naïve file ☃ with spaces.md"}
    assert report.files_indexed == 3


def test_symlinks_outside_the_root_are_followed_only_when_configured(
    bad_folder: Path, tmp_path: Path
) -> None:
    report, store = run(bad_folder, tmp_path, LoaderConfig(follow_symlinks=True))
    assert "outside-link.txt" not in reasons(report)
    assert "outside-link.txt" in store.sources()


def test_huge_file_is_listed_and_never_read_into_memory(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "small.txt").write_text("Small and fine.\n")
    with (root / "huge.txt").open("w") as handle:
        for _ in range(50):  # 50 MB of words and no line break
            handle.write("words " * 166_666 + "word")  # exactly 1 MB
    tracemalloc.start()
    try:
        report, store = run(root, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reasons(report) == {"huge.txt": "too large: 50.0 MB > loader.max_file_mb (20 MB)"}
    assert set(store.sources()) == {"small.txt"}
    assert peak < 20e6, f"peak Python memory {peak / 1e6:.0f} MB: the file was read whole"


def test_unreadable_file_is_listed_as_permission_denied(
    bad_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod 000 does not stop root, and the tests may run as root: make the OS error happen where a
    # locked-down file would raise it, when the file is opened.
    real_open = Path.open
    locked = bad_folder / "good.txt"

    def guarded_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    report, store = run(bad_folder, tmp_path)
    assert reasons(report)["good.txt"] == "permission denied"
    assert "good.txt" not in store.sources() and "utf-16.txt" in store.sources()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "secret.txt").write_text("hidden")
    (root / "secret.txt").chmod(0)
    report, _ = run(root, tmp_path)
    assert reasons(report) == {"secret.txt": "permission denied"}


def test_files_deleted_during_the_run_are_listed_and_the_run_completes(
    bad_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_digest, real_load = survey.file_digest, pipeline.load_file

    def digest_then_delete(path: Path) -> str:
        digest = real_digest(path)
        if path.name == "good.txt":  # gone between hashing and parsing
            path.unlink()
        return digest

    def load_then_delete(path: Path, *args: Any) -> Any:
        (bad_folder / "utf-16.txt").unlink(missing_ok=True)  # gone before its turn comes
        return real_load(path, *args)

    monkeypatch.setattr(survey, "file_digest", digest_then_delete)
    monkeypatch.setattr(pipeline, "load_file", load_then_delete)
    report, store = run(bad_folder, tmp_path)
    got = reasons(report)
    assert got["good.txt"] == got["utf-16.txt"] == "file not found"
    assert set(store.sources()) == {"ünïcode dir/naïve file ☃ with spaces.md"}


@pytest.mark.skipif(not SAMPLE_PDFS.is_dir(), reason=f"shared sample PDFs not found at {SAMPLE_PDFS}")
def test_real_world_pdfs_are_indexed_or_listed_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "pdfs"
    shutil.copytree(SAMPLE_PDFS, root)
    report, store = run(root, tmp_path)
    got = reasons(report)
    assert got["libreoffice-writer-password.pdf"] == "encrypted (password required)"
    # Images without writing (a drawing; 16x16 pixels): OCR (loader.ocr auto) runs and finds nothing to index.
    assert got["grayscale-image.pdf"] == "no text layer (image-only PDF?); OCR read no text either"
    assert got["imagemagick-CCITTFaxDecode.pdf"] == "no text layer (image-only PDF?); OCR read no text either"
    assert got["unreadablemetadata.pdf"].startswith("corrupt PDF")
    indexed = set(store.sources())
    assert indexed | set(got) == {p.name for p in SAMPLE_PDFS.glob("*.pdf")}
    assert {"habibi.pdf", "habibi-rotated.pdf", "pdflatex-forms.pdf", "with-attachment.pdf"} <= indexed
    assert report.files_indexed == len(indexed)
