"""Incremental indexing: unchanged files are hashed not parsed, changes replace chunks, deletions prune."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import rag_index.index.local as local_engine
import rag_index.index.run as pipeline
from rag_index.build import build_chunker, build_embedder, build_lexical, build_store
from rag_index.chunking import make_chunker
from rag_index.config import LoaderConfig
from rag_index.index.local import index_with_config, unchanged_report
from rag_index.index.report import IndexReport
from rag_index.index.run import index_folder, open_manifest
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.manifest import Manifest
from tests.fakes import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    """FakeEmbedder that remembers how many texts it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts: list[str] = []

    def encode_documents(self, texts: Any) -> Any:
        self.calls += len(texts)
        self.texts.extend(texts)
        return super().encode_documents(texts)


def paragraphs(topic: str, n: int = 12) -> str:
    return "\n\n".join(f"Paragraph {i} is about {topic} and the number {i * 7}." for i in range(n))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text(paragraphs("apples"))
    (root / "b.md").write_text("# Bees\n\n" + paragraphs("bees"))
    (root / "sub" / "c.txt").write_text(paragraphs("cherries"))
    return root


def index(
    root: Path,
    store_path: Path,
    embedder: FakeEmbedder | None = None,
    size: int = 30,
    loader: LoaderConfig | None = None,
    file_names: bool = False,
    headers: bool = False,
    **kwargs: Any,
) -> IndexReport:
    embedder = embedder or FakeEmbedder()
    chunker = make_chunker(
        "recursive",
        size,
        5,
        "tokens",
        embedder,
        embedder.max_content_tokens,
        file_names=file_names,
        headers=headers,
    )
    store = ChromaStore(str(store_path), "docs")
    return index_folder(
        root,
        loader or LoaderConfig(),
        chunker,
        embedder,
        store,
        progress=False,
        **kwargs,
    )


def contents(store_path: Path) -> dict[str, tuple[str, str]]:
    """id -> (source, text) of everything in the collection."""
    store = ChromaStore(str(store_path), "docs")
    store.attach()
    got = store.collection.get(include=["metadatas", "documents"])
    return {
        id_: (meta["source"], text)
        for id_, meta, text in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }


def clean_run(root: Path, tmp_path: Path, size: int = 30) -> dict[str, tuple[str, str]]:
    """What a fresh store holds after indexing root once."""
    store_path = tmp_path / "clean"
    shutil.rmtree(store_path, ignore_errors=True)
    index(root, store_path, size=size)
    return contents(store_path)


def test_unchanged_folder_is_hashed_not_parsed_and_embeds_nothing(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = tmp_path / "store"
    first = index(folder, store_path)
    assert first.files_indexed == 3 and first.chunks_embedded == first.chunks_written > 3

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged file was parsed")

    monkeypatch.setattr(pipeline, "load_file", no_parsing)
    embedder = CountingEmbedder()
    again = index(folder, store_path, embedder)
    assert (again.files_indexed, again.files_unchanged, again.chunks_embedded) == (0, 3, 0)
    assert (again.chunks_written, again.chunks_deleted, embedder.calls) == (0, 0, 0)
    monkeypatch.undo()
    assert contents(store_path) == clean_run(folder, tmp_path)


def test_changed_file_has_its_old_chunks_replaced(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    before = contents(store_path)
    (folder / "a.txt").write_text(paragraphs("avocados", 5))
    report = index(folder, store_path)
    assert (report.files_indexed, report.files_unchanged) == (1, 2)
    after = contents(store_path)
    assert after == clean_run(folder, tmp_path)
    old_a = {id_ for id_, (source, _) in before.items() if source == "a.txt"}
    assert report.chunks_deleted == len(old_a) and not old_a & set(after)
    assert all("apples" not in text for source, text in after.values() if source == "a.txt")


def test_deleted_file_is_pruned_unless_no_prune(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    (folder / "sub" / "c.txt").unlink()
    kept = index(folder, store_path, prune=False)
    assert kept.files_removed == 0
    assert "sub/c.txt" in {source for source, _ in contents(store_path).values()}
    pruned = index(folder, store_path)
    assert pruned.files_removed == 1 and pruned.chunks_deleted > 0
    assert contents(store_path) == clean_run(folder, tmp_path)
    assert "sub/c.txt" not in open_manifest(ChromaStore(str(store_path), "docs")).entries()


def test_changed_chunking_settings_rechunk_every_file(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path, size=30)
    report = index(folder, store_path, size=60)
    assert (report.files_indexed, report.files_unchanged) == (3, 0)
    assert contents(store_path) == clean_run(folder, tmp_path, size=60)


def test_identical_texts_are_embedded_once(folder: Path, tmp_path: Path) -> None:
    shutil.copy(folder / "a.txt", folder / "copy-of-a.txt")
    embedder = CountingEmbedder()
    report = index(folder, tmp_path / "store", embedder)
    chunks_of_a = sum(1 for source, _ in contents(tmp_path / "store").values() if source == "a.txt")
    assert report.chunks_written == report.chunks_embedded + chunks_of_a
    assert embedder.calls == report.chunks_embedded


def test_a_renamed_file_reuses_the_stored_vectors(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    (folder / "a.txt").rename(folder / "renamed.txt")
    embedder = CountingEmbedder()
    report = index(folder, store_path, embedder)
    assert report.files_indexed == 1 and report.files_removed == 1
    assert report.chunks_embedded == embedder.calls == 0 < report.chunks_written
    assert contents(store_path) == clean_run(folder, tmp_path)


def test_chunks_are_embedded_after_their_file_name_but_stored_without(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    embedder = CountingEmbedder()
    index(folder, store_path, embedder, file_names=True)
    stored = contents(store_path)
    names = {"a.txt": "a", "b.md": "b", "sub/c.txt": "c"}
    assert sorted(embedder.texts) == sorted(f"{names[source]}\n{text}" for source, text in stored.values())
    assert stored == clean_run(folder, tmp_path)  # the same chunks and texts as without names


def test_turning_file_names_on_embeds_every_file_again(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    embedder = CountingEmbedder()
    report = index(folder, store_path, embedder, file_names=True)
    assert (report.files_indexed, report.files_unchanged) == (3, 0)
    assert report.chunks_embedded == embedder.calls == report.chunks_written  # no vector reused


def test_turning_headers_on_re_embeds_the_chunks_under_a_heading_and_then_nothing(
    folder: Path, tmp_path: Path
) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    before = contents(store_path)
    embedder = CountingEmbedder()
    report = index(folder, store_path, embedder, headers=True)
    # Every file is chunked again; only b.md's chunks, under "# Bees", embed another text.
    assert (report.files_indexed, report.files_unchanged) == (3, 0)
    bees = [text for source, text in contents(store_path).values() if source == "b.md"]
    assert report.chunks_embedded == embedder.calls == len(bees) > 0
    assert all(text.startswith("Bees\n") for text in embedder.texts)
    assert contents(store_path) == before  # the same chunks and stored texts
    again = CountingEmbedder()
    report = index(folder, store_path, again, headers=True)
    assert (report.files_indexed, report.files_unchanged, report.chunks_embedded, again.calls) == (0, 3, 0, 0)


def test_unreadable_files_are_remembered_and_listed_again(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    store_path = tmp_path / "store"
    first = index(folder, store_path)
    assert [(s.path, s.reason.split(":")[0]) for s in first.skipped] == [("broken.pdf", "corrupt PDF")]
    monkeypatch.setattr(pipeline, "load_file", lambda *a, **k: pytest.fail("parsed again"))
    again = index(folder, store_path)
    assert again.skipped == first.skipped and again.files_unchanged == 3


def test_a_file_that_becomes_unreadable_loses_its_chunks(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    (folder / "a.txt").write_bytes(b"")
    report = index(folder, store_path)
    assert [(s.path, s.reason) for s in report.skipped] == [("a.txt", "empty file")]
    assert "a.txt" not in {source for source, _ in contents(store_path).values()}


def test_indexing_one_file_does_not_prune_the_others(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    (folder / "a.txt").write_text(paragraphs("apricots", 3))
    report = index(folder, store_path, loader=LoaderConfig(include=["a.txt"]))
    assert (report.files_indexed, report.files_removed) == (1, 0)
    assert contents(store_path) == clean_run(folder, tmp_path)


def test_recreate_starts_the_manifest_over(folder: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    report = index(folder, store_path, recreate=True)
    assert report.files_indexed == 3 and report.files_unchanged == 0
    assert contents(store_path) == clean_run(folder, tmp_path)


def test_manifest_entry_is_done_only_with_a_hash(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.sqlite3")
    manifest.begin([("a.txt", "/r", "s", ["id1", "id2"])])
    assert not manifest.entries()["a.txt"].done
    manifest.begin([("a.txt", "/r", "s", ["id3"])])
    assert manifest.entries()["a.txt"].chunk_ids == ("id1", "id2", "id3")
    manifest.remove(["a.txt"])
    assert manifest.entries() == {}


def test_a_collection_replaced_behind_the_manifests_back_is_indexed_again(
    folder: Path, tmp_path: Path
) -> None:
    store_path = tmp_path / "store"
    index(folder, store_path)
    store = ChromaStore(str(store_path), "docs")
    store.client.delete_collection("docs")  # e.g. another tool dropped it
    report = index(folder, store_path)
    assert report.files_indexed == 3 and report.files_unchanged == 0
    assert contents(store_path) == clean_run(folder, tmp_path)


def tiny_config(tmp_path: Path, *more: str) -> Any:
    """A config for the tiny model (fast to load), storing under tmp_path."""
    from rag_index.config import load_config
    from tests.tiny_model import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny-model")
    overrides = [f"embedder.model={model}", "embedder.backend=torch", f"store.path={tmp_path / 'store'}"]
    return load_config(None, [*overrides, *more])


def without_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building an embedder fail, as proof that a run did not need one."""

    def refuse(config: Any) -> Any:
        raise AssertionError("an embedder was built for an unchanged folder")

    monkeypatch.setattr(local_engine, "build_embedder", refuse)


def test_an_unchanged_rerun_builds_no_embedder_and_reports_what_a_full_run_reports(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "locked.pdf").write_bytes(b"%PDF-1.4 not really")  # a skipped file, remembered as such
    config = tiny_config(tmp_path)
    first = index_with_config(folder, config, progress=False)
    assert first.files_indexed == 3 and len(first.skipped) == 1
    embedder = build_embedder(config.embedder)
    store = build_store(config.store)
    full = index_folder(
        folder,
        config.loader,
        build_chunker(config.chunking, embedder),
        embedder,
        store,
        lexical=build_lexical(config.lexical, store),
        progress=False,
    )
    without_embedder(monkeypatch)
    quick = index_with_config(folder, config, progress=False)
    assert (quick.files_unchanged, quick.chunks_embedded) == (3, 0)
    assert {**quick.to_dict(), "seconds": 0} == {**full.to_dict(), "seconds": 0}


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ("edit", None),
        ("add", None),
        ("delete", None),
        (None, "embedder.max_length=128"),
        (None, "chunking.overlap=3"),
    ],
)
def test_any_change_makes_the_quick_check_give_way_to_a_full_run(
    folder: Path, tmp_path: Path, change: str | None, setting: str | None
) -> None:
    config = tiny_config(tmp_path)
    index_with_config(folder, config, progress=False)
    assert unchanged_report(folder, config) is not None
    if change == "edit":
        (folder / "a.txt").write_text(paragraphs("avocados"))
    elif change == "add":
        (folder / "d.txt").write_text(paragraphs("dates"))
    elif change == "delete":
        (folder / "b.md").unlink()
    assert unchanged_report(folder, tiny_config(tmp_path, *([setting] if setting else []))) is None
    if change == "delete":  # without pruning, a deleted file is not a change
        assert unchanged_report(folder, config, prune=False) is not None


def test_the_cli_reindexes_an_unchanged_folder_without_importing_torch(folder: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.tiny_model import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny-model")
    args = [
        "index",
        str(folder),
        "--json",
        "--set",
        f"embedder.model={model}",
        "--set",
        "embedder.backend=torch",
    ]
    args += ["--set", f"store.path={tmp_path / 'store'}"]
    script = (
        "import json, sys\nfrom rag_index.cli import main\n"
        f"assert main({args!r}) == 0\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers') if m in sys.modules)))"
    )
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    assert runs[0].stdout.splitlines()[-1] == '["torch", "transformers"]'  # the first run embeds
    assert '"files_unchanged": 3' in runs[1].stdout
    assert runs[1].stdout.splitlines()[-1] == "[]"
