"""One measurement of the scale curve in a process of its own; prints one JSON line (scale_curve.py runs it).

    python benchmarks/_scale_worker.py MEASURE --store DIR --folder DIR --vectors FILE [--queries N]

MEASURE: index (a run over the folder: growth, unchanged or 1 % changed), verify, query (cold open, then
similarity and hybrid p50/p95), rebuild (the lexical index rebuilt from Chroma into a scratch folder).
Every one goes through the public API or the modules the CLI uses; peak RSS is this process's.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit, peak_rss_own_mb
from _scale_corpus import ReplayEmbedder

from rag_index.api import RagIndex
from rag_index.build import build_embedder, build_store
from rag_index.config import Config, load_config
from rag_index.index.local import index_with_config
from rag_index.index.run import sync_lexical
from rag_index.storage.lexical import LexicalIndex


def config_for(store: Path) -> Config:
    """The default config with the store at store (default embedder, chunking, lexical and retrieval)."""
    return load_config(None, values={"store.path": str(store)})


def index(config: Config, folder: Path, vectors: Path) -> dict[str, Any]:
    """An index run as RagIndex.index makes it; the replay embedder (with the real tokenizer) is built only
    if the run needs one, so an unchanged run loads no model, as the CLI's does not."""

    def load() -> Any:
        return ReplayEmbedder(vectors, build_embedder(config.embedder))

    began = time.perf_counter()
    report = index_with_config(folder.resolve(), config, progress=False, load_embedder=load)
    return {
        "seconds": round(time.perf_counter() - began, 3),
        "files_indexed": report.files_indexed,
        "files_unchanged": report.files_unchanged,
        "chunks_written": report.chunks_written,
        "chunks_deleted": report.chunks_deleted,
        "chunks_embedded": report.chunks_embedded,
        "run_s": report.seconds,  # the run itself, without building the embedder
    }


def verify(config: Config) -> dict[str, Any]:
    """rag-index verify (no repair): its seconds and whether the store is clean."""
    began = time.perf_counter()
    drift, _ = RagIndex(config).verify()
    return {"seconds": round(time.perf_counter() - began, 3), "ok": drift.ok, "chunks": drift.chunks_in_store}


def query(config: Config, vectors: Path, count: int) -> dict[str, Any]:
    """Open the store cold (first search answered), then time similarity and hybrid searches, k=10.

    Query vectors are the real ones embedded once, so the figures are the search alone (embedding a
    query is the same few milliseconds at any size: docs/benchmarks/query.md).
    """
    embedder = ReplayEmbedder(vectors)
    texts = list(embedder.by_query)[:count]
    began = time.perf_counter()
    rag = RagIndex(config, embedder=embedder)
    rag.search(texts[0], k=10)  # the default: hybrid
    cold = time.perf_counter() - began
    kinds = ("similarity", "hybrid")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    for text in texts:
        for search_type in kinds:
            started, used = time.perf_counter(), time.process_time()
            rag.search(text, k=10, search_type=search_type)
            times[search_type].append((time.perf_counter() - started) * 1000)
            # CPU time of the whole process: a wall tail with no CPU tail is time spent waiting for a core
            cpu[search_type].append((time.process_time() - used) * 1000)
    result: dict[str, Any] = {"cold_open_s": round(cold, 3), "queries": len(texts)}
    for search_type in kinds:
        p50, p95 = np.percentile(times[search_type], [50, 95])
        cpu50, cpu95 = np.percentile(cpu[search_type], [50, 95])
        result[search_type] = {
            "p50_ms": round(float(p50), 2),
            "p95_ms": round(float(p95), 2),
            "cpu_p50_ms": round(float(cpu50), 2),
            "cpu_p95_ms": round(float(cpu95), 2),
        }
    return result


def rebuild(config: Config, scratch: Path) -> dict[str, Any]:
    """The lexical index rebuilt from the collection's stored texts, into scratch (removed after)."""
    store = build_store(config.store)
    store.attach()
    lexical = LexicalIndex(scratch, config.lexical, filter_ids=store.ids_where)
    began = time.perf_counter()
    sync_lexical(store, lexical)
    seconds = time.perf_counter() - began
    count = lexical.count()
    lexical.close()
    shutil.rmtree(scratch)
    return {"seconds": round(seconds, 3), "chunks": count}


def main() -> None:
    """Run one measurement and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=["index", "verify", "query", "rebuild"])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--vectors", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    config = config_for(args.store)
    if args.measure == "index":
        result = index(config, args.folder, args.vectors)
    elif args.measure == "verify":
        result = verify(config)
    elif args.measure == "query":
        result = query(config, args.vectors, args.queries)
    else:
        result = rebuild(config, args.store.parent / "lexical-rebuild")
    emit({**result, "peak_rss_mb": peak_rss_own_mb()})


if __name__ == "__main__":
    main()
