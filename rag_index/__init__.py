"""rag-index: index folders of documents into Chroma with a pooling embedder, and retrieve from them.

    from rag_index import RagIndex
    index = RagIndex(store={"path": ".rag-index/demo"})
    index.index("data"); index.search("How long is the warranty?")

The names below are imported on first use, so that `rag-index index` on an unchanged folder (and any
`import rag_index.x`) does not pay for importing torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_index.api import RagIndex
    from rag_index.config import Config, load_config
    from rag_index.embed.embedder import PoolingEmbedder
    from rag_index.errors import ConfigError, ModelError, RagIndexError, StoreError
    from rag_index.index.report import IndexReport
    from rag_index.index.run import Indexer, index_folder
    from rag_index.search.retriever import Retriever
    from rag_index.storage.chroma import ChromaStore
    from rag_index.types import Chunk, Document, ScoredChunk, SkippedFile

_HOMES = {
    "ChromaStore": "storage.chroma",
    "Chunk": "types",
    "Config": "config",
    "ConfigError": "errors",
    "Document": "types",
    "IndexReport": "index.report",
    "Indexer": "index.run",
    "ModelError": "errors",
    "PoolingEmbedder": "embed.embedder",
    "RagIndex": "api",
    "RagIndexError": "errors",
    "Retriever": "search.retriever",
    "ScoredChunk": "types",
    "SkippedFile": "types",
    "StoreError": "errors",
    "index_folder": "index.run",
    "load_config": "config",
}
__all__ = [
    "ChromaStore",
    "Chunk",
    "Config",
    "ConfigError",
    "Document",
    "IndexReport",
    "Indexer",
    "ModelError",
    "PoolingEmbedder",
    "RagIndex",
    "RagIndexError",
    "Retriever",
    "ScoredChunk",
    "SkippedFile",
    "StoreError",
    "index_folder",
    "load_config",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'rag_index' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rag_index.{_HOMES[name]}"), name)
