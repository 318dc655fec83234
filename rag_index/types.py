"""The typed values that flow through the pipeline: files -> Documents -> Chunks -> ScoredChunks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

HEADER_SEPARATOR = " > "  # between the headings of a header_path: "Guide > Install > Linux"


def stable_id(*parts: object) -> str:
    """A deterministic id from parts (content addressing keeps re-runs idempotent)."""
    joined = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def content_hash(data: bytes) -> str:
    """The sha256 hex digest of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Document:
    """A unit of loaded text: a whole text file, or one page of a PDF.

    metadata holds at least ``source`` (path relative to the indexed root, POSIX style),
    ``content_hash`` (sha256 of the file's bytes) and, for PDFs, ``page`` (1-based).
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A span of a Document: ``document.text[start:end] == text``."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its similarity score (higher is more similar)."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be indexed, with a one-line reason."""

    path: str
    reason: str


class Tokenizer(Protocol):
    """What chunkers need from the embedder's tokenizer."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of each token of ``text``, special tokens excluded."""
        ...


class Embedder(Tokenizer, Protocol):
    """What the pipeline and retriever need from an embedder (PoolingEmbedder, or a fake in tests)."""

    truncated: int

    @property
    def max_content_tokens(self) -> int:
        """Tokens a document chunk may hold."""
        ...

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What makes two vectors comparable."""
        ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of documents."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of queries."""
        ...
