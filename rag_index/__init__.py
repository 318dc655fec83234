"""rag-index: index folders of documents into Chroma with a pooling embedder, and retrieve from them."""

from rag_index.config import Config, ConfigError, load_config
from rag_index.embedder import PoolingEmbedder
from rag_index.pipeline import IndexReport, index_folder, index_with_config
from rag_index.retriever import Retriever
from rag_index.store import ChromaStore
from rag_index.types import Chunk, Document, ScoredChunk, SkippedFile

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
