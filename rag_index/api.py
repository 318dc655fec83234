"""RagIndex: one collection and everything around it, the object the CLI, notebooks and adapters use."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_index.build import build_embedder, build_lexical, build_retriever, build_store
from rag_index.config import Config, load_config, with_values
from rag_index.errors import RagIndexError
from rag_index.index.local import index_with_config
from rag_index.index.memory import WRITE_WAIT, TextWriter
from rag_index.index.progress import Progress
from rag_index.index.report import IndexReport
from rag_index.index.run import open_manifest
from rag_index.index.texts import is_text_chunk
from rag_index.index.verify import Drift, verify
from rag_index.remote import RemoteIndex
from rag_index.search.retriever import Retriever
from rag_index.storage.base import Query
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.writer import Checkpoint, no_checkpoint
from rag_index.types import Chunk, Embedder, ScoredChunk

if TYPE_CHECKING:
    import numpy as np

    from rag_index.integrations.langchain import RagIndexRetriever, RagIndexVectorStore


class RagIndex:
    """A searchable index of folders: ``RagIndex().index("docs")``, then ``.search("question")``.

    ``RagIndex(config_or_path=None, **overrides)``: a Config, a YAML file or the defaults, with overrides
    by section or dotted key (``RagIndex(store={"path": "idx"})``, ``RagIndex(**{"retrieval.k": 3})``).
    The embedder loads on first use; an unchanged folder is re-indexed without it.
    """

    def __init__(
        self,
        config_or_path: Config | str | Path | None = None,
        /,
        *,
        embedder: Embedder | None = None,
        checkpoint: Checkpoint = no_checkpoint,
        **overrides: Any,
    ) -> None:
        if isinstance(config_or_path, Config):
            self.config = with_values(config_or_path, overrides) if overrides else config_or_path
        else:
            self.config = load_config(config_or_path, values=overrides)
        self._embedder = embedder
        self._checkpoint = checkpoint  # crash tests inject one; see rag_index.storage.writer
        self._retriever: Retriever | None = None
        self._writer: TextWriter | None = None  # kept: reopening client and lexical index costs ~40 ms
        self._opening = threading.RLock()  # threads (a server's searches) open each part once

    @classmethod
    def from_config(
        cls, path: str | Path | None = None, overrides: Sequence[str] = (), **values: Any
    ) -> RagIndex:
        """The index a config file describes, with --set style KEY=VALUE overrides."""
        return cls(load_config(path, tuple(overrides), values))

    @staticmethod
    def remote(url: str, *, token: str | None = None, namespace: str | None = None) -> RemoteIndex:
        """A running ``rag-index serve`` as an index (search, texts, LangChain adapters), in a namespace."""
        return RemoteIndex(url, token=token, namespace=namespace)

    @property
    def embedder(self) -> Embedder:
        """The configured embedder, loaded on first use."""
        with self._opening:
            if self._embedder is None:
                self._embedder = build_embedder(self.config.embedder)
            return self._embedder

    def index(
        self,
        path: str | Path,
        *,
        recreate: bool = False,
        prune: bool = True,
        wait: float = 0.0,
        progress: bool | Progress = False,
    ) -> IndexReport:
        """Bring the collection up to date with a folder (or one file); returns what the run did.

        Incremental: unchanged files are not parsed, changed ones are replaced, deleted ones pruned
        (unless ``prune`` is off). ``wait``: seconds to wait for another writer of the same store.
        ``progress``: True draws progress on stderr (a bar on a terminal, else a line every 5 s), or
        give a Progress (rag_index.index.progress) to report to.
        """
        root, config = Path(path), self.config
        if "://" in str(path):  # Path() would quietly make "s3://b/x" the local path s3:/b/x
            raise RagIndexError(
                f"{path}: URIs are not read directly; mount it (s3fs, gcsfuse, mountpoint-s3) at the same "
                "path on every node and index that path"
            )
        if not root.exists():
            raise RagIndexError(f"{root}: no such file or folder")
        if root.is_file():  # a single file: index it relative to its folder
            config = config.model_copy(deep=True)
            config.loader.include = [root.name]
            root = root.parent
        with self._opening:  # not between another thread's check and use of them
            self._retriever = self._writer = None  # a recreated collection must be opened again
        return index_with_config(
            root.resolve(),
            config,
            recreate=recreate,
            prune=prune,
            progress=progress,
            wait=wait,
            load_embedder=lambda: self.embedder,
            checkpoint=self._checkpoint,
        )

    def twin(self) -> RagIndex:
        """Another RagIndex on the same config, embedder and checkpoint, with handles of its own (a server
        runs an index run on one while it searches with this one)."""
        return RagIndex(self.config, embedder=self._embedder or self.embedder, checkpoint=self._checkpoint)

    @property
    def store(self) -> ChromaStore:
        """The Chroma collection, not yet opened."""
        return build_store(self.config.store)

    @property
    def retriever(self) -> Retriever:
        """The configured retriever over the existing collection (StoreError when there is none)."""
        with self._opening:
            if self._retriever is None:
                store = self.store
                store.open(self.embedder.fingerprint, create=False)
                lexical = build_lexical(self.config.lexical, store)
                self._retriever = build_retriever(self.config.retrieval, self.embedder, store, lexical)
            return self._retriever

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[ScoredChunk]:
        """The best chunks for query; options (search_type, fetch_k, ...) override `retrieval:` once."""
        return self.retriever.search(query, k, where, where_document, **options)

    def search_by_vector(
        self,
        vector: np.ndarray,
        k: int | None = None,
        *,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[ScoredChunk]:
        """The best chunks for a query vector (dense search types only: similarity, mmr, threshold)."""
        return self.retriever.search_query(Query("", vector), k, where, where_document, **options)

    def create(self, *, wait: float = WRITE_WAIT) -> None:
        """Create the collection if it does not exist yet (ready for add_texts and search)."""
        self._text_writer().create(wait)

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        *,
        wait: float = WRITE_WAIT,
    ) -> list[str]:
        """Add texts (agent memory) beside the indexed files; returns their ids, in order.

        Each text is one chunk whose id is its id (given, or a uuid5 of text and metadata); a text with
        the id of an existing one replaces it. Its metadata is the caller's plus ``created_at`` (UTC ISO).
        ``wait``: seconds to wait for another writer (an index run) before failing with LockError.
        """
        return self._text_writer().add(texts, metadatas, ids, wait)

    def delete(self, ids: Sequence[str], *, wait: float = WRITE_WAIT) -> list[str]:
        """Delete texts added through add_texts by id; returns those found (files' chunks are not touched)."""
        return self._text_writer().delete(ids, wait)

    def get_by_ids(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks (texts or files' chunks) with these ids, in the order asked; unknown ids left out."""
        store = self.store
        store.attach()
        return store.get(ids)

    def text_count(self) -> int:
        """How many texts were added through add_texts (0 when there is no collection yet)."""
        manifest_file = self.store.state_file(".manifest.sqlite3")
        if not manifest_file.is_file():
            return 0
        manifest = open_manifest(self.store)
        try:
            return manifest.text_count()
        finally:
            manifest.close()

    def _text_writer(self) -> TextWriter:
        with self._opening:
            if self._writer is None:
                store = self.store
                lexical = build_lexical(self.config.lexical, store)
                self._writer = TextWriter(self.embedder, store, lexical, self._checkpoint)
            return self._writer

    def info(self) -> dict[str, Any]:
        """The collection's size, chunks per source file, texts and fingerprint (the model is not loaded)."""
        store = self.store
        store.attach()
        lexical = build_lexical(self.config.lexical, store)
        sources: dict[str, int] = {}
        texts = 0
        for _, meta in store.records():
            if is_text_chunk(meta):
                texts += 1
            else:
                source = str(meta.get("source", "?"))
                sources[source] = sources.get(source, 0) + 1
        return {
            "collection": store.name,
            "path": self.config.store.path,
            "chunks": store.count(),
            "lexical_chunks": None if lexical is None else lexical.count(),
            "sources": dict(sorted(sources.items())),
            "texts": texts,
            "fingerprint": store.stored_fingerprint(),
        }

    def verify(self, repair: bool = False, wait: float = 0.0) -> tuple[Drift, Drift | None]:
        """How the manifest and the store disagree, and with repair, the drift left after fixing it."""
        return verify(self.config, repair, wait, embedder=self._embedder, checkpoint=self._checkpoint)

    def as_retriever(self, **options: Any) -> RagIndexRetriever:
        """A LangChain retriever over this index; options as for search (k, search_type, where, ...)."""
        from rag_index.integrations.langchain import RagIndexRetriever

        return RagIndexRetriever(retriever=self.retriever, **options)

    def as_vectorstore(self) -> RagIndexVectorStore:
        """A LangChain VectorStore over this index: add, update and delete texts, search texts and files."""
        from rag_index.integrations.langchain import RagIndexVectorStore

        return RagIndexVectorStore(self)
