"""Where learned pooling's SciFact gain comes from: test claims whose relevant abstract a train claim shares.

Run after learned_pooling.py (it reads the files and the token cache that run wrote):
PYTHONPATH=. python benchmarks/learned_pooling_overlap.py [--seeds 0,1,2] [--store DIR]
SciFact's claims cite a small part of the corpus, and many test claims are judged against abstracts that
train claims are judged against too. A module may learn which abstracts get cited rather than how to
pool; this splits the dense test nDCG@10 by that overlap. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import SCIFACT, emit, require
from learned_pooling import METRIC

from rag_index.build import build_embedder
from rag_index.config import Config, with_values
from rag_index.embed.learned import load_adapter, load_head
from rag_index.evaluation import load_dataset, per_query
from rag_index.evaluation.runner import exact_search, units
from rag_index.training.tokens import token_vectors
from rag_index.training.trainer import mean_pool, pool_all


def main() -> None:
    """Score mean, heads and adapters on the two groups of test claims."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--store", default="/tmp/learned-pooling-bench")
    args = parser.parse_args()
    store = Path(args.store)
    config = with_values(Config(), {"store.path": str(store)})
    scifact = require(SCIFACT)
    train, test = load_dataset(scifact, "train"), load_dataset(scifact, "test")
    cited = {doc for judged in train.qrels.values() for doc, grade in judged.items() if grade > 0}
    embedder = build_embedder(config.embedder.model_copy(update={"pooling": "mean", "graph_pooling": False}))
    texts, _, unit_docs, _ = units(test, config, embedder, True)
    cache = store / "token-cache"
    unit_tokens, _ = token_vectors(embedder, texts, cache, "documents", progress=False)
    query_ids = [q for q, judged in test.qrels.items() if any(g > 0 for g in judged.values())]
    query_tokens, _ = token_vectors(embedder, [test.queries[q] for q in query_ids], cache, "queries", False)
    shared = {q for q in query_ids if any(d in cited for d, g in test.qrels[q].items() if g > 0)}
    mean_units, mean_queries = pool_all(unit_tokens, mean_pool), pool_all(query_tokens, mean_pool)
    variants = {"mean": (mean_units, mean_queries)}
    for seed in (int(s) for s in args.seeds.split(",")):
        head = load_head(
            store / f"head-seed{seed}.safetensors",
            embedder.dimension,
            embedder.facts.vocab_size,
            embedder.weights,
        )
        variants[f"head:{seed}"] = (pool_all(unit_tokens, head), pool_all(query_tokens, head))
        path = store / f"adapter-seed{seed}.safetensors"
        adapter = load_adapter(path, embedder.dimension, embedder.weights, "mean")
        with torch.no_grad():
            variants[f"adapter:{seed}"] = (mean_units, adapter.adapt(mean_queries, True))
    table = {}
    for name, (u, q) in variants.items():
        scores = per_query(
            exact_search(query_ids, q.numpy(), u.numpy(), unit_docs, 100), test.qrels, [METRIC]
        )
        groups = {"shared": [scores[x][METRIC] for x in query_ids if x in shared]}
        groups["unseen"] = [scores[x][METRIC] for x in query_ids if x not in shared]
        table[name] = {group: round(float(np.mean(values)), 4) for group, values in groups.items()}
        print(f"{name}: shared ({len(shared)}) {table[name]['shared']}, unseen "
              f"({len(query_ids) - len(shared)}) {table[name]['unseen']}", flush=True)  # fmt: skip
    emit({"shared_queries": len(shared), "unseen_queries": len(query_ids) - len(shared), "dense": table})


if __name__ == "__main__":
    main()
