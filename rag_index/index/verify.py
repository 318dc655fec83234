"""Reconcile the manifest with what the store holds, and repair exactly the drift found."""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_index.build import build_lexical, build_store
from rag_index.config import Config
from rag_index.index.local import configured_indexer
from rag_index.index.run import Indexer, open_manifest, store_lock, sync_lexical
from rag_index.index.texts import is_text_chunk, text_settings, write_texts
from rag_index.storage.base import chunk_stores
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalIndex
from rag_index.storage.manifest import Entry, Manifest, is_text, settings_fingerprint, text_source
from rag_index.storage.writer import Checkpoint, ChunkWriter, no_checkpoint
from rag_index.types import Chunk, Embedder


@dataclass
class Drift:
    """How the manifest and the store disagree (all empty: they agree)."""

    collection: str
    chunks_in_store: int = 0
    sources_in_manifest: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # source -> its ids the store lacks
    stray: list[str] = field(default_factory=list)  # ids in the store that no source claims
    incomplete: list[str] = field(default_factory=list)  # sources whose last write was interrupted
    outdated: list[str] = field(default_factory=list)  # sources chunked with other settings than now
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> {manifest, store} if unequal
    chunks_in_lexical: int | None = None  # None: no lexical index is kept
    lexical_stale: bool = False  # the lexical index describes another collection or settings: rebuild it
    lexical_damaged: str | None = None  # why its files cannot be read (then also stale: rebuilt whole)
    lexical_missing: dict[str, list[str]] = field(default_factory=dict)  # source -> its ids the index lacks
    lexical_stray: list[str] = field(default_factory=list)  # ids in the lexical index no source claims

    @property
    def ok(self) -> bool:
        """Whether nothing needs repair."""
        lexical = self.lexical_stale or self.lexical_missing or self.lexical_stray
        return not (self.missing or self.stray or self.incomplete or self.outdated or lexical)

    @property
    def to_reindex(self) -> list[str]:
        """Sources to index again: missing chunks (in either index), interrupted writes, old settings."""
        return sorted({*self.missing, *self.incomplete, *self.outdated, *self.lexical_missing})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report."""
        return {**asdict(self), "ok": self.ok}


def current_settings(store: ChromaStore, loader: dict[str, Any], chunking: dict[str, Any]) -> str:
    """The settings fingerprint an index run would record now, without loading the model.

    The collection's own embedder fingerprint stands in for the embedder: a run with another one is
    refused by ChromaStore.open anyway.
    """
    return settings_fingerprint(loader, chunking, store.stored_fingerprint())


def find_drift(
    store: ChromaStore, manifest: Manifest, settings: str, lexical: LexicalIndex | None = None
) -> Drift:
    """Compare every id and source of the manifest with the store's contents (and the lexical index's).

    Texts added through the API are sources like files (``text:<id>``), held to their own settings.
    """
    store.attach()
    entries = manifest.entries()
    # Chunk ids are content-addressed from their source, so a claimed id is its claimant's: the store is
    # read for its ids alone, and for the metadata of stray ids only (naming where they came from).
    # Reading every chunk's metadata instead took 9 of verify's 15 s at 30,000 chunks, growing faster.
    owner = {id_: source for source, entry in entries.items() for id_ in entry.chunk_ids}
    in_store = store.ids()
    drift = Drift(store.name, chunks_in_store=len(in_store), sources_in_manifest=len(entries))
    claimed = set(owner)
    drift.stray = sorted(in_store - claimed)
    store_counts: Counter[str] = Counter(owner[id_] for id_ in in_store & claimed)
    store_counts.update(_source_of(chunk) for chunk in store.get(drift.stray))
    texts = text_settings(store.stored_fingerprint())
    for source, entry in entries.items():
        if not entry.done:
            drift.incomplete.append(source)
            continue
        absent = [id_ for id_ in entry.chunk_ids if id_ not in in_store]
        if absent:
            drift.missing[source] = sorted(absent)
        if entry.settings != (texts if is_text(source) else settings):
            drift.outdated.append(source)
        if store_counts.get(source, 0) != len(entry.chunk_ids):
            drift.counts[source] = {"manifest": len(entry.chunk_ids), "store": store_counts.get(source, 0)}
    for source, count in store_counts.items():
        if source not in entries:
            drift.counts[source] = {"manifest": 0, "store": count}
    if lexical is not None:
        _lexical_drift(drift, store, lexical, entries, claimed)
    return drift


def _source_of(chunk: Chunk) -> str:
    """The manifest source a stored chunk names: its text's, or its file's."""
    return text_source(chunk.id) if is_text_chunk(chunk.metadata) else str(chunk.metadata.get("source", "?"))


def _lexical_drift(
    drift: Drift, store: ChromaStore, lexical: LexicalIndex, entries: dict[str, Entry], claimed: set[str]
) -> None:
    drift.lexical_damaged = lexical.damage()
    if drift.lexical_damaged is not None:
        drift.lexical_stale = True  # derived from the collection's texts: rebuilt, nothing is lost
        return
    if lexical.describes(store.collection_id) and lexical.holds_exactly(claimed):
        drift.chunks_in_lexical = len(claimed)  # the usual case, counted by tantivy: no chunk is read
        return
    in_lexical = lexical.ids()
    drift.chunks_in_lexical = len(in_lexical)
    if not lexical.describes(store.collection_id):
        drift.lexical_stale = True  # rebuilt whole: its ids say nothing about single sources
        return
    drift.lexical_stray = sorted(in_lexical - claimed)
    for source, entry in entries.items():
        absent = [id_ for id_ in entry.chunk_ids if id_ not in in_lexical]
        if entry.done and absent:
            drift.lexical_missing[source] = sorted(absent)


def roots_of(manifest: Manifest, sources: list[str]) -> dict[Path, set[str]]:
    """The sources to re-index, grouped by the folder they were indexed from."""
    entries = manifest.entries()
    grouped: dict[Path, set[str]] = defaultdict(set)
    for source in sources:
        grouped[Path(entries[source].root)].add(source)
    return dict(grouped)


def mark_for_reindex(manifest: Manifest, sources: list[str]) -> None:
    """Make sources not done, so the next run parses them again even though their files are unchanged."""
    entries = manifest.entries()
    manifest.begin((s, entries[s].root, entries[s].settings, ()) for s in sources)


def verify(
    config: Config,
    repair: bool = False,
    wait: float = 0.0,
    *,
    embedder: Embedder | None = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> tuple[Drift, Drift | None]:
    """The drift between manifest and store, and with ``repair`` the drift left after fixing it.

    Repair deletes stray ids, then re-indexes exactly the sources with missing ids, interrupted writes or
    old settings (their files only; sources whose folder is gone are removed). Texts added through the API
    are re-embedded from the copy the manifest keeps (an interrupted delete is finished). The model loads
    only when something must be re-embedded.
    """
    store = build_store(config.store)
    lexical = build_lexical(config.lexical, store)
    with store_lock(store, wait), contextlib.closing(open_manifest(store)) as manifest:
        settings = current_settings(store, config.loader.text_settings(), config.chunking.model_dump())
        drift = find_drift(store, manifest, settings, lexical)
        if not repair or drift.ok:
            return drift, None
        store.delete(drift.stray)
        stores = chunk_stores(store, lexical)
        if lexical is not None:
            lexical.delete(drift.lexical_stray)
            sync_lexical(store, lexical, checkpoint)
        redo = [source for source in drift.to_reindex if not is_text(source)]
        mark_for_reindex(manifest, redo)
        indexer: Indexer | None = None
        texts = [source for source in drift.to_reindex if is_text(source)]
        if texts:
            indexer = configured_indexer(config, embedder, checkpoint)
            store.open(indexer.embedder.fingerprint, create=False)  # the fingerprint guard
            kept = manifest.texts(texts)
            writer = ChunkWriter(manifest, stores, checkpoint)
            write_texts(writer, kept.values(), text_settings(store.stored_fingerprint()), indexer.vectors_of)
            writer.forget([source for source in texts if source not in kept])
        for root, sources in roots_of(manifest, redo).items():
            if not root.is_dir():
                ChunkWriter(manifest, stores, checkpoint).forget(sorted(sources))
                continue
            indexer = indexer or configured_indexer(config, embedder, checkpoint)
            indexer.run(root, manifest, prune=False, only=sources, progress=False)
        return drift, find_drift(store, manifest, settings, lexical)
