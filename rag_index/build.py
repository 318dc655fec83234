"""Config -> components: config sections become an embedder, a chunker, a store and a retriever."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rag_index.chunking import Chunker, make_chunker
from rag_index.config import ChunkingConfig, EmbedderConfig, LexicalConfig, RetrievalConfig, StoreConfig
from rag_index.embed.int8 import calibration_key, calibration_texts
from rag_index.embed.model_files import model_state, resolve_model_path
from rag_index.search.retriever import DENSE_FALLBACK, Retriever
from rag_index.storage.chroma import ChromaStore, Server
from rag_index.storage.lexical import LEXICAL_SUFFIX, LexicalIndex
from rag_index.types import Embedder

if TYPE_CHECKING:  # imported when an embedder is built: an unchanged re-index never imports torch
    from rag_index.embed.embedder import PoolingEmbedder


log = logging.getLogger(__name__)


def build_embedder(config: EmbedderConfig) -> PoolingEmbedder:
    """The embedder a config section describes."""
    from rag_index.embed.embedder import PoolingEmbedder

    return PoolingEmbedder(**config.model_dump())


def embedder_key(config: EmbedderConfig) -> str:
    """A hash of everything an embedder's fingerprint follows from: its settings and its model's files."""
    blob = json.dumps(config.model_dump(), sort_keys=True) + model_state(resolve_model_path(config.model))
    if config.dtype == "int8":  # the packaged calibration texts are part of the int8 fingerprint
        blob += calibration_key(calibration_texts(), 0)
    if config.attention_head and Path(config.attention_head).is_file():
        # A head retrained into the same path is another fingerprint: an unchanged-looking run must not skip.
        blob += hashlib.sha256(Path(config.attention_head).read_bytes()).hexdigest()
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def build_chunker(config: ChunkingConfig, embedder: Embedder) -> Chunker:
    """The chunker a config section describes, counting the embedder's own tokens."""
    return make_chunker(
        config.strategy,
        config.size,
        config.overlap,
        config.unit,
        embedder,
        embedder.max_content_tokens,
        file_names=config.file_names,
        headers=config.headers,
    )


def build_store(config: StoreConfig) -> ChromaStore:
    """The Chroma store a config section describes (embedded at path, or a server in http mode)."""
    server = None
    if config.mode == "http":
        server = Server(config.host, config.port, config.ssl, config.token_env, config.retries)
    hnsw = {} if config.hnsw_ef_search is None else {"ef_search": config.hnsw_ef_search}
    return ChromaStore(config.path, config.collection, config.distance, server=server, hnsw=hnsw)


def build_lexical(config: LexicalConfig, store: ChromaStore) -> LexicalIndex | None:
    """The lexical index kept beside the store's collection (None when lexical.enabled is off)."""
    if not config.enabled:
        return None
    return LexicalIndex(store.state_file(LEXICAL_SUFFIX), config, filter_ids=store.ids_where)


def build_retriever(
    config: RetrievalConfig, embedder: Embedder, store: ChromaStore, lexical: LexicalIndex | None = None
) -> Retriever:
    """The retriever a `retrieval:` section describes, over an open store (and its lexical index).

    A lexical index that is missing or incomplete for this collection is not used: a search type that
    needs it fails here, saying how to build it, rather than quietly returning dense results. A damaged
    one (derived state: rebuilt by verify --repair or the next index run) lets hybrid search answer from
    the dense side meanwhile, with a warning.
    """
    options = config.model_dump()
    damage = lexical.damage() if lexical is not None else None
    if damage is not None and config.search_type == "hybrid":
        log.warning("%s; %s", damage, DENSE_FALLBACK)
        options["search_type"] = "similarity"
    if lexical is not None and (damage is not None or not lexical.describes(store.collection_id)):
        lexical = None
    return Retriever(embedder, store, lexical=lexical, **options)
