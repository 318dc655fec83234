"""SciFact nDCG@10 of the fast embedder settings against torch fp32, with exact cosine search.

Run: python benchmarks/quality.py [--variants torch:fp32,torch:bf16,openvino:bf16]
Each variant is BACKEND:DTYPE; the first is the reference that the others are compared with (the
cosine, and nDCG@10 unless --fp32-ndcg gives an fp32 figure measured before, which saves the slowest
pass). Every variant embeds the whole corpus (5,183 abstracts, title + " " + text) and the 300 test
claims; nDCG@10 is computed here (graded gains, log2 discount, a document with the query's own id
ignored, as BEIR does), so it does not depend on the evaluation command. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections import defaultdict

import numpy as np
from _common import SCIFACT, emit, machine, require, scifact_corpus

from rag_index.embedder import PoolingEmbedder


def load_queries() -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """(query ids, query texts, qrels) of the SciFact test split."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    lines = (require(SCIFACT) / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:  # header: query-id corpus-id score
        query_id, doc_id, score = line.split("\t")
        qrels[query_id][doc_id] = int(score)
    texts = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            query = json.loads(line)
            texts[str(query["_id"])] = query["text"]
    ids = [query_id for query_id in qrels if query_id in texts]
    return ids, [texts[query_id] for query_id in ids], dict(qrels)


def ndcg_at_10(scores: np.ndarray, query_ids: list[str], doc_ids: list[str], qrels: dict) -> float:
    """Mean nDCG@10 of the rankings given by scores (queries x documents)."""
    total = 0.0
    for row, query_id in enumerate(query_ids):
        order = np.argsort(-scores[row], kind="stable")[:11]
        ranked = [doc_ids[i] for i in order if doc_ids[i] != query_id][:10]
        judged = qrels[query_id]
        dcg = sum(judged.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked))
        ideal = sorted(judged.values(), reverse=True)[:10]
        idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    return total / len(query_ids)


def main() -> None:
    """Embed SciFact with each variant and print nDCG@10 and the cosine to the reference vectors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="torch:fp32,torch:bf16,openvino:bf16")
    parser.add_argument(
        "--fp32-ndcg",
        type=float,
        help="a torch fp32 nDCG@10 measured before (e.g. 0.6451): compare with it and skip the fp32 pass",
    )
    args = parser.parse_args()
    logging.getLogger("rag_index.embedder").setLevel(logging.ERROR)  # most abstracts exceed 256 tokens
    doc_ids, docs = scifact_corpus()
    query_ids, queries, qrels = load_queries()
    rows, reference = [], None
    for variant in args.variants.split(","):
        backend, dtype = variant.split(":")
        embedder = PoolingEmbedder(device="cpu", dtype=dtype, backend=backend)
        started = time.perf_counter()
        doc_vectors = embedder.encode_documents(docs)
        seconds = time.perf_counter() - started
        query_vectors = embedder.encode_queries(queries)
        if reference is None:
            reference = doc_vectors
        cosine = np.sum(doc_vectors * reference, axis=1)
        row = {
            "variant": variant,
            "ndcg@10": round(ndcg_at_10(query_vectors @ doc_vectors.T, query_ids, doc_ids, qrels), 4),
            "cosine_min": round(float(cosine.min()), 6),
            "cosine_mean": round(float(cosine.mean()), 6),
            "encode_seconds": round(seconds, 1),
        }
        rows.append(row)
        print(
            f"{variant:16s} nDCG@10 {row['ndcg@10']:.4f}  cosine to {rows[0]['variant']}: "
            f"min {row['cosine_min']:.6f} mean {row['cosine_mean']:.6f}  corpus {seconds:.1f} s",
            flush=True,
        )
    base = args.fp32_ndcg if args.fp32_ndcg is not None else rows[0]["ndcg@10"]
    for row in rows:
        row["ndcg_delta"] = round(row["ndcg@10"] - base, 4)
    for row in rows:
        print(
            f"{row['variant']:16s} nDCG@10 {row['ndcg@10']:.4f}, "
            f"{row['ndcg_delta']:+.4f} against fp32 {base:.4f}"
        )
    emit(
        {
            "benchmark": "quality",
            "dataset": "scifact test",
            "machine": machine(),
            "fp32_ndcg@10": base,
            "fp32_measured_here": args.fp32_ndcg is None,
            "variants": rows,
        }
    )


if __name__ == "__main__":
    main()
