"""What both doors (HTTP and MCP) do with the index: search, remember, recall and forget by namespace.

Searches run side by side (up to server.searches at once); writes take turns on the text writer, those
waiting together added as one, and neither waits for the other, so a write waiting for an index run's
store lock holds no search up. Mistakes raise RagIndexError (FieldError names its field; NotFound: no
such text in the namespace).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from rag_index.api import RagIndex
from rag_index.coalesce import Coalescer
from rag_index.errors import FieldError, RagIndexError
from rag_index.index.memory import WRITE_WAIT
from rag_index.index.texts import caller_metadata, is_text_chunk, text_id, text_records
from rag_index.search.neighbours import CONTEXT_IDS, MERGED_IDS
from rag_index.search.recency import CREATED_AT
from rag_index.server import namespaces
from rag_index.server.turns import Turns
from rag_index.types import ScoredChunk

MAX_TEXT = 100_000  # characters of one text or query
_Write = tuple[list[str], list[dict[str, Any]], list[str]]  # texts, metadatas, ids of one request


class NotFound(RagIndexError):
    """No text with that id in that namespace."""


class Service:
    """The index behind the doors, namespaced."""

    def __init__(self, index: RagIndex, write_wait: float = WRITE_WAIT) -> None:
        self.index = index
        self.write_wait = write_wait  # seconds a write waits for another writer (an index run): then 409
        self._writing = threading.Lock()
        # Writes that wait for each other are added together: Chroma's upsert costs about 30 ms whether it
        # holds one text or four, and holds Python's lock meanwhile. A store-wide failure is everyone's.
        self._writes = Coalescer(self._write_together, isolate=False)
        # Searches run side by side, up to server.searches (see ServerConfig), the rest in arrival order.
        self._searching = Turns(index.config.server.searches)

    def search(
        self,
        query: str,
        k: int = 5,
        namespace: str | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """The best chunks in the namespace (none: every chunk), each {id, score, text, metadata}."""
        namespace = namespaces.checked(namespace)
        where = namespaces.scoped_where(namespace, where)
        with self._searching:
            hits = self.index.search(query, k, where=where, where_document=where_document, **options)
        return [_hit(hit, namespace) for hit in hits]

    def remember(
        self,
        texts: list[str],
        metadatas: list[dict[str, Any] | None] | None = None,
        ids: list[str] | None = None,
        namespace: str | None = None,
    ) -> list[str]:
        """Add texts to the namespace; their ids, in order (an existing id is replaced)."""
        namespace = namespaces.checked(namespace)
        for i, text in enumerate(texts):
            if len(text) > MAX_TEXT:
                raise FieldError(f"texts[{i}]: longer than {MAX_TEXT} characters", f"texts.{i}")
        metadatas = metadatas or [None] * len(texts)
        if len(metadatas) != len(texts):
            raise FieldError(f"metadatas: expected one per text ({len(texts)})", "metadatas")
        scoped = [namespaces.scoped_metadata(namespace, meta, i) for i, meta in enumerate(metadatas)]
        if ids is None:  # the index's own deterministic ids, made here so that they carry the namespace too
            pairs = zip(texts, scoped, strict=True)
            ids = [text_id(text, meta) if isinstance(text, str) else "" for text, meta in pairs]
        stored = [namespaces.stored_id(namespace, id_) for id_ in ids]
        text_records(texts, scoped, stored)  # this request's mistakes are its own, before it joins others
        added = self._writes((texts, scoped, stored))
        return [namespaces.public_id(namespace, id_) for id_ in added]

    def _write_together(self, writes: list[_Write]) -> list[list[str]]:
        """The texts of writes waiting at once, added in one write (one commit); the ids of each."""
        texts = [text for write in writes for text in write[0]]
        metadatas = [meta for write in writes for meta in write[1]]
        ids = [id_ for write in writes for id_ in write[2]]
        with self._writing:
            added = self.index.add_texts(texts, metadatas, ids, wait=self.write_wait)
        ends = list(itertools.accumulate(len(write[0]) for write in writes))
        return [added[end - len(write[0]) : end] for write, end in zip(writes, ends, strict=True)]

    def get(self, id_: str, namespace: str | None = None) -> dict[str, Any]:
        """One text of the namespace as it was given: {id, text, metadata}."""
        namespace = namespaces.checked(namespace)
        found = self.index.get_by_ids([namespaces.stored_id(namespace, id_)])
        meta = found[0].metadata if found else {}
        if not found or not is_text_chunk(meta) or not namespaces.readable(namespace, meta):
            raise NotFound(f"no text {id_!r}" + (f" in namespace {namespace!r}" if namespace else ""))
        return {"id": id_, "text": found[0].text, "metadata": caller_metadata(meta)}

    def forget(self, id_: str, namespace: str | None = None) -> list[str]:
        """Delete one text of the namespace (NotFound when it is no text of it)."""
        self.get(id_, namespace)
        with self._writing:
            self.index.delete([namespaces.stored_id(namespace, id_)], wait=self.write_wait)
        return [id_]

    def recent(self, k: int = 5, namespace: str | None = None) -> list[dict[str, Any]]:
        """The k newest texts of the namespace (by created_at), newest first.

        Reads every text of the namespace from Chroma: fine for thousands, not millions (issue 33).
        """
        namespace = namespaces.checked(namespace)
        store = self.index.store
        store.attach()
        got = store.collection.get(
            where=namespaces.scoped_where(namespace, None), include=["documents", "metadatas"]
        )
        texts = [
            (id_, text, meta)
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if meta and is_text_chunk(meta)
        ]
        texts.sort(key=lambda item: str(item[2].get(CREATED_AT, "")), reverse=True)
        return [
            {"id": namespaces.public_id(namespace, id_), "text": text, "metadata": caller_metadata(meta)}
            for id_, text, meta in texts[:k]
        ]

    def info(self) -> dict[str, Any]:
        """The collection's size, sources, texts and embedder fingerprint."""
        return self.index.info()


def _hit(hit: ScoredChunk, namespace: str | None) -> dict[str, Any]:
    metadata = dict(hit.metadata)
    for key in (CONTEXT_IDS, MERGED_IDS):  # neighbour expansion names chunks by id too
        if isinstance(metadata.get(key), list):
            metadata[key] = [namespaces.public_id(namespace, str(id_)) for id_ in metadata[key]]
    return {
        "id": namespaces.public_id(namespace, hit.id),
        "score": hit.score,
        "text": hit.text,
        "metadata": metadata,
    }
