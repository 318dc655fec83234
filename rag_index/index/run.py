"""The local engine: bring a collection up to date with a folder, incrementally and crash-safely.

A manifest (rag_index/storage/manifest.py) records each source's content hash, settings fingerprint and
chunk ids; a file whose hash and settings match a finished entry is not parsed again. Changed files are
parsed and chunked a few files ahead of the encoder, embedded (each distinct text once) a write batch ahead
of the writes, and written to every store in the order of rag_index/storage/writer.py, so a run killed at
any instant converges next time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag_index.chunking import Chunker
from rag_index.config import LoaderConfig
from rag_index.index.cache import EmbeddingCache, text_hash
from rag_index.index.prefetch import prefetched
from rag_index.index.progress import Progress, progress_for
from rag_index.index.report import IndexReport
from rag_index.index.survey import Pending, Survey
from rag_index.index.texts import finish_interrupted, text_settings
from rag_index.loaders import LoadError, LoadOptions, load_file
from rag_index.storage.base import ChunkStore, chunk_stores
from rag_index.storage.chroma import TEXT_HASH_KEY, ChromaStore
from rag_index.storage.lexical import LEXICAL_SUFFIX, LexicalIndex, discard
from rag_index.storage.lock import StoreLock
from rag_index.storage.manifest import Manifest, settings_fingerprint
from rag_index.storage.writer import WRITE_BATCH, Checkpoint, ChunkWriter, SourceChange, no_checkpoint
from rag_index.types import Chunk, Embedder, SkippedFile

log = logging.getLogger(__name__)

PARSE_AHEAD = 4  # parsed files waiting for the encoder at most: bounds memory

# A changed file's new state, with its chunks' vectors in order when the executor embedded them (None:
# the driver embeds them, through its embedding cache).
Embedded = tuple[SourceChange, np.ndarray | None]


class Executor(Protocol):
    """What turns a run's changed files into chunks (and vectors) somewhere other than this process.

    The driver keeps the survey and every write; an executor only parses, chunks and embeds, adding what
    it did (files indexed, skipped, chunks embedded and truncated) to the report. Its output is written
    as it arrives, so it must yield each file once, in any order.
    """

    def changes(
        self, pending: Iterator[Pending], root: Path, settings: str, report: IndexReport
    ) -> Generator[Embedded, None, None]:
        """The new state of each pending file that could be read (progress is told as they arrive)."""
        ...


def open_manifest(store: ChromaStore) -> Manifest:
    """The manifest of a store's collection (a SQLite file beside the data, or in store.path for http)."""
    return Manifest(store.state_file(".manifest.sqlite3"))


def store_lock(store: ChromaStore, wait: float = 0.0) -> StoreLock:
    """The lock that keeps two writers off one collection."""
    return StoreLock(store.state_file(".lock"), f"collection {store.name!r} at {store.label}", wait)


def sync_lexical(store: ChromaStore, lexical: LexicalIndex, checkpoint: Checkpoint = no_checkpoint) -> None:
    """Make the lexical index hold exactly the collection's chunks (rebuilt from their stored texts).

    Needed when it is new, damaged, describes another collection (recreated) or other settings, or a rebuild
    was interrupted: it is marked complete only at the end, so a kill midway means another rebuild.
    Chunks of interrupted writes are copied too; the manifest lists them, so they are cleaned up as
    in the collection.
    """
    if lexical.describes(store.collection_id) and lexical.damage() is None:
        return
    lexical.reset()  # a damaged index is discarded whole first
    for page in store.chunks():
        lexical.upsert(page)
        checkpoint("rebuilt")
    lexical.mark(store.collection_id)


def prepare(
    store: ChromaStore,
    lexical: LexicalIndex | None,
    manifest: Manifest,
    fingerprint: dict[str, Any],
    recreate: bool = False,
    checkpoint: Checkpoint = no_checkpoint,
) -> None:
    """Open the collection for a writer (fingerprint guard), and bring the manifest and lexical index in step.

    Every writer (index runs, text adds and deletes) calls this under the store's lock before writing.
    """
    store.open(fingerprint, recreate=recreate)
    if manifest.collection_id != store.collection_id:
        # A collection the manifest does not describe (new, recreated, or replaced behind our back): none
        # of the listed chunks are in it. Checked by id, not by "just created", so a kill right after
        # creating the collection cannot leave a stale manifest behind.
        manifest.reset(store.collection_id)
    if lexical is None:
        discard(store.state_file(LEXICAL_SUFFIX))  # off: an old index is removed, not left stale
    else:
        sync_lexical(store, lexical, checkpoint)


@dataclass
class Indexer:
    """An index run's collaborators: how files become chunks and vectors, and where the chunks go.

    ``checkpoint`` is called at each step of the crash-safe write order; crash tests inject one that
    kills the process there.
    """

    loader: LoaderConfig
    chunker: Chunker
    embedder: Embedder
    store: ChromaStore
    lexical: LexicalIndex | None = None
    checkpoint: Checkpoint = no_checkpoint
    executor: Executor | None = None  # None: parse ahead in a thread, embed here

    @property
    def stores(self) -> list[ChunkStore]:
        """Every store a chunk is written to: the collection, then its lexical index."""
        return chunk_stores(self.store, self.lexical)

    def vectors_of(self, chunks: list[Chunk]) -> Any:
        """The vectors of chunks, embedded as documents (no cache: used for texts added through the API)."""
        return self.embedder.encode_documents([c.text for c in chunks])

    def settings(self) -> str:
        """The fingerprint of everything that decides a file's chunks and vectors."""
        loader, chunker = self.loader.text_settings(), self.chunker.settings
        return settings_fingerprint(loader, chunker, self.embedder.fingerprint)

    @contextlib.contextmanager
    def session(self, wait: float = 0.0) -> Iterator[Manifest]:
        """Hold the store's lock (waiting up to wait seconds) and its manifest open."""
        with store_lock(self.store, wait), contextlib.closing(open_manifest(self.store)) as manifest:
            yield manifest

    def run(
        self,
        root: Path,
        manifest: Manifest,
        *,
        recreate: bool = False,
        prune: bool = True,
        only: set[str] | None = None,
        progress: bool | Progress = True,
    ) -> IndexReport:
        """Bring the stores up to date with every readable file under root (the caller holds the lock).

        Unchanged files are hashed, not parsed; changed files have their chunks replaced; files gone from
        the folder have their chunks removed unless ``prune`` is off. ``only`` limits the run to these
        sources (verify --repair). ``progress``: True draws on stderr, or a Progress to report to.
        """
        reporter = progress_for(progress)
        try:
            return self._run(root, manifest, recreate, prune, only, reporter)
        finally:
            reporter.finish()

    def _run(
        self,
        root: Path,
        manifest: Manifest,
        recreate: bool,
        prune: bool,
        only: set[str] | None,
        progress: Progress,
    ) -> IndexReport:
        started = time.perf_counter()
        truncated_before = self.embedder.truncated
        report = IndexReport(root=str(root), collection=self.store.name, store=self.store.label)
        if recreate:
            report.texts_dropped = manifest.text_count()
        prepare(self.store, self.lexical, manifest, self.embedder.fingerprint, recreate, self.checkpoint)
        writer = ChunkWriter(manifest, self.stores, self.checkpoint)
        # Texts added through the API whose add or delete was interrupted: this run finishes them too.
        finish_interrupted(manifest, writer, text_settings(self.embedder.fingerprint), self.vectors_of)
        survey = Survey(root, self.loader, manifest.entries(), self.settings(), report)
        cache = EmbeddingCache(self.embedder, self.store)
        present: set[str] = set()
        # Every file is hashed before the first is parsed, so progress knows the whole plan from the start;
        # cheap: hashing the 20 sec-10q PDFs (24 MB) takes 0.04 s of a 58 s run. In this thread, so that
        # Ctrl-C stops a long survey at once.
        todo = list(survey.pending(survey.scan(), only, present))
        progress.planned({item.source: item.size for item in todo})
        known: dict[str, np.ndarray] = {}  # vectors the executor computed, by text hash, until written

        def embed(chunks: list[Chunk]) -> np.ndarray:
            hashes = [c.metadata[TEXT_HASH_KEY] for c in chunks]
            return cache.vectors([self.chunker.embedding_text(c) for c in chunks], hashes)

        def vectors_of(batch: list[Chunk]) -> Any:
            hashes = [c.metadata[TEXT_HASH_KEY] for c in batch]
            if known and all(h in known for h in hashes):
                return np.stack([known[h] for h in hashes])
            return embed(batch)

        works: Generator[Embedded, None, None]
        if self.executor is None:
            # Files are parsed and chunked by a thread a few files ahead, and embedded by another, so the
            # encoder works on the next batch while this thread writes the last one.
            parsed = prefetched(self._changes(todo, root, survey.settings, report, progress), PARSE_AHEAD)
            works = prefetched(_embedded(parsed, embed), 1)
        else:
            works = _reported(self.executor.changes(iter(todo), root, survey.settings, report), progress)
        batch: list[SourceChange] = []
        with contextlib.closing(works):

            def write(changes: list[SourceChange]) -> None:
                report.chunks_deleted += writer.replace(changes, vectors_of, progress.written)
                report.chunks_written += sum(len(c.chunks) for c in changes)
                known.clear()

            for work, vectors in works:
                batch.append(work)
                if vectors is not None:
                    known.update(zip((c.metadata[TEXT_HASH_KEY] for c in work.chunks), vectors, strict=True))
                if _fills_write_batch(batch):
                    write(batch)
                    batch = []
            if batch:
                write(batch)
        if only is not None:
            gone = [s for s in only if s not in present and s in survey.entries]
        else:
            gone = survey.gone(present) if prune else []
        report.chunks_deleted += writer.forget(gone)
        if self.lexical is not None:
            # The run's last small writes wait in the lexical buffer; one commit now keeps searches on
            # tantivy alone (scoring buffered chunks took a search from 1 to 3 ms).
            self.lexical.merge()
        report.files_removed += len(gone)
        report.chunks_embedded += cache.embedded
        report.chunks_truncated += self.embedder.truncated - truncated_before
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _changes(
        self, todo: list[Pending], root: Path, settings: str, report: IndexReport, progress: Progress
    ) -> Generator[Embedded, None, None]:
        """The local executor: parse and chunk each pending file here; the driver embeds them."""
        options = self.loader.load_options()
        for item in todo:
            progress.parsing(item.source)
            change = parse_change(
                item.path, root, item.source, item.digest, settings, options, self.chunker, report
            )
            progress.parsed(item.source, None if change is None or change.skip_reason else len(change.chunks))
            if change is not None:
                yield change, None


def _fills_write_batch(changes: list[SourceChange]) -> bool:
    """Whether these files' chunks make a write batch: the writer and the embedder close groups alike."""
    return sum(len(change.chunks) for change in changes) >= WRITE_BATCH


def _embedded(
    works: Generator[Embedded, None, None], embed: Callable[[list[Chunk]], np.ndarray]
) -> Generator[Embedded, None, None]:
    """Each file with its vectors, embedded in the groups the driver writes together (both close a group
    at the same file: _fills_write_batch), so the encoder keeps wide batches."""
    group: list[SourceChange] = []

    def embedded_group() -> Generator[Embedded, None, None]:
        vectors = embed([chunk for change in group for chunk in change.chunks])
        start = 0
        for change in group:
            yield change, vectors[start : start + len(change.chunks)] if change.chunks else None
            start += len(change.chunks)

    with contextlib.closing(works):
        for change, _ in works:
            group.append(change)
            if _fills_write_batch(group):
                yield from embedded_group()
                group = []
        if group:
            yield from embedded_group()


def _reported(works: Generator[Embedded, None, None], progress: Progress) -> Generator[Embedded, None, None]:
    """An executor's files, told to progress as they arrive (it parses them elsewhere)."""
    with contextlib.closing(works):
        for change, vectors in works:
            progress.parsed(change.source, None if change.skip_reason else len(change.chunks))
            yield change, vectors


def parse_change(
    path: Path,
    root: Path,
    source: str,
    digest: str,
    settings: str,
    options: LoadOptions,
    chunker: Chunker,
    report: IndexReport,
) -> SourceChange | None:
    """The new chunks of a changed file; None when the file system kept us from reading it.

    Every engine parses through here (the Ray one in its workers), so the chunks and skip reasons match.
    """
    try:
        documents = load_file(path, root, options)
    except LoadError as err:
        report.skipped.append(SkippedFile(source, str(err)))
        return None if err.transient else SourceChange(source, str(root), digest, settings, [], str(err))
    except Exception as err:  # one bad file must never stop the run; it is reported, not hidden
        log.debug("unexpected error loading %s", source, exc_info=True)
        reason = f"unexpected error: {type(err).__name__}: {err}"
        report.skipped.append(SkippedFile(source, reason))
        return SourceChange(source, str(root), digest, settings, [], reason)
    chunks = [_hashed(chunk, chunker) for document in documents for chunk in chunker.split(document)]
    # The hash of the bytes actually parsed: the file may have changed since it was hashed.
    loaded_hash = str(documents[0].metadata["content_hash"]) if documents else digest
    report.files_indexed += 1
    return SourceChange(source, str(root), loaded_hash, settings, chunks)


def _hashed(chunk: Chunk, chunker: Chunker) -> Chunk:
    """The chunk with the hash of the text embedded for it: the embedding cache's key."""
    digest = text_hash(chunker.embedding_text(chunk))
    return dataclasses.replace(chunk, metadata={**chunk.metadata, TEXT_HASH_KEY: digest})


def index_folder(
    root: Path,
    loader: LoaderConfig,
    chunker: Chunker,
    embedder: Embedder,
    store: ChromaStore,
    *,
    lexical: LexicalIndex | None = None,
    recreate: bool = False,
    prune: bool = True,
    progress: bool | Progress = True,
    wait: float = 0.0,
) -> IndexReport:
    """Index root with these parts: locks the store (waiting up to wait seconds) and opens its manifest.

    Without a lexical index, one left from an earlier run is removed (it would no longer be complete).
    """
    indexer = Indexer(loader, chunker, embedder, store, lexical)
    with indexer.session(wait) as manifest:
        return indexer.run(root, manifest, recreate=recreate, prune=prune, progress=progress)
