"""A running `rag-index serve` as an index: search, remember and forget over HTTP, the model warm there.

``RagIndex.remote("http://127.0.0.1:8750", token=..., namespace=...)`` gives a RemoteIndex; its
``as_retriever()`` and ``as_vectorstore()`` are the LangChain adapters, so an app and an agent share one
warm index. Retrieval options are checked here (RetrievalConfig) before anything is sent; the server's
errors come back as the RagIndexError they were on its side, with the field they name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from rag_index.config import RetrievalConfig
from rag_index.errors import FieldError, LockError, RagIndexError, StoreError
from rag_index.settings import validated
from rag_index.types import Chunk, ScoredChunk

if TYPE_CHECKING:
    import numpy as np

    from rag_index.integrations.langchain import RagIndexRetriever, RagIndexVectorStore

TIMEOUT = 60.0  # seconds for one call: a write may wait for an index run on the server (10 s) first


class RemoteIndex:
    """The index a rag-index server serves, in one namespace (None: the whole collection)."""

    embedder = None  # the model lives on the server: no local embedder, no search by vector

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        namespace: str | None = None,
        timeout: float = TIMEOUT,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.url, self.namespace = url.rstrip("/"), namespace
        self._http = client or httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **options: Any,
    ) -> list[ScoredChunk]:
        """The best chunks for query; options (search_type, fetch_k, ...) override the server's own."""
        given = checked_options({"k": k, **options})
        body = {"query": query, "namespace": self.namespace, "where": where, "where_document": where_document}
        found = self._call("POST", "/search", json={**body, **given})
        return [ScoredChunk(h["id"], h["text"], h["score"], h["metadata"]) for h in found["hits"]]

    def search_by_vector(self, vector: np.ndarray, k: int | None = None, **options: Any) -> list[ScoredChunk]:
        """Not over HTTP: search by vector needs the index in process."""
        raise RagIndexError(
            f"{self.url}: a remote index searches by text; search by vector needs it in process"
        )

    def create(self) -> None:
        """Nothing to do: the server creates its collection when it starts."""

    def add_texts(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Remember texts in the namespace; their ids, in order (an existing id is replaced)."""
        body: dict[str, Any] = {"texts": list(texts), "namespace": self.namespace}
        if metadatas is not None:
            body["metadatas"] = [dict(meta) if meta else None for meta in metadatas]
        if ids is not None:
            if any(id_ is None for id_ in ids):
                raise FieldError("ids: a remote index needs every id, or none", "ids")
            body["ids"] = list(ids)
        return list(self._call("POST", "/texts", json=body)["ids"])

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Forget texts by id; the ids that were found."""
        return [id_ for id_ in ids if self._call("DELETE", self._text(id_), missing_ok=True)]

    def get_by_ids(self, ids: Sequence[str]) -> list[Chunk]:
        """The namespace's texts with these ids, in order; unknown ids (and files' chunks) left out."""
        found = (self._call("GET", self._text(id_), missing_ok=True) for id_ in ids)
        return [
            Chunk(got["id"], got["id"], got["text"], 0, len(got["text"]), got["metadata"])
            for got in found
            if got
        ]

    def info(self) -> dict[str, Any]:
        """The served collection's size, sources, texts and embedder fingerprint."""
        return dict(self._call("GET", "/info"))

    def index(self, path: str, *, prune: bool = True, poll: float = 0.5) -> dict[str, Any]:
        """Have the server index a path under its server.index_roots; the run's report once it is done."""
        state = self._call("POST", "/index", json={"path": path, "prune": prune})
        while state["status"] == "running":
            time.sleep(poll)
            state = self._call("GET", f"/index/{state['run']}")
        if state["status"] == "failed":
            raise RagIndexError(f"{self.url}: index run of {path!r} failed: {state['error']}")
        return dict(state["report"])

    def as_retriever(self, **options: Any) -> RagIndexRetriever:
        """A LangChain retriever over the served index; options as for search (k, search_type, where, ...)."""
        from rag_index.integrations.langchain import RagIndexRetriever

        return RagIndexRetriever(retriever=self, **options)

    def as_vectorstore(self) -> RagIndexVectorStore:
        """A LangChain VectorStore over the served index: add, delete and search texts in the namespace."""
        from rag_index.integrations.langchain import RagIndexVectorStore

        return RagIndexVectorStore(self)

    def replace(self, **options: Any) -> RemoteSearch:
        """A search with these options fixed (what RagIndexRetriever needs of a retriever)."""
        return RemoteSearch(self, checked_options(options))

    def _text(self, id_: str) -> str:
        query = f"?namespace={quote(self.namespace)}" if self.namespace else ""
        return f"/texts/{quote(id_, safe='')}{query}"

    def _call(self, method: str, path: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.TransportError as err:
            raise StoreError(f"{self.url}: the rag-index server does not answer ({err})") from None
        if response.is_success:
            return response.json()
        if missing_ok and response.status_code == 404:
            return None
        raise _error_of(self.url, response)


class RemoteSearch:
    """A remote search with fixed options, per-call options on top."""

    def __init__(self, index: RemoteIndex, options: dict[str, Any]) -> None:
        self.index, self.options = index, options

    def replace(self, **options: Any) -> RemoteSearch:
        """A copy with some options changed (checked)."""
        return RemoteSearch(self.index, {**self.options, **checked_options(options)})

    def search(self, query: str, **options: Any) -> list[ScoredChunk]:
        """The best chunks for query with this search's options and the call's."""
        return self.index.search(query, **{**self.options, **options})


def checked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The retrieval options given (None: the server's own), checked here so a typo fails before sending."""
    given = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(given) - set(RetrievalConfig.model_fields))
    if unknown:
        raise FieldError(
            f"{unknown[0]}: not a retrieval option ({', '.join(sorted(RetrievalConfig.model_fields))})",
            unknown[0],
        )
    validated(RetrievalConfig, given, "retrieval.")
    return given


def _error_of(url: str, response: httpx.Response) -> RagIndexError:
    try:
        error = response.json()["error"]
        message, field = str(error["message"]), error.get("field")
    except (ValueError, KeyError, TypeError):
        message, field = response.text[:200], None
    if response.status_code == 409:
        return LockError(f"{url}: {message}")
    if response.status_code >= 500:
        return StoreError(f"{url}: {message}")
    return (
        FieldError(message, field)
        if field
        else RagIndexError(f"{url}: {message} (HTTP {response.status_code})")
    )
