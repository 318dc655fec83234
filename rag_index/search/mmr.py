"""Maximal marginal relevance: pick results that are relevant and unlike the ones already picked."""

from __future__ import annotations

import numpy as np


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of a with every row of b; zero vectors give 0."""
    a_norm = np.linalg.norm(a, axis=1, keepdims=True)
    b_norm = np.linalg.norm(b, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = (a @ b.T) / (a_norm * b_norm.T)
    return np.nan_to_num(sims, nan=0.0, posinf=0.0, neginf=0.0)


def mmr_select(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Indices of k candidates by maximal marginal relevance, in the order they are picked.

    Each step takes the candidate maximizing lambda * sim(query, c) - (1 - lambda) * max sim(c, picked),
    with cosine similarities: lambda_mult 1 is plain similarity order, 0 is maximal diversity. This is
    the rule (and tie-break: the first best) of LangChain's maximal_marginal_relevance, vectorized.
    """
    n = min(k, len(candidates))
    if n <= 0:
        return []
    relevance = cosine_matrix(query.reshape(1, -1), candidates)[0]
    redundancy = np.full(len(candidates), -np.inf)  # max similarity to anything picked so far
    available = np.ones(len(candidates), dtype=bool)
    picked = [int(np.argmax(relevance))]
    for _ in range(n - 1):
        last = candidates[picked[-1]].reshape(1, -1)
        redundancy = np.maximum(redundancy, cosine_matrix(candidates, last)[:, 0])
        available[picked[-1]] = False
        gain = np.where(available, lambda_mult * relevance - (1.0 - lambda_mult) * redundancy, -np.inf)
        picked.append(int(np.argmax(gain)))
    return picked
