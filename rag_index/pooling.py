"""Pooling strategies: pure functions (token_embeddings [B, T, H], attention_mask [B, T]) -> [B, H].

Every function respects padding on either side: padded positions never contribute.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PoolingFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mask(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return attention_mask.unsqueeze(-1).to(tokens.dtype)


def mean(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the real tokens (the pooling all-MiniLM-L6-v2 was trained with)."""
    mask = _mask(tokens, attention_mask)
    return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def mean_sqrt_len(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sum of the real tokens divided by the square root of their count."""
    mask = _mask(tokens, attention_mask)
    return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9).sqrt()


def weighted_mean(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean with position weights 1..n over the real tokens (later tokens weigh more)."""
    # cumsum of the mask numbers the real tokens 1..n whichever side the padding is on.
    weights = (attention_mask.cumsum(1) * attention_mask).unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def max_(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over the real tokens."""
    padded = attention_mask.unsqueeze(-1) == 0
    return tokens.masked_fill(padded, torch.finfo(tokens.dtype).min).max(1).values


def cls(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The first real token ([CLS] for BERT-style models)."""
    first = attention_mask.int().argmax(1)
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), first]


def last_token(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The last real token (for decoder models), with left or right padding."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.int() * positions).argmax(1)
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), last]


POOLING: dict[str, PoolingFn] = {
    "cls": cls,
    "last_token": last_token,
    "max": max_,
    "mean": mean,
    "mean_sqrt_len": mean_sqrt_len,
    "weighted_mean": weighted_mean,
}


def get_pooling(name: str) -> PoolingFn:
    """The pooling function registered under name; raises ValueError naming the valid ones."""
    try:
        return POOLING[name]
    except KeyError:
        raise ValueError(f"unknown pooling {name!r}; expected one of {', '.join(sorted(POOLING))}") from None
