"""Learned pooling on SciFact: mean, idf_mean, the attention head and the query adapter, dense and hybrid.

Run: PYTHONPATH=. python benchmarks/learned_pooling.py [--seeds 0,1,2] [--store DIR]
Trains a head and an adapter per seed on SciFact's train split (dev held out from its 809 queries; the
300 test claims are never read before the files are written), then scores the test split. Every variant
pools the same cached token vectors of the frozen encoder (bf16, OpenVINO as configured by default), so the
test figures differ only by pooling: dense is exact cosine search, hybrid is the Retriever's default hybrid
search over a Chroma collection and the lexical index, as `rag-index eval` runs it. Per-query nDCG@10
is compared with mean's by a paired t-test. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import SCIFACT, emit, machine, require
from scipy import stats

from rag_index.build import build_embedder
from rag_index.config import Config, with_values
from rag_index.embed.learned import load_adapter, load_head
from rag_index.evaluation import load_dataset, per_query
from rag_index.evaluation.runner import EVAL_HNSW, exact_search, index_units, retriever_search, units
from rag_index.search.retriever import Retriever
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalIndex
from rag_index.training.run import train_pooling
from rag_index.training.tokens import TokenVectors, token_vectors
from rag_index.training.trainer import TrainSettings, mean_pool, pool_all

METRIC = "ndcg@10"


def idf_pool(vectors: TokenVectors, idf: torch.Tensor) -> torch.Tensor:
    """idf_mean from the cache: mean weighted by each token's corpus IDF (as PoolingEmbedder.fit_idf)."""
    return pool_all(vectors, lambda s, m, i: (s * (m * idf[i]).unsqueeze(-1)).sum(1))


def corpus_idf(vectors: TokenVectors, vocab: int) -> torch.Tensor:
    """log((N + 1) / (df + 1)) + 1 per token id over the units (the embedder's fit_idf formula)."""
    df = np.zeros(vocab)
    for start, end in zip(vectors.offsets[:-1], vectors.offsets[1:], strict=True):
        df[np.unique(vectors.ids[start:end].numpy())] += 1
    return torch.from_numpy((np.log((len(vectors) + 1) / (df + 1)) + 1).astype(np.float32))


def main() -> None:
    """Train, score and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--store", default="/tmp/learned-pooling-bench")
    parser.add_argument("--dataset", default=str(SCIFACT), help="a BEIR folder with train and test splits")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    store = Path(args.store)
    overrides = dict(item.split("=", 1) for item in args.overrides)
    config = with_values(Config(), {"store.path": str(store), **overrides})
    cache = store / "token-cache"
    scifact = require(Path(args.dataset))
    files: dict[str, Path] = {}
    costs: dict[str, Any] = {}
    for seed in seeds:
        for kind in ("head", "adapter"):
            out = store / f"{kind}-seed{seed}.safetensors"
            report = train_pooling(
                config, load_dataset(scifact, "train"), out, TrainSettings(kind=kind, seed=seed), cache,
                say=lambda line, k=kind, s=seed: print(f"[{k} seed {s}] {line}", flush=True), progress=False,
            )  # fmt: skip
            files[f"{kind}:{seed}"] = out
            costs[f"{kind}:{seed}"] = {
                **{k: report.to_dict()[k] for k in ("cache_seconds", "train_seconds", "bytes", "best_epoch")},
                "dev_mean": round(report.result.mean_dev, 4),
                "dev_learned": round(report.result.best.dev, 4),
                "dev_curve": [round(e.dev, 4) for e in report.result.history],
            }
    # The test split, read only now.
    test = load_dataset(scifact, "test")
    embedder = build_embedder(config.embedder.model_copy(update={"pooling": "mean", "graph_pooling": False}))
    texts, stored, unit_docs, _ = units(test, config, embedder, True)
    unit_tokens, _ = token_vectors(embedder, texts, cache, "documents", progress=False)
    query_ids = [q for q, judged in test.qrels.items() if any(g > 0 for g in judged.values())]
    started = time.perf_counter()
    query_tokens, _ = token_vectors(embedder, [test.queries[q] for q in query_ids], cache, "queries", False)
    query_cache_seconds = round(time.perf_counter() - started, 1)
    vocab = embedder.facts.vocab_size
    idf = corpus_idf(unit_tokens, vocab)
    mean_units, mean_queries = pool_all(unit_tokens, mean_pool), pool_all(query_tokens, mean_pool)
    variants: dict[str, tuple[torch.Tensor, torch.Tensor]] = {
        "mean": (mean_units, mean_queries),
        "idf_mean": (idf_pool(unit_tokens, idf), idf_pool(query_tokens, idf)),
    }
    for seed in seeds:
        head = load_head(files[f"head:{seed}"], embedder.dimension, vocab, embedder.weights)
        variants[f"head:{seed}"] = (pool_all(unit_tokens, head), pool_all(query_tokens, head))
        adapter = load_adapter(files[f"adapter:{seed}"], embedder.dimension, embedder.weights, "mean")
        with torch.no_grad():
            variants[f"adapter:{seed}"] = (mean_units, adapter.adapt(mean_queries, True))
    scores: dict[str, dict[str, dict[str, float]]] = {"dense": {}, "hybrid": {}}
    collections = store / "collections"
    for name, (unit_vectors, query_vectors) in variants.items():
        u, q = unit_vectors.numpy(), query_vectors.numpy()
        dense = per_query(exact_search(query_ids, q, u, unit_docs, 100), test.qrels, [METRIC])
        scores["dense"][name] = {qid: row[METRIC] for qid, row in dense.items()}
        collection = name.replace(":", "-") if not name.startswith("adapter") else "mean"
        chroma = ChromaStore(str(collections), collection, distance="cosine", hnsw=EVAL_HNSW)
        lexical = LexicalIndex(
            collections / f"{collection}-lexical", config.lexical, filter_ids=chroma.ids_where
        )
        index_units(chroma, lexical, stored, u, unit_docs, {"variant": collection})
        retriever = Retriever(
            embedder, chroma, lexical=lexical, **{**config.retrieval.model_dump(), "search_type": "hybrid"}
        )
        run = retriever_search(
            retriever, query_ids, [test.queries[x] for x in query_ids], q, len(texts), len(texts), 10
        )
        hybrid = per_query(run, test.qrels, [METRIC])
        scores["hybrid"][name] = {qid: row[METRIC] for qid, row in hybrid.items()}
        print(f"{name}: dense {np.mean(list(scores['dense'][name].values())):.4f}, "
              f"hybrid {np.mean(list(scores['hybrid'][name].values())):.4f}", flush=True)  # fmt: skip
    table = summarize(scores, seeds, query_ids)
    latency = query_latency(config, files, seeds[0])
    emit({"machine": machine(), "table": table, "costs": costs, "query_cache_seconds": query_cache_seconds,
          "latency_ms": latency})  # fmt: skip


def summarize(scores: dict[str, dict[str, dict[str, float]]], seeds: list[int], qids: list[str]) -> dict:
    """Per search and variant: mean over seeds, spread (min..max), and the paired test against mean."""
    out: dict[str, Any] = {}
    for search, by_variant in scores.items():
        base = np.array([by_variant["mean"][q] for q in qids])
        rows: dict[str, Any] = {"mean": {"ndcg@10": round(float(base.mean()), 4)}}
        idf = np.array([by_variant["idf_mean"][q] for q in qids])
        rows["idf_mean"] = _paired(idf, base, [float(idf.mean())])
        for kind in ("head", "adapter"):
            per_seed = [np.array([by_variant[f"{kind}:{s}"][q] for q in qids]) for s in seeds]
            averaged = np.mean(per_seed, axis=0)  # each query's nDCG@10 averaged over seeds
            rows[kind] = _paired(averaged, base, [float(p.mean()) for p in per_seed])
            rows[kind]["p_per_seed"] = [round(float(stats.ttest_rel(p, base).pvalue), 4) for p in per_seed]
        out[search] = rows
        print(f"\n{search}: variant | nDCG@10 (mean over seeds) | seeds | diff vs mean | p (paired t)")
        for name, row in rows.items():
            print(
                f"  {name} | {row['ndcg@10']} | {row.get('seeds', '')} | {row.get('diff', '')} "
                f"| {row.get('p', '')}"
            )
    return out


def _paired(values: np.ndarray, base: np.ndarray, per_seed: list[float]) -> dict[str, Any]:
    diff = values - base
    return {
        "ndcg@10": round(float(values.mean()), 4),
        "seeds": [round(v, 4) for v in per_seed],
        "spread": round(max(per_seed) - min(per_seed), 4),
        "diff": round(float(diff.mean()), 4),
        "diff_se": round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4),
        "p": round(float(stats.ttest_rel(values, base).pvalue), 4),
        "better_queries": int((diff > 0).sum()),
        "worse_queries": int((diff < 0).sum()),
    }


def query_latency(config: Config, files: dict[str, Path], seed: int) -> dict[str, float]:
    """Median milliseconds of one query's vector: mean (graph pooled), attention head, mean + adapter."""
    queries = ["0-dimensional biomaterials show inductive properties.", "ALDH1 expression is associated."]
    settings = {
        "mean": {},
        "attention": {"pooling": "attention", "attention_head": str(files[f"head:{seed}"])},
        "mean + adapter": {"query_adapter": str(files[f"adapter:{seed}"])},
    }
    out = {}
    for name, update in settings.items():
        embedder = build_embedder(config.embedder.model_copy(update=update))
        embedder.encode_queries(queries[:1])  # load and compile
        times = []
        for i in range(60):
            started = time.perf_counter()
            embedder.encode_queries([queries[i % 2]])
            times.append((time.perf_counter() - started) * 1000)
        out[name] = round(statistics.median(times), 2)
    return out


if __name__ == "__main__":
    main()
