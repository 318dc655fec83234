"""Pooling strategies: pure functions (token_embeddings [B, T, H], attention_mask [B, T]) -> [B, H].

Every function respects padding on either side: padded positions never contribute. torch is imported by
the functions that call it, so that reading a config (which checks pooling names) does not import torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PoolingFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


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
    import torch

    padded = attention_mask.unsqueeze(-1) == 0
    return tokens.masked_fill(padded, torch.finfo(tokens.dtype).min).max(1).values


def cls(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The first real token ([CLS] for BERT-style models)."""
    import torch

    first = attention_mask.int().argmax(1)
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), first]


def last_token(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The last real token (for decoder models), with left or right padding."""
    import torch

    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.int() * positions).argmax(1)
    return tokens[torch.arange(tokens.shape[0], device=tokens.device), last]


def concatenation(*parts: PoolingFn) -> PoolingFn:
    """A pooling that joins the L2-normalized outputs of parts, so each part weighs the same.

    The embedder then normalizes the whole vector, as it does for every pooling.
    """

    def pool(tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        return torch.cat([F.normalize(part(tokens, attention_mask), p=2, dim=1) for part in parts], dim=1)

    return pool


POOLING: dict[str, PoolingFn] = {
    # attention is `mean` over the weights a learned head gives each token (embedder.attention_head).
    "attention": mean,
    "cls": cls,
    # idf_mean and mean_no_special are `mean` over per-token weights instead of the attention mask: the
    # embedder supplies those weights because they need the token ids (see TOKEN_WEIGHTED).
    "idf_mean": mean,
    "last_token": last_token,
    "max": max_,
    "mean": mean,
    "mean_no_special": mean,
    "mean_sqrt_len": mean_sqrt_len,
    "weighted_mean": weighted_mean,
}

# Poolings whose mask the embedder replaces with token weights: the inverse document frequency of each
# token over the indexed corpus (idf_mean), 0 for special tokens such as [CLS] and [SEP] (mean_no_special),
# or a learned head's softmax weights (attention).
TOKEN_WEIGHTED = ("attention", "idf_mean", "mean_no_special")
JOIN = "+"  # "mean+max": a concatenation of registered poolings


def pooling_choices() -> str:
    """The valid pooling names, for error messages (generated from the registry)."""
    return f"{', '.join(sorted(POOLING))}, or several joined by {JOIN!r} (e.g. mean{JOIN}max)"


def get_pooling(name: str) -> PoolingFn:
    """The pooling registered under name, or a concatenation 'a+b'; raises ValueError naming valid ones."""
    parts = name.split(JOIN)
    unknown = [part for part in parts if part not in POOLING]
    if unknown:
        raise ValueError(f"unknown pooling {unknown[0]!r}; expected one of {pooling_choices()}")
    if len(parts) == 1:
        return POOLING[name]
    weighted = [part for part in parts if part in TOKEN_WEIGHTED]
    if weighted or len(set(parts)) < len(parts):
        raise ValueError(
            f"pooling {name!r}: a concatenation joins distinct poolings, not {', '.join(TOKEN_WEIGHTED)}"
        )
    return concatenation(*(POOLING[part] for part in parts))
