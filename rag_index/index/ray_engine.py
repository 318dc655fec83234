"""The Ray engine: changed files are parsed, chunked and embedded by an actor pool on a Ray cluster.

The driver surveys the folder and writes every chunk exactly as the local engine does (rag_index/index/
run.py): Ray Data only turns the changed paths into chunks and vectors, which come back to the driver
through ``iter_rows`` and go through the same ChunkWriter. Ids, texts, metadata, the manifest, the lexical
index and the crash-safe write order are therefore the local engine's by construction. Ray is imported
only when a run has files to parse, so an unchanged re-run starts no Ray.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import socket
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag_index.build import build_chunker, build_embedder, build_store
from rag_index.config import Config, EngineConfig
from rag_index.errors import ConfigError, RagIndexError, StoreError
from rag_index.index.cache import EmbeddingCache
from rag_index.index.report import IndexReport
from rag_index.index.run import Embedded, Pending, parse_change
from rag_index.settings import validated
from rag_index.storage.chroma import TEXT_HASH_KEY, ChromaStore
from rag_index.storage.writer import SourceChange
from rag_index.types import SkippedFile

log = logging.getLogger(__name__)

NO_RAY = "engine.kind: ray needs Ray, which is not installed: pip install 'rag-index[ray]'"
LOCAL_ADDRESSES = (None, "local")  # a Ray instance started on this machine for the run
# An actor that dies (OOM, a node lost, a parser crashing the process) is restarted and its batch retried
# this many times; not forever, as Ray Data's default would, or a file that crashes its parser would hang.
BATCH_RETRIES = 3


def cluster_address(engine: EngineConfig) -> str | None:
    """The cluster a run joins: engine.address, else RAY_ADDRESS as Ray itself reads it; None: start one."""
    return engine.address or os.environ.get("RAY_ADDRESS") or None


def check_engine(config: Config) -> None:
    """Refuse, before anything starts, a Ray engine that cannot work: Ray missing, or a store it cannot share.

    Imports nothing: an unchanged re-run is answered without Ray.
    """
    if config.engine.kind != "ray":
        return
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(NO_RAY)
    address = cluster_address(config.engine)
    if config.store.mode == "embedded" and address not in LOCAL_ADDRESSES:
        raise ConfigError(
            f"engine.address: {address!r} joins a Ray cluster, but store.mode embedded keeps the collection "
            "in one machine's folder; use store.mode: http (a Chroma server), or engine.address: null"
        )


@dataclass
class FileResult:
    """What a worker sends back for one file: its new state (None: unreadable now), vectors and counts."""

    change: SourceChange | None
    skipped: list[SkippedFile]
    indexed: int
    vectors: np.ndarray | None = None
    embedded: int = 0  # chunks of this call that went through the model (on the call's first file)
    truncated: int = 0
    error: str | None = None  # why the whole run must stop (sent as data: Ray would wrap an exception)


class FileEncoder:
    """A Ray actor: parses, chunks and embeds batches of files with its own embedder (one model per actor).

    Parsing goes through parse_change, as in the local engine, so a bad file is skipped with the same
    reason and never fails the job.
    """

    def __init__(self, config: dict[str, Any], root: str, settings: str, threads: int) -> None:
        parsed = validated(Config, config)
        embedder_config = parsed.embedder
        if embedder_config.threads is None:  # one encoder thread per CPU the actor holds, not per core
            embedder_config = embedder_config.model_copy(update={"threads": threads})
        self.embedder = build_embedder(embedder_config)
        self.chunker = build_chunker(parsed.chunking, self.embedder)
        # A text repeated across this actor's files embeds once, and one the server already holds not at all.
        self.cache = EmbeddingCache(self.embedder, shared_store(parsed))
        self.options = parsed.loader.load_options()
        self.root, self.settings = Path(root), settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rows (path, source, digest) -> one pickled FileResult per row."""
        if not self.root.is_dir():
            return pack([FileResult(None, [], 0, error=unreadable(self.root))])
        embedded, truncated = self.cache.embedded, self.embedder.truncated
        results: list[FileResult] = []
        for path, source, digest in zip(batch["path"], batch["source"], batch["digest"], strict=True):
            report = IndexReport(root=str(self.root), collection="", store="")
            change = parse_change(
                Path(str(path)),
                self.root,
                str(source),
                str(digest),
                self.settings,
                self.options,
                self.chunker,
                report,
            )
            results.append(FileResult(change, report.skipped, report.files_indexed))
        chunks = [chunk for r in results if r.change is not None for chunk in r.change.chunks]
        if chunks:
            vectors = self.cache.vectors(
                [self.chunker.embedding_text(c) for c in chunks], [c.metadata[TEXT_HASH_KEY] for c in chunks]
            )
            start = 0
            for result in results:
                if result.change is not None:
                    count = len(result.change.chunks)
                    result.vectors = vectors[start : start + count]
                    start += count
        results[0].embedded = self.cache.embedded - embedded
        results[0].truncated = self.embedder.truncated - truncated
        return pack(results)


def shared_store(config: Config) -> ServerVectors | None:
    """A Chroma server's collection, whose stored vectors the actor reuses as the local engine does.

    None for an embedded store: its folder is the driver's alone while it writes. A server this worker
    cannot reach (its token variable unset here, say) only costs the reuse, with a warning.
    """
    if config.store.mode != "http":
        return None
    store = build_store(config.store)
    try:
        store.attach()  # the driver created the collection before any actor started
    except StoreError as err:
        log.warning("this Ray worker embeds every chunk: %s", err)
        return None
    return ServerVectors(store)


class ServerVectors:
    """Vectors by text hash from a server the driver is writing to at the same time.

    A lookup the server fails is a miss, not an error: reading a fresh collection while its first writes
    land gave Chroma's "Error creating hnsw segment reader: Nothing found on disk" here (chromadb 1.x).
    The chunk is then embedded, as it would be without the server.
    """

    def __init__(self, store: ChromaStore) -> None:
        self.store = store

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The server's vectors of these text hashes; none when the server could not answer."""
        from chromadb.errors import ChromaError

        try:
            return self.store.vectors_by_text_hash(hashes)
        except (ChromaError, StoreError) as err:
            log.debug("no stored vectors this time: %s", err)
            return {}


def pack(results: list[FileResult]) -> dict[str, np.ndarray]:
    """A batch of one pickled FileResult per row: Arrow needs no schema for chunks and their metadata."""
    payload = np.empty(len(results), dtype=object)
    payload[:] = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]
    return {"payload": payload}


def unreadable(root: Path) -> str:
    """The one line for a folder a worker cannot see."""
    return (
        f"{root}: not readable on Ray node {socket.gethostname()}; Ray workers read the files themselves, "
        "so the folder must be on a file system every node mounts at the same path"
    )


class RayExecutor:
    """Parses, chunks and embeds a run's changed files with Ray Data; the driver writes what comes back."""

    def __init__(self, config: Config, encoder: type[FileEncoder] = FileEncoder) -> None:
        check_engine(config)
        self.config = config
        self.encoder = encoder  # the actor class; tests pass one that dies, to see Ray restart it

    def changes(
        self, pending: Iterator[Pending], root: Path, settings: str, report: IndexReport
    ) -> Generator[Embedded, None, None]:
        """The new state and vectors of each pending file, as the actors finish them."""
        rows = [{"path": str(p.path), "source": p.source, "digest": p.digest} for p in pending]
        if not rows:
            return  # only deletions, or nothing: no Ray
        ray = import_ray()
        started = not ray.is_initialized()
        if started:
            ray.init(**self._init_options())
        try:
            for row in self._dataset(ray, rows, root, settings, started).iter_rows():
                result: FileResult = pickle.loads(row["payload"])
                if result.error is not None:
                    raise RagIndexError(result.error)
                report.skipped.extend(result.skipped)
                report.files_indexed += result.indexed
                report.chunks_embedded += result.embedded
                report.chunks_truncated += result.truncated
                if result.change is not None:
                    yield result.change, result.vectors
        finally:
            if started:
                ray.shutdown()

    def _init_options(self) -> dict[str, Any]:
        address = cluster_address(self.config.engine)
        options: dict[str, Any] = {"address": address, "logging_level": logging.WARNING}
        if address in LOCAL_ADDRESSES:  # a Ray started for this run: no dashboard to serve
            options["include_dashboard"] = False
        return options

    def _dataset(self, ray: Any, rows: list[dict[str, str]], root: Path, settings: str, local: bool) -> Any:
        from ray.data import ActorPoolStrategy, DataContext

        engine = self.config.engine
        context = DataContext.get_current()
        context.enable_progress_bars = False  # the run reports progress itself, through the driver
        context.print_on_execution_start = False
        resources = ray.cluster_resources()
        gpus = engine.gpus_per_actor
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        for kind, key, each in (
            ("CPU", "cpus_per_actor", engine.cpus_per_actor),
            ("GPU", "gpus_per_actor", gpus),
        ):
            wanted, has = engine.actors * each, resources.get(kind, 0)
            if wanted > has:
                message = (
                    f"engine.actors x engine.{key} = {wanted:g} {kind}s, but the Ray cluster has {has:g}"
                )
                if local:  # nothing will ever add to a Ray instance started for this run: it would hang
                    raise ConfigError(message)
                log.warning("%s; waiting for the cluster to grow", message)
        batches = max(1, min(len(rows), engine.actors * 8))
        return ray.data.from_items(rows, override_num_blocks=batches).map_batches(
            self.encoder,
            batch_size=engine.files_per_batch,
            batch_format="numpy",
            compute=ActorPoolStrategy(size=engine.actors),
            num_cpus=engine.cpus_per_actor,
            num_gpus=gpus,
            max_task_retries=BATCH_RETRIES,
            fn_constructor_kwargs={
                "config": self.config.model_dump(),
                "root": str(root),
                "settings": settings,
                "threads": max(1, round(engine.cpus_per_actor)),
            },
        )


def import_ray() -> Any:
    """The ray module, or the one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(NO_RAY) from None
    return ray
