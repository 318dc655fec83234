"""Learned pooling: an attention head over token vectors and a query adapter, each a small safetensors file.

Both start as the identity of what they replace: the head with a = 0 and b = 0 weighs every real token
the same (mean pooling), the adapter is the identity matrix. Training (rag_index.training) moves them from
there, so an untrained or barely trained file can only be as good as mean pooling, not random.

This module imports torch: the embedder imports it only when a head or an adapter is configured.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rag_index.errors import ConfigError

HEAD, ADAPTER = "attention", "query_adapter"  # the kind stored in a file's metadata
FORMAT = "rag-index-learned-1"


class AttentionHead(nn.Module):
    """Token weights softmax(a · LN(h_t) + b[token]) over the real tokens; output Σ w_t h_t."""

    def __init__(self, dimension: int, vocab_size: int) -> None:
        super().__init__()
        # No affine part: a's dot product already scales each feature, and fewer parameters overfit less.
        self.norm = nn.LayerNorm(dimension, elementwise_affine=False)
        self.a = nn.Parameter(torch.zeros(dimension))
        self.b = nn.Parameter(torch.zeros(vocab_size))

    @property
    def dimension(self) -> int:
        """Width of the token vectors the head pools."""
        return int(self.a.shape[0])

    @property
    def vocab_size(self) -> int:
        """Token ids the head has a bias for."""
        return int(self.b.shape[0])

    def weights(self, tokens: torch.Tensor, mask: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, T] weights summing to 1 over the real tokens of each row (padding: 0)."""
        logits = self.norm(tokens.float()) @ self.a + self.b[input_ids]
        logits = logits.masked_fill(mask == 0, float("-inf"))
        return torch.softmax(logits, dim=1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, T, H] token vectors, [B, T] mask and ids -> [B, H] pooled vectors (not normalized)."""
        weights = self.weights(tokens, mask, input_ids)
        return (tokens.float() * weights.unsqueeze(-1)).sum(1)


class QueryAdapter(nn.Module):
    """A linear map on pooled query vectors, identity at the start; stored document vectors stay valid."""

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dimension, dimension)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(dimension))
            self.linear.bias.zero_()

    @property
    def dimension(self) -> int:
        """Width of the vectors the adapter maps."""
        return int(self.linear.weight.shape[0])

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """[B, H] pooled query vectors -> [B, H] adapted ones (not normalized)."""
        return self.linear(vectors.float())

    def adapt(self, vectors: torch.Tensor, normalize: bool) -> torch.Tensor:
        """Adapted vectors, L2-normalized when the embedder normalizes."""
        out = self(vectors)
        return F.normalize(out, p=2, dim=1) if normalize else out


def file_hash(path: str | Path) -> str:
    """A hash of the file's tensors and metadata: what a fingerprint records of a head or an adapter.

    Not of its bytes: safetensors writes the metadata in no fixed order, so equal files may differ there.
    """
    from safetensors import safe_open

    digest = hashlib.sha256()
    with safe_open(str(path), framework="pt") as opened:
        digest.update(json.dumps(opened.metadata() or {}, sort_keys=True).encode("utf-8"))
        for name in sorted(opened.keys()):
            tensor = opened.get_tensor(name)
            digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def save(module: AttentionHead | QueryAdapter, path: str | Path, weights: str, pooling: str = "mean") -> None:
    """Write module's tensors as safetensors, with what they were trained for: the encoder's weights hash
    and, for an adapter, the pooling of the query vectors it maps."""
    from safetensors.torch import save_file

    kind = HEAD if isinstance(module, AttentionHead) else ADAPTER
    metadata = {"format": FORMAT, "kind": kind, "weights": weights, "pooling": pooling}
    tensors = {name: tensor.detach().contiguous() for name, tensor in module.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def _read(
    path: str | Path, key: str, kind: str, weights: str
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{key}: {file}: no such file (train one with rag-index train-pooling)")
    try:
        with safe_open(str(file), framework="pt") as opened:
            metadata = opened.metadata() or {}
            tensors = {name: opened.get_tensor(name) for name in opened.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise ConfigError(f"{key}: {file}: not a safetensors file ({err})") from None
    if metadata.get("format") != FORMAT or metadata.get("kind") != kind:
        found = metadata.get("kind", "no rag-index metadata")
        raise ConfigError(
            f"{key}: {file}: expected a {kind} file from rag-index train-pooling, found {found}"
        )
    if metadata.get("weights") != weights:
        # Same shapes are not enough: a head learned on another encoder's token vectors means nothing here.
        raise ConfigError(
            f"{key}: {file}: trained for another model (weights {metadata.get('weights')}, "
            f"this model's: {weights})"
        )
    return tensors, metadata


def _load_into(module: nn.Module, tensors: dict[str, torch.Tensor], key: str, path: str | Path) -> None:
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        raise ConfigError(f"{key}: {path}: tensors {found} do not fit this model (expected {expected})")
    module.load_state_dict(tensors)


def load_head(path: str | Path, dimension: int, vocab_size: int, weights: str) -> AttentionHead:
    """The head in path, checked against the encoder (weights, sizes); ConfigError naming the file."""
    key = "embedder.attention_head"
    tensors, _ = _read(path, key, HEAD, weights)
    head = AttentionHead(dimension, vocab_size)
    _load_into(head, tensors, key, path)
    return head.eval()


def load_adapter(path: str | Path, dimension: int, weights: str, pooling: str) -> QueryAdapter:
    """The adapter in path, checked against the encoder and its pooling; ConfigError naming the file."""
    key = "embedder.query_adapter"
    tensors, metadata = _read(path, key, ADAPTER, weights)
    if metadata.get("pooling") != pooling:
        raise ConfigError(
            f"{key}: {path}: maps {metadata.get('pooling')}-pooled queries, but embedder.pooling is {pooling}"
        )
    adapter = QueryAdapter(dimension)
    _load_into(adapter, tensors, key, path)
    return adapter.eval()
