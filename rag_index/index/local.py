"""The local engine driven by a config: an unchanged folder is answered without the model."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from rag_index.build import build_chunker, build_embedder, build_lexical, build_store, embedder_key
from rag_index.config import Config
from rag_index.index.progress import Progress
from rag_index.index.ray_engine import RayExecutor, check_engine  # imports no Ray
from rag_index.index.report import IndexReport
from rag_index.index.run import Executor, Indexer, open_manifest, store_lock
from rag_index.index.survey import Survey
from rag_index.storage.lexical import LEXICAL_SUFFIX
from rag_index.storage.manifest import settings_fingerprint
from rag_index.storage.writer import Checkpoint, no_checkpoint
from rag_index.types import Embedder


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
        if manifest.collection_id != store.collection_id or manifest.interrupted_texts():
            return None  # another collection, or a text's add or delete to finish: the full run does it
        lexical = build_lexical(config.lexical, store)
        if lexical is not None and (not lexical.describes(store.collection_id) or lexical.damage()):
            return None  # new, rebuilt, damaged or with other settings: the full run brings it up to date
        if lexical is None and store.state_file(LEXICAL_SUFFIX).exists():
            return None  # turned off: the full run removes it
        report = IndexReport(root=str(root), collection=store.name, store=store.label)
        chunking = config.chunking.model_dump()  # what the chunker built from it reports as its settings
        settings = settings_fingerprint(config.loader.text_settings(), chunking, fingerprint)
        survey = Survey(root, config.loader, manifest.entries(), settings, report)
        present: set[str] = set()
        if next(survey.pending(survey.scan(), None, present), None) is not None:
            return None
        if prune and survey.gone(present):
            return None
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def configured_indexer(
    config: Config,
    embedder: Embedder | None = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> Indexer:
    """The Indexer a config describes (the embedder is built unless given), with its engine's executor.

    With engine.kind ray the driver's embedder gives the fingerprint and tokenizer only: its weights
    load only if the driver has texts of its own to embed (an interrupted `add`).
    """
    check_engine(config)
    embedder = embedder if embedder is not None else build_embedder(config.embedder)
    chunker = build_chunker(config.chunking, embedder)
    store = build_store(config.store)
    lexical = build_lexical(config.lexical, store)
    executor: Executor | None = None
    if config.engine.kind == "ray":
        executor = RayExecutor(config)  # progress is the run's own: Ray Data draws no bars
    return Indexer(config.loader, chunker, embedder, store, lexical, checkpoint, executor)


def index_configured(
    indexer: Indexer,
    config: Config,
    root: Path,
    *,
    recreate: bool = False,
    prune: bool = True,
    progress: bool | Progress = True,
    wait: float = 0.0,
) -> IndexReport:
    """Run a configured indexer under the store's lock, and remember its embedder's fingerprint."""
    with indexer.session(wait) as manifest:
        report = indexer.run(root, manifest, recreate=recreate, prune=prune, progress=progress)
        # Lets the next run find an unchanged folder without the model (unchanged_report).
        manifest.remember_fingerprint(embedder_key(config.embedder), indexer.embedder.fingerprint)
    return report


def index_with_config(
    root: Path,
    config: Config,
    *,
    recreate: bool = False,
    prune: bool = True,
    progress: bool | Progress = True,
    wait: float = 0.0,
    load_embedder: Callable[[], Embedder] | None = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> IndexReport:
    """Index root as the config says; an unchanged folder is answered without loading the model.

    load_embedder gives the embedder when the run needs one (default: build it from config.embedder).
    """
    check_engine(config)
    if not recreate:
        unchanged = unchanged_report(root, config, prune, wait)
        if unchanged is not None:
            return unchanged
    embedder = load_embedder() if load_embedder is not None else None
    indexer = configured_indexer(config, embedder, checkpoint)
    return index_configured(
        indexer, config, root, recreate=recreate, prune=prune, progress=progress, wait=wait
    )
