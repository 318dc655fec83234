"""rag-index: index folders of documents into Chroma with a pooling embedder, and retrieve from them.

The names below are imported on first use, so that `rag-index index` on an unchanged folder (and any
`import rag_index.x`) does not pay for importing torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_index.config import Config, ConfigError, load_config
    from rag_index.embedder import PoolingEmbedder
    from rag_index.pipeline import IndexReport, index_folder, index_with_config
    from rag_index.retriever import Retriever
    from rag_index.store import ChromaStore
    from rag_index.types import Chunk, Document, ScoredChunk, SkippedFile

_HOMES = {
    "ChromaStore": "store",
    "Chunk": "types",
    "Config": "config",
    "ConfigError": "config",
    "Document": "types",
    "IndexReport": "pipeline",
    "PoolingEmbedder": "embedder",
    "Retriever": "retriever",
    "ScoredChunk": "types",
    "SkippedFile": "types",
    "index_folder": "pipeline",
    "index_with_config": "pipeline",
    "load_config": "config",
}
__all__ = [
    "ChromaStore",
    "Chunk",
    "Config",
    "ConfigError",
    "Document",
    "IndexReport",
    "PoolingEmbedder",
    "Retriever",
    "ScoredChunk",
    "SkippedFile",
    "index_folder",
    "index_with_config",
    "load_config",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rag_index' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rag_index.{_HOMES[name]}"), name)
