"""Namespaces at scale: one collection with a namespace filter, against one collection per namespace.

Run: python benchmarks/namespaces.py [--namespaces 1000] [--texts 10] [--searches 300]
Writes --texts memories into each of --namespaces namespaces through the real write path (RagIndex.add_texts:
Chroma, lexical index, manifest), once into one collection (each text tagged with its namespace, the way
`rag-index serve` stores them) and once into a collection per namespace, then measures the cost of writing,
the disk, opening the store in a new process, and search p50/p95 (default hybrid search, and similarity) in
a random namespace. Vectors come from a hashed bag of words (384 dimensions), not the model: the encoder's
cost is the same either way, and what differs is storage. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit, machine

from rag_index.api import RagIndex

DIMENSION = 384
WORDS = (
    "pump valve kettle invoice meeting budget deadline lunch parking badge printer server backup laptop "
    "password contract client supplier warranty refund holiday train flight hotel report draft review"
).split()


class HashedEmbedder:
    """Bag-of-words vectors hashed into 384 dimensions: deterministic, instant, similar for shared words."""

    dimension = DIMENSION
    max_content_tokens = 256
    truncated = 0

    @property
    def fingerprint(self) -> dict[str, Any]:
        return {"model": "hashed-bag-of-words", "dimension": DIMENSION}

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\w+", text)]

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMENSION] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


def memory(rng: np.random.Generator, namespace: int, n: int) -> str:
    return f"agent {namespace} memory {n}: " + " ".join(rng.choice(WORDS, size=8))


def write(indexes: list[RagIndex], namespaces: int, texts: int, one: bool) -> float:
    """Seconds to write every namespace's texts, one add_texts call per namespace."""
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for ns in range(namespaces):
        index = indexes[0] if one else indexes[ns]
        batch = [memory(rng, ns, n) for n in range(texts)]
        meta = [{"namespace": f"agent-{ns}"} if one else {} for _ in batch]
        ids = [f"agent-{ns}/{n}" if one else str(n) for n in range(texts)]
        index.add_texts(batch, meta, ids)
    return time.perf_counter() - began


def search(
    indexes: list[RagIndex], namespaces: int, searches: int, one: bool, **options: Any
) -> dict[str, float]:
    """p50/p95 in ms of searches in a random namespace (the collection's own, or the filtered one)."""
    rng = np.random.default_rng(1)
    took = []
    for _ in range(searches):
        ns = int(rng.integers(namespaces))
        query = " ".join(rng.choice(WORDS, size=3))
        began = time.perf_counter()
        if one:
            hits = indexes[0].search(query, 5, where={"namespace": f"agent-{ns}"}, **options)
        else:
            hits = indexes[ns].search(query, 5, **options)
        took.append(time.perf_counter() - began)
        assert all(hit.text.startswith(f"agent {ns} ") for hit in hits), "a search left its namespace"
    ms = np.asarray(took[searches // 10 :]) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def cold_open(store: Path, collection: str) -> float:
    """Seconds for a new process to open the store and answer one similarity search."""
    script = (
        "import sys, time; sys.path.insert(0, 'benchmarks'); t = time.perf_counter(); "
        "from namespaces import HashedEmbedder; from rag_index.api import RagIndex; "
        f"RagIndex(store={{'path': {str(store)!r}, 'collection': {collection!r}}}, embedder=HashedEmbedder())"
        ".search('pump', 1, search_type='similarity'); print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return round(float(done.stdout.strip()), 2)


def measure(root: Path, namespaces: int, texts: int, searches: int, one: bool) -> dict[str, Any]:
    store = root / ("one" if one else "many")
    names = ["memories"] if one else [f"agent-{ns}" for ns in range(namespaces)]
    indexes = [
        RagIndex(store={"path": str(store), "collection": name}, embedder=HashedEmbedder()) for name in names
    ]
    began = time.perf_counter()
    for index in indexes:
        index.create()
    created = time.perf_counter() - began
    written = write(indexes, namespaces, texts, one)
    return {
        "layout": "one collection, namespace filter" if one else "a collection per namespace",
        "create_s": round(created, 1),
        "write_s": round(written, 1),
        "write_ms_per_call": round(written / namespaces * 1000, 1),
        "disk_mb": disk_mb(store),
        "files": sum(1 for f in store.rglob("*") if f.is_file()),
        "hybrid": search(indexes, namespaces, searches, one),
        "similarity": search(indexes, namespaces, searches, one, search_type="similarity"),
        "cold_open_s": cold_open(store, names[0]),
    }


def main() -> None:
    """Both layouts, side by side in one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--texts", type=int, default=10, help="texts per namespace")
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-namespaces-") as folder:
        rows = [
            measure(Path(folder), args.namespaces, args.texts, args.searches, one) for one in (True, False)
        ]
    print(f"{args.namespaces} namespaces x {args.texts} texts")
    columns = ["create_s", "write_s", "disk_mb", "files", "hybrid p50", "similarity p50", "cold_open_s"]
    print(f"{'layout':<34}" + "".join(f"{name:>15}" for name in columns))
    for row in rows:
        values = [row[key] for key in columns[:4]]
        values += [row["hybrid"]["p50_ms"], row["similarity"]["p50_ms"], row["cold_open_s"]]
        print(f"{row['layout']:<34}" + "".join(f"{value:>15}" for value in values))
    emit(
        {
            "benchmark": "namespaces",
            "machine": machine(),
            "namespaces": args.namespaces,
            "texts": args.texts,
            "layouts": rows,
        }
    )


if __name__ == "__main__":
    main()
