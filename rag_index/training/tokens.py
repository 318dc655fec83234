"""Token vectors of the frozen encoder, computed once and kept on disk in bf16 (half of fp32's size).

Training a pooling head or a query adapter never changes the encoder, so its output is computed once per
(model, texts) and every later run, seed or setting reads it back in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag_index.index.progress import Meter

if TYPE_CHECKING:
    import torch

    from rag_index.embed.embedder import PoolingEmbedder


@dataclass(frozen=True)
class TokenVectors:
    """Token vectors of many texts, end to end: text i owns rows offsets[i]:offsets[i + 1]."""

    states: torch.Tensor  # [all tokens, hidden] bf16
    ids: torch.Tensor  # [all tokens] int64 token ids
    offsets: np.ndarray  # [texts + 1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """Tokens per text."""
        return np.diff(self.offsets)

    def batch(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(states [B, T, H] float32, mask [B, T], ids [B, T]) of the texts rows, padded on the right."""
        import torch

        lengths = [int(self.offsets[r + 1] - self.offsets[r]) for r in rows]
        width = max(lengths, default=1)
        states = torch.zeros(len(rows), width, self.states.shape[1])
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        for i, (r, n) in enumerate(zip(rows, lengths, strict=True)):
            start = int(self.offsets[r])
            states[i, :n] = self.states[start : start + n].float()
            mask[i, :n] = 1
            ids[i, :n] = self.ids[start : start + n]
        return states, mask, ids

    def blocks(self, size: int = 256) -> list[np.ndarray]:
        """All rows in blocks of similar length (little padding), for a pass over every text."""
        order = np.argsort(-self.lengths(), kind="stable")
        return [order[start : start + size] for start in range(0, len(order), size)]


def cache_key(embedder: PoolingEmbedder, texts: Sequence[str]) -> str:
    """What the vectors depend on: the encoder (not its pooling), how it ran, and the texts."""
    recipe = {
        **embedder.fingerprint_of("mean"),
        "dtype": embedder.dtype,
        "backend": embedder.backend_name,
        "texts": hashlib.sha256(json.dumps(list(texts)).encode("utf-8")).hexdigest(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode("utf-8")).hexdigest()[:24]


def token_vectors(
    embedder: PoolingEmbedder, texts: Sequence[str], folder: Path, desc: str, progress: bool = True
) -> tuple[TokenVectors, bool]:
    """The token vectors of texts, read from folder or computed and written there; (vectors, were cached)."""
    import torch

    path = folder / f"{cache_key(embedder, texts)}.npz"
    if path.is_file():
        with np.load(path) as stored:
            # bf16 has no numpy type: the bits travel as int16 and are viewed back as bf16.
            states = torch.from_numpy(stored["states"]).view(torch.bfloat16)
            return TokenVectors(states, torch.from_numpy(stored["ids"]), stored["offsets"]), True
    lengths = np.zeros(len(texts), dtype=np.int64)
    parts: dict[int, tuple[np.ndarray, torch.Tensor]] = {}
    with Meter(desc, "text", len(texts), progress) as bar:
        for index, ids, hidden in embedder.token_vectors(texts):
            parts[index] = (ids, hidden.to(torch.bfloat16))
            lengths[index] = len(ids)
            bar.update(1)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    states = torch.cat([parts[i][1] for i in range(len(texts))])
    ids_all = torch.from_numpy(np.concatenate([parts[i][0] for i in range(len(texts))]).astype(np.int64))
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, states=states.view(torch.int16).numpy(), ids=ids_all.numpy(), offsets=offsets)
    os.replace(partial, path)  # a run stopped halfway leaves no cache that looks complete
    return TokenVectors(states, ids_all, offsets), False
