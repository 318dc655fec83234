"""Namespaces: each agent's, user's or tenant's texts in one collection, none visible from another.

A text written in namespace ``ns`` is stored under the id ``ns/<id>`` with ``namespace: ns`` in its metadata,
so two namespaces may use the same id. A search in a namespace ANDs ``{"namespace": ns}`` with the caller's
``where``: no filter the caller writes can widen it. Without a namespace, everything is searched.
"""

from __future__ import annotations

import re
from typing import Any

from rag_index.errors import FieldError

KEY = "namespace"  # the metadata key that holds a text's namespace
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def checked(namespace: str | None) -> str | None:
    """The namespace when it is a valid name (letters, digits, '.', '_', '-'; 128 at most), else an error."""
    if namespace is not None and not _NAME.fullmatch(namespace):
        raise FieldError(
            f"namespace {namespace!r}: expected 1-128 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            "namespace",
        )
    return namespace


def stored_id(namespace: str | None, id_: str) -> str:
    """The id a text has in the collection."""
    return id_ if namespace is None else f"{namespace}/{id_}"


def public_id(namespace: str | None, id_: str) -> str:
    """The id the caller knows a stored text by."""
    return id_.removeprefix(f"{namespace}/") if namespace is not None else id_


def scoped_metadata(namespace: str | None, metadata: dict[str, Any] | None, index: int) -> dict[str, Any]:
    """The caller's metadata with the namespace set; naming another namespace in it is refused."""
    meta = dict(metadata or {})
    if KEY in meta and meta[KEY] != namespace:
        raise FieldError(
            f"metadatas[{index}]: {KEY!r} is set by the request's namespace, not by metadata",
            f"metadatas.{index}.{KEY}",
        )
    if namespace is not None:
        meta[KEY] = namespace
    return meta


def scoped_where(namespace: str | None, where: dict[str, Any] | None) -> dict[str, Any] | None:
    """where, confined to the namespace (ANDed, so no operator inside where can escape it)."""
    if namespace is None:
        return where or None
    confined = {KEY: namespace}
    return {"$and": [confined, where]} if where else confined


def readable(namespace: str | None, metadata: dict[str, Any]) -> bool:
    """Whether a stored chunk may be read from this namespace (no namespace: any chunk)."""
    return namespace is None or metadata.get(KEY) == namespace
