"""Documents -> Chunks: split each document into spans sized in the embedder's tokens or in characters."""

from rag_index.chunking.chunkers import (
    STRATEGIES,
    UNITS,
    Chunker,
    ChunkingConfig,
    StrategyChunker,
    make_chunker,
)

__all__ = ["STRATEGIES", "UNITS", "Chunker", "ChunkingConfig", "StrategyChunker", "make_chunker"]
