"""Agent memory latency: adding one text (its embedding included) and recalling, on a large collection.

Run: python benchmarks/memory.py [--chunks 100000] [--adds 50] [--queries 50] [--store DIR]
Fills --store (a temporary folder by default; a filled one is reused) with --chunks synthetic chunks
(random words, random unit vectors, stamped with the default embedder's fingerprint, in Chroma and the
lexical index), then times RagIndex.add_texts of one text at a time (lock, manifest, embedding, both
stores) and RagIndex.search (similarity, k=5). Prints p50/p95 and a JSON line.
Targets (issue 12): add p50 <= 30 ms, recall p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, machine

from rag_index.api import RagIndex
from rag_index.build import build_lexical
from rag_index.types import Chunk

WORDS = "kettle garage station coffee tea meeting report invoice river mountain blue quiet fast".split()


def fill(index: RagIndex, chunks: int, batch: int = 5000) -> float:
    """Write synthetic chunks until the collection holds chunks of them; seconds taken."""
    started = time.perf_counter()
    store = index.store
    store.open(index.embedder.fingerprint)
    lexical = build_lexical(index.config.lexical, store)
    rng = np.random.default_rng(0)
    dimension = int(index.embedder.fingerprint["dimension"])
    for start in range(store.count(), chunks, batch):
        size = min(batch, chunks - start)
        texts = [" ".join(rng.choice(WORDS, 12)) for _ in range(size)]
        batch_chunks = [
            Chunk(f"filler-{start + i}", "filler", text, 0, len(text), {"source": "filler"})
            for i, text in enumerate(texts)
        ]
        vectors = rng.normal(size=(size, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert(batch_chunks, vectors)
        if lexical is not None:
            lexical.upsert(batch_chunks)
    if lexical is not None:
        lexical.mark(store.collection_id)
    return time.perf_counter() - started


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ms = np.asarray(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--adds", type=int, default=50)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        store_path = args.store or Path(scratch)
        index = RagIndex(store={"path": str(store_path), "collection": "memory-bench"})
        fill_seconds = fill(index, args.chunks)
        index.add_texts(["warm-up: loads the model, syncs the lexical index"], ids=["warm-up"])
        adds = []
        for i in range(args.adds):
            started = time.perf_counter()
            index.add_texts([f"observation {i}: the {WORDS[i % len(WORDS)]} was seen at {i} o'clock"])
            adds.append(time.perf_counter() - started)
        index.search("warm-up query")
        recalls = []
        for i in range(args.queries):
            started = time.perf_counter()
            index.search(f"when was the {WORDS[i % len(WORDS)]} seen?", k=5)
            recalls.append(time.perf_counter() - started)
        result = {
            "benchmark": "memory",
            "chunks": args.chunks,
            "fill_seconds": round(fill_seconds, 1),
            "add": percentiles(adds),
            "recall": percentiles(recalls),
            "machine": machine(),
        }
        print(
            f"{args.chunks} chunks: add p50 {result['add']['p50_ms']} ms, p95 {result['add']['p95_ms']} ms; "
            f"recall p50 {result['recall']['p50_ms']} ms, p95 {result['recall']['p95_ms']} ms"
        )
        emit(result)


if __name__ == "__main__":
    main()
