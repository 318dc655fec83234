"""A deterministic fake embedder: pipeline and store tests run in milliseconds without the real model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np


class FakeEmbedder:
    """Bag-of-words vectors hashed into 64 dimensions: texts sharing words are similar."""

    dimension = 64

    def __init__(self, max_content_tokens: int = 254, tag: str = "fake") -> None:
        self.truncated = 0
        self._max_content_tokens = max_content_tokens
        self.tag = tag

    @property
    def max_content_tokens(self) -> int:
        return self._max_content_tokens

    @property
    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.tag, "dimension": self.dimension}

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\w+|[^\w\s]", text)]

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(
            len(texts), self.dimension
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)
