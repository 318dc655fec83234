"""Query latency: p50 and p95 of rag-index retrieval (query embedding + search) over SciFact.

Run: python benchmarks/query.py [--docs 5183] [--queries 300] [--store DIR]
        [--variants torch:fp32:similarity,openvino:bf16:similarity,...,openvino:bf16:hybrid:document_weight=0]
Indexes the SciFact abstracts (one .txt file each) with the `rag-index index` command into --store (a
temporary folder by default; an existing index there is reused), then times Retriever.search for the test
claims with each variant (query-side backend, precision, search type and any retrieval options as
key=value), alternated query by query.
Prints the percentiles and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import SCIFACT, emit, machine, require, scifact_corpus

from rag_index.build import build_embedder, build_lexical, build_store
from rag_index.config import load_config
from rag_index.evaluation.datasets import load_beir
from rag_index.search.retriever import Retriever


def build_index(store_path: Path, docs: int) -> dict[str, object]:
    """Index the first docs SciFact abstracts into store_path with the CLI; its JSON report."""
    with tempfile.TemporaryDirectory(prefix="bench-scifact-") as folder:
        ids, texts = scifact_corpus(docs)
        for doc_id, text in zip(ids, texts, strict=True):
            (Path(folder) / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        command = [
            str(Path(sys.executable).with_name("rag-index")),
            "index",
            folder,
            "--json",
            "--set",
            f"store.path={store_path}",
            "--set",
            "embedder.backend=openvino",
            "--set",
            "embedder.dtype=auto",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    """Time each query end to end and print p50/p95 per backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5183)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--store", type=Path, help="index folder to build or reuse (default: temporary)")
    parser.add_argument(
        "--variants",
        default="torch:fp32:similarity,openvino:bf16:similarity,openvino:bf16:lexical,openvino:bf16:hybrid,"
        "openvino:bf16:hybrid:document_weight=0",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        store_path = args.store or Path(tmp)
        if not (store_path / "chroma.sqlite3").exists():
            started = time.perf_counter()
            report = build_index(store_path, args.docs)
            print(f"indexed {report.get('files_indexed')} files in {time.perf_counter() - started:.1f} s")
        queries = list(load_beir(require(SCIFACT)).queries.values())[: args.queries]  # the judged test claims
        retrievers = {}
        embedders = {}
        for variant in args.variants.split(","):
            backend, dtype, search_type, *extra = variant.split(":")
            config = load_config(
                None, [f"store.path={store_path}", f"embedder.backend={backend}", f"embedder.dtype={dtype}"]
            )
            if (backend, dtype) not in embedders:  # variants of one embedder share it, as a process would
                embedders[backend, dtype] = build_embedder(config.embedder)
            embedder = embedders[backend, dtype]
            store = build_store(config.store)
            store.open(embedder.fingerprint, create=False)
            lexical = build_lexical(config.lexical, store)
            options: dict[str, object] = {"search_type": search_type, "fetch_k": config.retrieval.fetch_k}
            options.update(option.split("=", 1) for option in extra)  # checked by Retriever's config
            retrievers[variant] = Retriever(embedder, store, k=10, lexical=lexical, **options)
            retrievers[variant].search(queries[0])  # warm-up: first-call allocations, Chroma's index load
        times: dict[str, list[float]] = {variant: [] for variant in retrievers}
        chunks = store.count()
        for query in queries:
            for variant, retriever in retrievers.items():
                started = time.perf_counter()
                retriever.search(query)
                times[variant].append((time.perf_counter() - started) * 1000)
    result = {}
    for variant, values in times.items():
        p50, p95 = np.percentile(values, [50, 95])
        result[variant] = {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}
        print(f"{variant:38s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   ({len(values)} queries, k=10)")
    emit({"benchmark": "query", "machine": machine(), "chunks": chunks, "queries": len(queries), **result})


if __name__ == "__main__":
    main()
