"""The one place that runs the steps in order: files -> Documents -> Chunks -> vectors -> Chroma.

Runs are incremental and crash-safe. A manifest (rag_index/manifest.py) records each source's content hash,
settings fingerprint and chunk ids; a file whose hash and settings match a finished entry is not parsed
again. Every change follows one order, so a run killed at any instant leaves a state the next run repairs:

1. the manifest marks the source *not done* and lists its old and new chunk ids;
2. the new chunks are written (upserts of content-addressed ids are idempotent);
3. the old chunks that the new version does not share are deleted;
4. the manifest records the source as done with exactly its new ids.

Removing a source is 1, delete, then forget it. A not-done entry is never taken as indexed: the next run
redoes it, or removes everything it lists when its file is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from rag_index.chunking import Chunker, make_chunker
from rag_index.config import ChunkingConfig, Config, EmbedderConfig, LoaderConfig, StoreConfig
from rag_index.embedding_cache import EmbeddingCache, text_hash
from rag_index.loaders import LoadError, PathFilter, file_digest, load_file, ocr_engine_version, scan_files
from rag_index.lock import StoreLock
from rag_index.manifest import Entry, Manifest, settings_fingerprint
from rag_index.model_files import model_state, resolve_model_path
from rag_index.prefetch import prefetched
from rag_index.store import TEXT_HASH_KEY, ChromaStore, Server
from rag_index.types import Chunk, Embedder, SkippedFile

if TYPE_CHECKING:  # imported when an embedder is built: an unchanged re-index never imports torch
    from rag_index.embedder import PoolingEmbedder

log = logging.getLogger(__name__)

WRITE_BATCH = 256  # chunks embedded and written together: bounds memory, keeps the encoder busy
PARSE_AHEAD = 4  # parsed files waiting for the encoder at most: bounds memory

# Test hook, documented in tests/test_crash.py: "POINT:N" makes the process SIGKILL itself the N-th time it
# reaches POINT (begun, written, deleted, committed, pruning), so crash tests hit exact instants.
KILL_AT_ENV = "RAG_INDEX_TEST_KILL_AT"
_passed: Counter[str] = Counter()

# Load failures caused by the file system rather than the file's content: not remembered in the manifest,
# so the file is tried again next run.
_TRANSIENT = ("file not found", "permission denied", "cannot read file", "is a directory")


def _checkpoint(point: str) -> None:
    spec = os.environ.get(KILL_AT_ENV)
    if not spec:
        return
    name, _, count = spec.partition(":")
    if name == point:
        _passed[point] += 1
        if _passed[point] >= int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class IndexReport:
    """What an index run did."""

    root: str
    collection: str
    store: str  # the store's folder, or the server's URL
    files_indexed: int = 0  # files whose chunks were (re)written this run
    files_unchanged: int = 0  # files whose hash and settings matched the manifest: not parsed
    files_removed: int = 0  # files gone from the folder whose chunks were deleted
    chunks_written: int = 0
    chunks_embedded: int = 0  # chunks that went through the model (the rest came from the cache)
    chunks_deleted: int = 0
    chunks_truncated: int = 0
    seconds: float = 0.0
    skipped: list[SkippedFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)


@dataclass
class _FileWork:
    """One changed file, parsed: its new chunks, or why it has none."""

    source: str
    content_hash: str
    chunks: list[Chunk]
    skip_reason: str | None = None


def build_embedder(config: EmbedderConfig) -> PoolingEmbedder:
    """The embedder a config section describes."""
    from rag_index.embedder import PoolingEmbedder

    return PoolingEmbedder(**config.model_dump())


def embedder_key(config: EmbedderConfig) -> str:
    """A hash of everything an embedder's fingerprint follows from: its settings and its model's files."""
    blob = json.dumps(config.model_dump(), sort_keys=True) + model_state(resolve_model_path(config.model))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def build_chunker(config: ChunkingConfig, embedder: Embedder) -> Chunker:
    """The chunker a config section describes, counting the embedder's own tokens."""
    return make_chunker(
        config.strategy, config.size, config.overlap, config.unit, embedder, embedder.max_content_tokens
    )


def build_store(config: StoreConfig) -> ChromaStore:
    """The Chroma store a config section describes (embedded at path, or a server in http mode)."""
    server = None
    if config.mode == "http":
        server = Server(config.host, config.port, config.ssl, config.token_env, config.retries)
    return ChromaStore(config.path, config.collection, config.distance, server=server)


def open_manifest(store: ChromaStore) -> Manifest:
    """The manifest of a store's collection (a SQLite file beside the data, or in store.path for http)."""
    return Manifest(store.state_file(".manifest.sqlite3"))


def store_lock(store: ChromaStore, wait: float = 0.0) -> StoreLock:
    """The lock that keeps two writers off one collection."""
    return StoreLock(store.state_file(".lock"), f"collection {store.name!r} at {store.label}", wait)


def loader_settings(loader: LoaderConfig) -> dict[str, Any]:
    """The loader settings that change a file's text (which files are read is not one of them)."""
    # The OCR engine's version too: installing or upgrading it must re-read the scanned pages.
    ocr = {"ocr": loader.ocr, "ocr_dpi": loader.ocr_dpi, "ocr_languages": loader.ocr_languages}
    engine = {"ocr_engine": ocr_engine_version() if loader.ocr != "off" else None}
    office = {"docx_headers_footers": loader.docx_headers_footers, "pptx_notes": loader.pptx_notes}
    return {"pdf_backend": loader.pdf_backend, "max_file_mb": loader.max_file_mb, **ocr, **engine, **office}


class _Survey:
    """What a run has to do: which files under root changed and which are gone, from the manifest."""

    def __init__(
        self, root: Path, loader: LoaderConfig, manifest: Manifest, settings: str, report: IndexReport
    ) -> None:
        self.root, self.root_key = root, str(root)
        self.loader, self.manifest, self.settings, self.report = loader, manifest, settings, report
        self.entries = manifest.entries()

    def is_current(self, source: str, digest: str) -> bool:
        """Whether the manifest has this exact file, finished, with the current settings and root."""
        entry = self.entries.get(source)
        return (
            entry is not None
            and entry.done
            and entry.content_hash == digest
            and entry.settings == self.settings
            and entry.root == self.root_key
        )

    def scan(self) -> list[Path]:
        """The files under root that the loader selects; the ones it rejects go to the report as skipped."""
        loader = self.loader
        scan = scan_files(self.root, loader.include, loader.exclude, loader.formats, loader.follow_symlinks)
        for path, reason in scan.rejected:
            self.report.skipped.append(SkippedFile(path.relative_to(self.root).as_posix(), reason))
        return scan.files

    def pending(
        self, files: Iterable[Path], only: set[str] | None, present: set[str]
    ) -> Iterator[tuple[Path, str, str]]:
        """(path, source, content hash) of each new or changed file; adds every source seen to present.

        Unchanged files are counted and unreadable ones reported, not yielded.
        """
        for path in files:
            source = path.relative_to(self.root).as_posix()
            present.add(source)
            if only is not None and source not in only:
                continue
            try:
                digest = file_digest(path)
            except LoadError as err:
                self.report.skipped.append(SkippedFile(source, str(err)))
                continue
            if self.is_current(source, digest):
                entry = self.entries[source]
                if entry.skip_reason:
                    self.report.skipped.append(SkippedFile(source, entry.skip_reason))
                else:
                    self.report.files_unchanged += 1
                continue
            yield path, source, digest

    def gone(self, present: set[str]) -> list[str]:
        """Sources of this root that the manifest lists, the loader selects and the folder no longer has."""
        selected = PathFilter(self.loader.include, self.loader.exclude, self.loader.formats)
        return [
            source
            for source, entry in self.entries.items()
            if entry.root == self.root_key and source not in present and selected.selects(source)
        ]


class _Run(_Survey):
    """One index run: the survey, plus what it parses, embeds and writes."""

    def __init__(
        self,
        root: Path,
        loader: LoaderConfig,
        chunker: Chunker,
        store: ChromaStore,
        manifest: Manifest,
        cache: EmbeddingCache,
        settings: str,
        report: IndexReport,
    ) -> None:
        super().__init__(root, loader, manifest, settings, report)
        self.chunker, self.store, self.cache = chunker, store, cache

    def changed(self, files: Iterable[Path], only: set[str] | None, present: set[str]) -> Iterator[_FileWork]:
        """The parsed work of each file that is new or changed (see pending)."""
        for path, source, digest in self.pending(files, only, present):
            work = self.parse(path, source, digest)
            if work is not None:
                yield work

    def parse(self, path: Path, source: str, digest: str) -> _FileWork | None:
        """The new chunks of a changed file; None when the file system kept us from reading it."""
        try:
            documents = load_file(path, self.root, self.loader.load_options())
        except LoadError as err:
            reason = str(err)
            self.report.skipped.append(SkippedFile(source, reason))
            if reason.startswith(_TRANSIENT):
                return None
            return _FileWork(source, digest, [], reason)
        except Exception as err:  # one bad file must never stop the run; it is reported, not hidden
            log.debug("unexpected error loading %s", source, exc_info=True)
            reason = f"unexpected error: {type(err).__name__}: {err}"
            self.report.skipped.append(SkippedFile(source, reason))
            return _FileWork(source, digest, [], reason)
        chunks = [
            dataclasses.replace(chunk, metadata={**chunk.metadata, TEXT_HASH_KEY: text_hash(chunk.text)})
            for document in documents
            for chunk in self.chunker.split(document)
        ]
        # The hash of the bytes actually parsed: the file may have changed since it was hashed.
        loaded_hash = str(documents[0].metadata["content_hash"]) if documents else digest
        self.report.files_indexed += 1
        return _FileWork(source, loaded_hash, chunks)

    def write(self, works: list[_FileWork], bar: tqdm[Any]) -> None:
        """Replace the chunks of these files in the store and the manifest, in the crash-safe order."""
        self.manifest.begin((w.source, self.root_key, self.settings, [c.id for c in w.chunks]) for w in works)
        _checkpoint("begun")
        chunks = [chunk for work in works for chunk in work.chunks]
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[start : start + WRITE_BATCH]
            vectors = self.cache.vectors([c.text for c in batch], [c.metadata[TEXT_HASH_KEY] for c in batch])
            self.store.upsert(batch, vectors)
            self.report.chunks_written += len(batch)
            bar.update(len(batch))
            _checkpoint("written")
        stale: list[str] = []
        for work in works:
            new_ids = {chunk.id for chunk in work.chunks}
            old = self.entries.get(work.source)
            stale.extend(id_ for id_ in (old.chunk_ids if old else ()) if id_ not in new_ids)
        self.store.delete(stale)
        self.report.chunks_deleted += len(stale)
        _checkpoint("deleted")
        self.manifest.commit(
            Entry(
                w.source,
                self.root_key,
                w.content_hash,
                self.settings,
                tuple(dict.fromkeys(c.id for c in w.chunks)),
                w.skip_reason,
            )
            for w in works
        )
        _checkpoint("committed")

    def remove(self, sources: Iterable[str]) -> None:
        """Delete the chunks of sources whose files are gone, then forget them."""
        gone = [self.entries[s] for s in sources]
        if not gone:
            return
        self.manifest.begin((e.source, e.root, e.settings, ()) for e in gone)
        _checkpoint("pruning")
        ids = [id_ for entry in gone for id_ in entry.chunk_ids]
        self.store.delete(ids)
        self.manifest.remove(e.source for e in gone)
        self.report.files_removed += len(gone)
        self.report.chunks_deleted += len(ids)


def index_folder(
    root: Path,
    loader: LoaderConfig,
    chunker: Chunker,
    embedder: Embedder,
    store: ChromaStore,
    recreate: bool = False,
    progress: bool = True,
    *,
    prune: bool = True,
    chunker_settings: dict[str, Any] | None = None,
    manifest: Manifest | None = None,
    only: set[str] | None = None,
    wait: float = 0.0,
    lock: bool = True,
    embedder_key: str | None = None,
) -> IndexReport:
    """Bring the store up to date with every readable file under root, and report what happened.

    Unchanged files are hashed, not parsed; changed files have their chunks replaced; files gone from the
    folder have their chunks removed unless ``prune`` is off. ``chunker_settings`` describes the chunker
    (the config section) so a settings change re-chunks the files; ``only`` limits the run to these
    sources (verify --repair). Holds the store's lock for the whole run, waiting up to ``wait`` seconds
    (``lock=False``: the caller holds it). ``embedder_key`` (see embedder_key) is recorded with the
    embedder's fingerprint.
    """
    with store_lock(store, wait) if lock else contextlib.nullcontext():
        own_manifest = manifest is None
        manifest = manifest or open_manifest(store)
        try:
            report = _index_locked(
                root, loader, chunker, embedder, store, manifest, recreate, progress, prune,
                chunker_settings, only,
            )  # fmt: skip
            if (
                embedder_key
            ):  # lets the next run find an unchanged folder without the model (unchanged_report)
                manifest.remember_fingerprint(embedder_key, embedder.fingerprint)
            return report
        finally:
            if own_manifest:
                manifest.close()


def _index_locked(
    root: Path,
    loader: LoaderConfig,
    chunker: Chunker,
    embedder: Embedder,
    store: ChromaStore,
    manifest: Manifest,
    recreate: bool,
    progress: bool,
    prune: bool,
    chunker_settings: dict[str, Any] | None,
    only: set[str] | None,
) -> IndexReport:
    started = time.perf_counter()
    truncated_before = embedder.truncated
    report = IndexReport(root=str(root), collection=store.name, store=store.label)
    store.open(embedder.fingerprint, recreate=recreate)
    if manifest.collection_id != store.collection_id:
        # A collection the manifest does not describe (new, recreated, or replaced behind our back): none of
        # the listed chunks are in it. Checked by id, not by "just created", so a kill right after creating
        # the collection cannot leave a stale manifest behind.
        manifest.reset(store.collection_id)
    settings = settings_fingerprint(
        loader_settings(loader),
        chunker_settings or {"chunker": type(chunker).__qualname__},
        embedder.fingerprint,
    )
    cache = EmbeddingCache(embedder, store)
    run = _Run(root, loader, chunker, store, manifest, cache, settings, report)
    present: set[str] = set()
    files = tqdm(run.scan(), desc="files", unit="file", disable=not progress or None)
    # Files are parsed and chunked by a thread a few files ahead, so the next ones are ready when the
    # encoder finishes a batch.
    works = prefetched(run.changed(files, only, present), PARSE_AHEAD)
    batch: list[_FileWork] = []
    with contextlib.closing(works), tqdm(desc="chunks", unit="chunk", disable=not progress or None) as bar:
        for work in works:
            batch.append(work)
            if sum(len(w.chunks) for w in batch) >= WRITE_BATCH:
                run.write(batch, bar)
                batch = []
        if batch:
            run.write(batch, bar)
    if only is not None:
        run.remove(s for s in only if s not in present and s in run.entries)
    elif prune:
        run.remove(run.gone(present))
    report.chunks_embedded = cache.embedded
    report.chunks_truncated = embedder.truncated - truncated_before
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def unchanged_report(root: Path, config: Config, prune: bool = True, wait: float = 0.0) -> IndexReport | None:
    """The report of an index run with nothing to do, found without building the embedder; else None.

    The embedder fingerprint comes from the manifest, where an earlier run recorded it under the
    embedder_key of these settings and model files. Any changed setting, model, file, new file or removed
    file gives None, and the full run does the work. Reading a config and this check never import torch.
    """
    started = time.perf_counter()
    store = build_store(config.store)
    if not store.state_file(".manifest.sqlite3").is_file():
        return None
    with store_lock(store, wait), contextlib.closing(open_manifest(store)) as manifest:
        fingerprint = manifest.known_fingerprint(embedder_key(config.embedder))
        if fingerprint is None or store.stored_fingerprint() != fingerprint:
            return None
        store.attach()
        if manifest.collection_id != store.collection_id:
            return None
        report = IndexReport(root=str(root), collection=store.name, store=store.label)
        settings = settings_fingerprint(
            loader_settings(config.loader), config.chunking.model_dump(), fingerprint
        )
        survey = _Survey(root, config.loader, manifest, settings, report)
        present: set[str] = set()
        if next(survey.pending(survey.scan(), None, present), None) is not None:
            return None
        if prune and survey.gone(present):
            return None
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def index_with_config(
    root: Path,
    config: Config,
    recreate: bool = False,
    progress: bool = True,
    *,
    prune: bool = True,
    only: set[str] | None = None,
    wait: float = 0.0,
    manifest: Manifest | None = None,
    lock: bool = True,
) -> IndexReport:
    """Build every component from config and index root (an unchanged folder never loads the model)."""
    if not recreate and only is None and manifest is None and lock:
        unchanged = unchanged_report(root, config, prune, wait)
        if unchanged is not None:
            return unchanged
    embedder = build_embedder(config.embedder)
    return index_folder(
        root,
        config.loader,
        build_chunker(config.chunking, embedder),
        embedder,
        build_store(config.store),
        recreate=recreate,
        progress=progress,
        prune=prune,
        chunker_settings=config.chunking.model_dump(),
        only=only,
        wait=wait,
        manifest=manifest,
        lock=lock,
        embedder_key=embedder_key(config.embedder),
    )
