"""The scale curve's data: real vectors embedded once, files written for any size, and the replay embedder.

Embedding a million chunks would take hours on 2 cores and says nothing new about storage. So a pool of
real SciFact abstracts (cut to one chunk each) and the test claims are embedded once with the configured
model and cached; the files hold those abstracts under unique headers, and the replay embedder gives each
chunk a pooled vector (picked by the chunk text's hash) plus a little noise of its own, so no two stored
vectors are equal (HNSW over thousands of exact duplicates would not be representative).
Everything else (parse, chunk, write, manifest, lexical index, verify, search) is the real code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import SCIFACT, require, scifact_corpus

CHUNKS_PER_FILE = 50  # 1M chunks in 20,000 files: about a 25-page PDF each
PARAGRAPH_CHARS = 600  # about 130 tokens: one paragraph fills one chunk (two do not fit in 200 tokens)
NOISE = 0.35  # norm of the noise added to a reused vector: copies of one vector agree to a cosine of ~0.94
REPLAY = "scale_curve replay: pooled real vectors + per-text noise"


def paragraph(text: str) -> str:
    """An abstract cut at a word boundary to about PARAGRAPH_CHARS characters."""
    if len(text) <= PARAGRAPH_CHARS:
        return text
    return text[:PARAGRAPH_CHARS].rsplit(" ", 1)[0]


def pool_texts(size: int) -> list[str]:
    """The first size SciFact abstracts, as the paragraphs the files hold."""
    return [paragraph(text) for text in scifact_corpus(size)[1]]


def queries(limit: int) -> list[str]:
    """The SciFact claims, in file order."""
    with (require(SCIFACT) / "queries.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle][:limit]


def real_vectors(cache: Path, config: Any, pool: int, query_count: int) -> Path:
    """Embed the pool and the queries with the configured model once; the cache file (.npz)."""
    path = cache / f"vectors-{pool}-{query_count}.npz"
    if path.is_file():
        return path
    from rag_index.build import build_embedder

    embedder = build_embedder(config.embedder)
    texts, claims = pool_texts(pool), queries(query_count)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        documents=embedder.encode_documents(texts),
        queries=embedder.encode_queries(claims),
        query_texts=np.array(claims, dtype=object),
        fingerprint=np.array(json.dumps(embedder.fingerprint, sort_keys=True)),
    )
    return path


def file_text(number: int, texts: Sequence[str], version: int = 0) -> str:
    """File number's paragraphs: CHUNKS_PER_FILE abstracts, each under a header no other file has."""
    paragraphs = []
    for part in range(CHUNKS_PER_FILE):
        text = texts[(number * 7919 + part * 104729 + version * 31) % len(texts)]
        paragraphs.append(f"Report {number}, section {part}, revision {version}. {text}")
    return "\n\n".join(paragraphs) + "\n"


def file_path(folder: Path, number: int) -> Path:
    """Where file number lives: 200 files a folder, as archives are laid out."""
    return folder / f"part-{number // 200:04d}" / f"report-{number:06d}.txt"


def write_files(folder: Path, start: int, stop: int, texts: Sequence[str]) -> None:
    """Write files start..stop-1 (their first version)."""
    for number in range(start, stop):
        path = file_path(folder, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file_text(number, texts), encoding="utf-8")


def change_files(folder: Path, files: int, fraction: float, round_: int, texts: Sequence[str]) -> int:
    """Rewrite fraction of the files (every 1/fraction-th, shifted per round) as a new version; how many."""
    step = max(1, round(1 / fraction))
    changed = list(range(round_ % step, files, step))
    for number in changed:
        file_path(folder, number).write_text(file_text(number, texts, round_ + 1), encoding="utf-8")
    return len(changed)


class ReplayEmbedder:
    """An Embedder whose document vectors are pooled real ones plus per-text noise; queries looked up.

    The tokenizer (chunk sizes) is the real model's when given; the fingerprint is the real one's, marked
    as a replay so such a store can never be mistaken for, or mixed with, a real one.
    """

    truncated = 0

    def __init__(self, vectors: Path, tokenizer: Any = None) -> None:
        data = np.load(vectors, allow_pickle=True)
        self.pool = np.asarray(data["documents"], dtype=np.float32)
        self.by_query = dict(zip(data["query_texts"].tolist(), data["queries"], strict=True))
        self._fingerprint = {**json.loads(str(data["fingerprint"])), "replay": REPLAY}
        self.tokenizer = tokenizer

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The real model's fingerprint, marked as a replay."""
        return self._fingerprint

    @property
    def max_content_tokens(self) -> int:
        """The real model's, when its tokenizer was given."""
        return int(self.tokenizer.max_content_tokens) if self.tokenizer is not None else 254

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """The real tokenizer's spans (the chunker counts them)."""
        if self.tokenizer is None:
            raise RuntimeError("this replay embedder was made for queries only")
        return list(self.tokenizer.token_spans(text))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """A pooled vector per text (by its hash) plus noise seeded by the same hash, unit length."""
        out = np.empty((len(texts), self.pool.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(self.pool.shape[1]).astype(np.float32)
            vector = self.pool[seed % len(self.pool)] + noise * (NOISE / np.sqrt(self.pool.shape[1]))
            out[i] = vector / np.linalg.norm(vector)
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The real vectors of the benchmark's queries (embedded once); other texts are refused."""
        return np.stack([self.by_query[text] for text in texts])
