"""The one place that runs the steps in order: files -> Documents -> Chunks -> vectors -> Chroma."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag_index.chunking import Chunker, make_chunker
from rag_index.config import ChunkingConfig, Config, EmbedderConfig, LoaderConfig, StoreConfig
from rag_index.embedder import PoolingEmbedder
from rag_index.loaders import LoadError, iter_files, load_file
from rag_index.store import ChromaStore
from rag_index.types import Chunk, Document, Embedder, SkippedFile

log = logging.getLogger(__name__)

WRITE_BATCH = 256  # chunks embedded and written together: bounds memory, keeps the encoder busy


@dataclass
class IndexReport:
    """What an index run did."""

    root: str
    collection: str
    files_indexed: int = 0
    chunks_written: int = 0
    chunks_truncated: int = 0
    seconds: float = 0.0
    skipped: list[SkippedFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)


def build_embedder(config: EmbedderConfig) -> PoolingEmbedder:
    """The embedder a config section describes."""
    return PoolingEmbedder(**config.model_dump())


def build_chunker(config: ChunkingConfig, embedder: Embedder) -> Chunker:
    """The chunker a config section describes, counting the embedder's own tokens."""
    return make_chunker(
        config.strategy, config.size, config.overlap, config.unit, embedder, embedder.max_content_tokens
    )


def build_store(config: StoreConfig) -> ChromaStore:
    """The Chroma store a config section describes."""
    return ChromaStore(config.path, config.collection, config.distance)


def load_documents(
    root: Path, config: LoaderConfig, report: IndexReport, progress: bool = True
) -> Iterator[list[Document]]:
    """The Documents of each readable file under root; unreadable files go to report.skipped."""
    files = list(iter_files(root, config.include, config.exclude, config.formats))
    for path in tqdm(files, desc="files", unit="file", disable=not progress or None):
        relative = path.relative_to(root).as_posix()
        try:
            documents = load_file(path, root, config.pdf_backend)
        except LoadError as err:
            report.skipped.append(SkippedFile(relative, str(err)))
            continue
        except Exception as err:  # one bad file must never stop the run; it is reported, not hidden
            log.debug("unexpected error loading %s", relative, exc_info=True)
            report.skipped.append(SkippedFile(relative, f"unexpected error: {type(err).__name__}: {err}"))
            continue
        report.files_indexed += 1
        yield documents


def index_folder(
    root: Path,
    loader: LoaderConfig,
    chunker: Chunker,
    embedder: Embedder,
    store: ChromaStore,
    recreate: bool = False,
    progress: bool = True,
) -> IndexReport:
    """Index every readable file under root into the store and report what happened."""
    started = time.perf_counter()
    truncated_before = embedder.truncated
    report = IndexReport(root=str(root), collection=store.name)
    store.open(embedder.fingerprint, recreate=recreate)
    pending: list[Chunk] = []
    with tqdm(desc="chunks", unit="chunk", disable=not progress or None) as bar:

        def flush() -> None:
            vectors = embedder.encode_documents([chunk.text for chunk in pending])
            store.upsert(pending, vectors)
            report.chunks_written += len(pending)
            bar.update(len(pending))
            pending.clear()

        for documents in load_documents(root, loader, report, progress):
            for document in documents:
                pending.extend(chunker.split(document))
            if len(pending) >= WRITE_BATCH:
                flush()
        if pending:
            flush()
    report.chunks_truncated = embedder.truncated - truncated_before
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def index_with_config(
    root: Path, config: Config, recreate: bool = False, progress: bool = True
) -> IndexReport:
    """Build every component from config and index root."""
    embedder = build_embedder(config.embedder)
    return index_folder(
        root,
        config.loader,
        build_chunker(config.chunking, embedder),
        embedder,
        build_store(config.store),
        recreate=recreate,
        progress=progress,
    )
