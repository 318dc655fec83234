"""Reconcile the manifest with what the store holds, and repair exactly the drift found."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_index.build import build_store
from rag_index.config import Config
from rag_index.index.local import configured_indexer
from rag_index.index.run import Indexer, open_manifest, store_lock
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.manifest import Manifest, settings_fingerprint
from rag_index.storage.writer import Checkpoint, ChunkWriter, no_checkpoint
from rag_index.types import Embedder


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

    @property
    def ok(self) -> bool:
        """Whether nothing needs repair."""
        return not (self.missing or self.stray or self.incomplete or self.outdated)

    @property
    def to_reindex(self) -> list[str]:
        """Sources to index again: missing chunks, interrupted writes, old settings."""
        return sorted({*self.missing, *self.incomplete, *self.outdated})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report."""
        return {**asdict(self), "ok": self.ok}


def current_settings(store: ChromaStore, loader: dict[str, Any], chunking: dict[str, Any]) -> str:
    """The settings fingerprint an index run would record now, without loading the model.

    The collection's own embedder fingerprint stands in for the embedder: a run with another one is
    refused by ChromaStore.open anyway.
    """
    return settings_fingerprint(loader, chunking, store.stored_fingerprint())


def find_drift(store: ChromaStore, manifest: Manifest, settings: str) -> Drift:
    """Compare every id and source of the manifest with the store's contents."""
    store.attach()
    entries = manifest.entries()
    in_store: dict[str, str] = {id_: str(meta.get("source", "?")) for id_, meta in store.records()}
    drift = Drift(store.name, chunks_in_store=len(in_store), sources_in_manifest=len(entries))
    claimed = {id_ for entry in entries.values() for id_ in entry.chunk_ids}
    drift.stray = sorted(set(in_store) - claimed)
    store_counts: dict[str, int] = defaultdict(int)
    for source in in_store.values():
        store_counts[source] += 1
    for source, entry in entries.items():
        if not entry.done:
            drift.incomplete.append(source)
            continue
        absent = [id_ for id_ in entry.chunk_ids if id_ not in in_store]
        if absent:
            drift.missing[source] = sorted(absent)
        if entry.settings != settings:
            drift.outdated.append(source)
        if store_counts.get(source, 0) != len(entry.chunk_ids):
            drift.counts[source] = {"manifest": len(entry.chunk_ids), "store": store_counts.get(source, 0)}
    for source, count in store_counts.items():
        if source not in entries:
            drift.counts[source] = {"manifest": 0, "store": count}
    return drift


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
    old settings (their files only; sources whose folder is gone are removed). The model loads only when
    something must be re-embedded.
    """
    store = build_store(config.store)
    with store_lock(store, wait), contextlib.closing(open_manifest(store)) as manifest:
        settings = current_settings(store, config.loader.text_settings(), config.chunking.model_dump())
        drift = find_drift(store, manifest, settings)
        if not repair or drift.ok:
            return drift, None
        store.delete(drift.stray)
        redo = drift.to_reindex
        mark_for_reindex(manifest, redo)
        indexer: Indexer | None = None
        for root, sources in roots_of(manifest, redo).items():
            if not root.is_dir():
                ChunkWriter(manifest, [store], checkpoint).forget(sorted(sources))
                continue
            indexer = indexer or configured_indexer(config, embedder, checkpoint)
            indexer.run(root, manifest, prune=False, only=sources, progress=False)
        return drift, find_drift(store, manifest, settings)
