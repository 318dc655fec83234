"""Chroma wrapper: a collection stamped with the embedder's fingerprint, batched writes, scored queries."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import numpy as np

from rag_index.errors import StoreError
from rag_index.storage.base import Query, stored_metadata
from rag_index.types import Chunk, ScoredChunk

FINGERPRINT_KEY = "rag_index_fingerprint"
TEXT_HASH_KEY = "text_hash"  # chunk metadata: sha256 of the text embedded for it, the embedding cache key
BACKOFF_SECONDS = 0.5  # first wait before retrying a server call; doubles on each retry

log = logging.getLogger(__name__)
T = TypeVar("T")


def _distance_to_score(distance: float, space: str) -> float:
    # Chroma returns distances; users want "higher is more similar". For cosine and ip Chroma's
    # distance is 1 - similarity; for l2 it is the squared distance, 2 - 2*cos for unit vectors.
    if space == "l2":
        return 1.0 - distance / 2.0
    return 1.0 - distance


@dataclass(frozen=True)
class Server:
    """Where a Chroma server listens, and the name of the environment variable holding its token."""

    host: str
    port: int
    ssl: bool = False
    token_env: str | None = None
    retries: int = 4

    @property
    def url(self) -> str:
        """The server's address (never with the token)."""
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"

    def headers(self) -> dict[str, str]:
        """The auth header, when a token variable is configured; read at connect time, never stored."""
        if self.token_env is None:
            return {}
        token = os.environ.get(self.token_env)
        if not token:
            raise StoreError(f"store.token_env: environment variable {self.token_env} is not set")
        return {"Authorization": f"Bearer {token}"}


def _is_connection_error(err: BaseException) -> bool:
    import httpx

    # HttpClient's constructor reports an unreachable server as ValueError("Could not connect ...").
    return isinstance(err, httpx.TransportError | ConnectionError) or (
        isinstance(err, ValueError) and "Could not connect" in str(err)
    )


class ChromaStore:
    """One Chroma collection: embedded on disk (PersistentClient), on a Chroma server, or a given client."""

    def __init__(
        self,
        path: str,
        collection: str,
        distance: str = "cosine",
        client: Any = None,
        server: Server | None = None,
        *,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.hnsw = dict(hnsw or {})  # extra HNSW settings for new collections, e.g. {"ef_search": 200}
        self.name = collection
        self.distance = distance
        self.server = server
        self._client = client
        self._collection: Any = None

    @property
    def label(self) -> str:
        """Where the collection lives, for messages."""
        return self.server.url if self.server else self.path

    def state_file(self, suffix: str) -> Path:
        """A local file beside the data for this collection (manifest, lock); one per server for http."""
        prefix = f"{self.server.host}_{self.server.port}_" if self.server else ""
        return Path(self.path) / f"{prefix}{self.name}{suffix}"

    @property
    def client(self) -> Any:
        """The Chroma client, created on first use (embedded PersistentClient at path, or HttpClient)."""
        if self._client is None:
            import chromadb

            if self.server is None:
                # absolute: Chroma keeps one client per path string in a process, so a relative path
                # opened again from another working directory would reach the first folder's store
                folder = str(Path(self.path).resolve())
                self._client = self._call(lambda: chromadb.PersistentClient(path=folder))
            else:
                server = self.server
                self._client = self._call(
                    lambda: chromadb.HttpClient(
                        host=server.host, port=server.port, ssl=server.ssl, headers=server.headers()
                    )
                )
        return self._client

    def _call(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one store call; against a server, retry connection failures with backoff, then give up.

        On disk, a failure of the storage itself (disk full, read-only folder, permission denied) becomes
        one StoreError naming store.path and the cause; the data stays as the last finished write left it.
        """
        if self.server is None:
            from chromadb.errors import InternalError

            try:
                return action(*args, **kwargs)
            except (InternalError, OSError, sqlite3.Error) as err:
                cause = " ".join(str(err).split()) or type(err).__name__
                raise StoreError(
                    f"store.path {self.path}: the Chroma store cannot be used: {cause}; "
                    "check the free space and permissions there"
                ) from err
        attempts = self.server.retries + 1
        for attempt in range(attempts):
            try:
                return action(*args, **kwargs)
            except Exception as err:
                if not _is_connection_error(err):
                    raise
                if attempt + 1 == attempts:
                    raise StoreError(
                        f"Chroma server at {self.server.url} is not answering after {attempts} attempt(s): "
                        f"{type(err).__name__}: {err}"
                    ) from None
                wait = BACKOFF_SECONDS * 2**attempt
                log.warning("Chroma server at %s: %s; retrying in %.1f s", self.server.url, err, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _missing(self) -> StoreError:
        return StoreError(f"no collection {self.name!r} at {self.label}; run `rag-index index PATH` first")

    def _existing(self) -> Any:
        from chromadb.errors import NotFoundError

        if self._client is None and self.server is None and not Path(self.path).exists():
            return None  # do not create an empty store just to look into it
        try:
            return self._call(lambda: self.client.get_collection(self.name))
        except NotFoundError:
            return None

    def stored_fingerprint(self) -> dict[str, Any] | None:
        """The fingerprint the collection was built with, or None when there is no collection yet."""
        return _fingerprint_of(self._existing())

    def open(self, fingerprint: dict[str, Any], create: bool = True, recreate: bool = False) -> bool:
        """Open the collection for this fingerprint; refuse one built with another (unless recreate).

        Returns True when the collection was created (or recreated) empty.
        """
        existing = self._existing()  # once: every write opens the collection, so this is on its path
        stored = _fingerprint_of(existing)
        if stored is not None and stored != fingerprint and not recreate:
            raise StoreError(
                f"collection {self.name!r} at {self.label} was built with a different embedder:\n"
                f"  stored:  {json.dumps(stored, sort_keys=True)}\n"
                f"  current: {json.dumps(fingerprint, sort_keys=True)}\n"
                "re-index with --recreate, or use the settings it was built with"
            )
        if existing is not None and not recreate:
            if create:  # a write: the configured search breadth reaches a collection built before it was set
                self._widen(existing)
            self._collection = existing
            return False
        if existing is not None:
            self._call(lambda: self.client.delete_collection(self.name))
        elif not create:
            raise self._missing()
        self._collection = self._call(
            lambda: self.client.get_or_create_collection(
                self.name,
                configuration={"hnsw": {"space": self.distance, **self.hnsw}},
                metadata={FINGERPRINT_KEY: json.dumps(fingerprint, sort_keys=True)},
                embedding_function=None,
            )
        )
        return True

    def _widen(self, collection: Any) -> None:
        """Give an existing collection the configured ef_search (store.hnsw_ef_search): unlike HNSW's other
        settings, the search breadth changes without rebuilding the graph."""
        wanted = self.hnsw.get("ef_search")
        current = (collection.configuration or {}).get("hnsw", {}).get("ef_search")
        if wanted is not None and current != wanted:
            self._call(lambda: collection.modify(configuration={"hnsw": {"ef_search": wanted}}))

    def attach(self) -> None:
        """Open the existing collection as it is, for reading its contents."""
        self._collection = self._existing()
        if self._collection is None:
            raise self._missing()

    @property
    def collection_id(self) -> str:
        """The open collection's unique id (a recreated collection with the same name gets a new one)."""
        return str(self.collection.id)

    @property
    def collection(self) -> Any:
        """The open Chroma collection."""
        if self._collection is None:
            raise StoreError("the store is not open; call open(fingerprint) first")
        return self._collection

    def _batch_size(self) -> int:
        return int(self._call(self.client.get_max_batch_size))

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks with their vectors, in batches below Chroma's maximum batch size.

        An upsert of the same ids and values is idempotent, so a batch is safely retried after a
        connection failure.
        """
        step = self._batch_size()
        for start in range(0, len(chunks), step):
            batch = chunks[start : start + step]
            ids = [chunk.id for chunk in batch]
            embeddings = vectors[start : start + step]
            documents = [chunk.text for chunk in batch]
            metadatas = [stored_metadata(chunk) for chunk in batch]
            self._call(
                self.collection.upsert,
                ids=ids,
                embeddings=embeddings,
                documents=documents,
                metadatas=metadatas,
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (ids not in the collection are ignored)."""
        step = self._batch_size()
        for start in range(0, len(ids), step):
            batch = list(ids[start : start + step])
            self._call(self.collection.delete, ids=batch)

    def vectors_by_text_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose text hashes to one of hashes (the persistent embedding cache)."""
        found: dict[str, np.ndarray] = {}
        step = self._batch_size()
        for start in range(0, len(hashes), step):
            batch = list(hashes[start : start + step])
            page = self._call(
                self.collection.get,
                where={TEXT_HASH_KEY: {"$in": batch}},
                include=["metadatas", "embeddings"],
            )
            for meta, vector in zip(page["metadatas"], page["embeddings"], strict=True):
                found[str((meta or {}).get(TEXT_HASH_KEY))] = np.asarray(vector, dtype=np.float32)
        return found

    def ids(self) -> set[str]:
        """Every chunk id in the collection, read in one call that asks for nothing else.

        Not through records(): on this machine a page of metadata cost ~0.3 ms a chunk against ~0.02 ms an
        id alone.
        """
        return set(self._call(self.collection.get, include=[])["ids"])

    def ids_where(self, where: dict[str, Any] | None, where_document: dict[str, Any] | None) -> set[str]:
        """The ids of the chunks a filter selects, by Chroma's own rules (the lexical index asks this);
        in one call, as ids(): paging by offset made Chroma find the skipped rows again for every page."""
        return set(
            self._call(self.collection.get, where=where, where_document=where_document, include=[])["ids"]
        )

    def chunks(self) -> Iterator[list[Chunk]]:
        """Every chunk with its text and stored metadata, a page at a time (rebuilding the lexical index)."""
        for page in self._pages(["documents", "metadatas"]):
            yield [
                Chunk(
                    id_, str((meta or {}).get("doc_id", "")), text or "", 0, len(text or ""), dict(meta or {})
                )
                for id_, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            ]

    def _pages(self, include: list[str]) -> Iterator[dict[str, Any]]:
        """The whole collection, a page of ids at a time (the ids read first, in one call).

        Not by limit and offset: at 1M chunks every such page cost about 0.7 s wherever it started (Chroma
        reads the whole collection for each), a page by its ids 0.05-0.2 s.
        """
        ids, step = sorted(self.ids()), self._batch_size()
        for start in range(0, len(ids), step):
            yield self._call(self.collection.get, ids=ids[start : start + step], include=include)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked; ids not in the collection are left out."""
        found: dict[str, Chunk] = {}
        step, wanted = self._batch_size(), list(dict.fromkeys(ids))
        for start in range(0, len(wanted), step):
            page = self._call(
                self.collection.get, ids=wanted[start : start + step], include=["documents", "metadatas"]
            )
            for id_, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                doc_id = str((meta or {}).get("doc_id", ""))
                found[id_] = Chunk(id_, doc_id, text or "", 0, len(text or ""), dict(meta or {}))
        return [found[id_] for id_ in wanted if id_ in found]

    def get_where(self, where: dict[str, Any]) -> list[Chunk]:
        """The chunks a metadata filter selects, with their stored offsets (neighbour expansion asks this).

        Meant for small selections (a few windows of chunks), so it reads them in one call.
        """
        page = self._call(self.collection.get, where=where, include=["documents", "metadatas"])
        found = []
        for id_, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
            meta, text = dict(meta or {}), text or ""
            start = meta.get("start")
            start = start if isinstance(start, int) and not isinstance(start, bool) else 0
            found.append(Chunk(id_, str(meta.get("doc_id", "")), text, start, start + len(text), meta))
        return found

    def search(
        self,
        query: Query,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The k chunks nearest to the query's vector, best first (ChunkStore's search)."""
        if query.vector is None:
            raise ValueError("a dense search needs the query's vector")
        return self.query(query.vector, k, where, where_document)

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every chunk id with its metadata, page by page."""
        for page in self._pages(["metadatas"]):
            for id_, meta in zip(page["ids"], page["metadatas"], strict=True):
                yield id_, dict(meta or {})

    @overload
    def query(
        self,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        *,
        with_embeddings: Literal[False] = False,
    ) -> list[ScoredChunk]: ...

    @overload
    def query(
        self,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        *,
        with_embeddings: Literal[True],
    ) -> tuple[list[ScoredChunk], np.ndarray]: ...

    def query(
        self,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        *,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk] | tuple[list[ScoredChunk], np.ndarray]:
        """The k chunks nearest to vector, best first; with_embeddings: also their stored vectors (MMR)."""
        result = self._call(
            lambda: self.collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=k,
                where=where,
                where_document=where_document,
                include=["documents", "metadatas", "distances", *(["embeddings"] if with_embeddings else [])],
            )
        )
        chunks = [
            ScoredChunk(
                id=id_,
                text=text or "",
                score=_distance_to_score(dist, self.distance),
                metadata=dict(meta or {}),
            )
            for id_, text, meta, dist in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]
        if not with_embeddings:
            return chunks
        return chunks, np.asarray(result["embeddings"][0], dtype=np.float32).reshape(len(chunks), vector.size)

    def count(self) -> int:
        """Number of chunks in the collection."""
        return int(self._call(self.collection.count))

    def sources(self) -> dict[str, int]:
        """Chunk count per source file."""
        counts: dict[str, int] = {}
        for _, meta in self.records():
            source = str(meta.get("source", "?"))
            counts[source] = counts.get(source, 0) + 1
        return dict(sorted(counts.items()))


def _fingerprint_of(collection: Any) -> dict[str, Any] | None:
    if collection is None:
        return None
    return json.loads((collection.metadata or {}).get(FINGERPRINT_KEY, "null"))
