"""Embedding throughput: the rag-index embedder against SentenceTransformer.encode, side by side.

Run: python benchmarks/embed.py [--docs 2000] [--pairs 3] [--backend openvino] [--dtype auto]
Both sides embed the same texts (the first --docs SciFact abstracts, title + " " + text) with the same model,
in alternated runs A B A B ..., so that other load on the machine hits both. Tokens/s counts the real tokens
(at most 256 a text, as both truncate there), never padding. Prints each run, the median ratio, the cosine
between the two sides' vectors, and a final JSON line.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import numpy as np
from _common import emit, machine, median, scifact_corpus

from rag_index.embed.embedder import PoolingEmbedder


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    """Seconds taken by encode(texts), and its vectors."""
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def main() -> None:
    """Alternate the two embedders over the same texts and print tokens/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--backend", default="openvino", help="rag-index embedder.backend")
    parser.add_argument("--dtype", default="auto", help="rag-index embedder.dtype")
    parser.add_argument("--batch-size", type=int, default=256, help="rag-index embedder.batch_size")
    parser.add_argument("--batch-tokens", type=int, default=None, help="rag-index embedder.batch_tokens")
    args = parser.parse_args()
    logging.getLogger("rag_index.embed.embedder").setLevel(logging.ERROR)  # most abstracts exceed 256 tokens

    from sentence_transformers import SentenceTransformer

    _, texts = scifact_corpus(args.docs)
    ours = PoolingEmbedder(
        device="cpu",
        dtype=args.dtype,
        backend=args.backend,
        batch_size=args.batch_size,
        batch_tokens=args.batch_tokens,
    )
    reference = SentenceTransformer(str(ours.model_path), device="cpu")
    tokens = sum(min(len(row), ours.max_length) for row in ours.tokenizer(texts)["input_ids"])
    label = f"rag-index {args.backend} {str(ours.dtype).removeprefix('torch.')}"
    print(f"{len(texts)} texts, {tokens} tokens; A = {label}, B = sentence-transformers fp32", flush=True)

    def st_encode(batch: list[str]) -> np.ndarray:
        return reference.encode(batch, batch_size=32, normalize_embeddings=True)

    ours.encode(texts[:64])  # warm-up: first-call allocations and kernel selection on both sides
    st_encode(texts[:64])
    ours_rates, st_rates, ratios = [], [], []
    for pair in range(1, args.pairs + 1):
        seconds_a, vectors_a = timed(ours.encode, texts)
        seconds_b, vectors_b = timed(st_encode, texts)
        ours_rates.append(tokens / seconds_a)
        st_rates.append(tokens / seconds_b)
        ratios.append(seconds_b / seconds_a)
        print(
            f"pair {pair}: A {tokens / seconds_a:8.0f} tok/s ({seconds_a:6.1f} s)   "
            f"B {tokens / seconds_b:8.0f} tok/s ({seconds_b:6.1f} s)   ratio {ratios[-1]:.2f}",
            flush=True,
        )
    cosine = np.sum(vectors_a * vectors_b, axis=1)
    print(
        f"median: A {median(ours_rates):.0f} tok/s, B {median(st_rates):.0f} tok/s, "
        f"ratio {median(ratios):.2f}; "
        f"cosine A-B min {cosine.min():.6f} mean {cosine.mean():.6f}"
    )
    emit(
        {
            "benchmark": "embed",
            "machine": machine(),
            "texts": len(texts),
            "tokens": tokens,
            "ours": label,
            "settings": {"batch_size": args.batch_size, "batch_tokens": ours.batch_tokens},
            "ours_tokens_per_s": median(ours_rates),
            "sentence_transformers_tokens_per_s": median(st_rates),
            "ratios": [round(r, 3) for r in ratios],
            "median_ratio": median(ratios),
            "cosine_min": round(float(cosine.min()), 6),
            "cosine_mean": round(float(cosine.mean()), 6),
        }
    )


if __name__ == "__main__":
    main()
