"""Texts added through the API (agent memory) as sources: their records, ids, chunks and settings.

A text is one chunk whose id is the text's id; its manifest source is ``text:<id>`` (see
rag_index/storage/manifest.py). Its stored metadata is the caller's, plus ``created_at`` (UTC ISO time,
unless the caller gave one), ``doc_id`` (``text:<id>``, unless the caller gave one) and ``TEXT_KEYS``, the
names of the keys rag-index added: that key marks a chunk as a text, and lets adapters hand back exactly
the caller's metadata.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rag_index.errors import FieldError, RagIndexError
from rag_index.search.recency import CREATED_AT
from rag_index.storage.base import chroma_metadata
from rag_index.storage.manifest import TEXT_ROOT, Manifest, TextRecord, settings_fingerprint, text_source
from rag_index.storage.writer import ChunkWriter, SourceChange
from rag_index.types import Chunk

VectorsOf = Callable[[list[Chunk]], np.ndarray]
TEXT_KEYS = "rag_index_text"  # metadata of a text's chunk: the keys rag-index added, comma-separated
# uuid5 namespace of the ids given to texts without one (as LangChain's indexing API does)
TEXT_ID_NAMESPACE = uuid.UUID("6f1d5c3e-4a8b-5e0f-9c7d-2b3a4e5f6a7b")


def text_settings(fingerprint: dict[str, Any] | None) -> str:
    """The settings fingerprint of a text's entry: only the embedder decides its chunk and vector."""
    return settings_fingerprint({}, {"texts": "one chunk per text"}, fingerprint)


def text_id(text: str, metadata: Mapping[str, Any]) -> str:
    """The id of a text given none: a uuid5 of its text and metadata, so adding it again is idempotent."""
    blob = json.dumps([text, dict(metadata)], sort_keys=True, ensure_ascii=False, default=str)
    return str(uuid.uuid5(TEXT_ID_NAMESPACE, blob))


def utc_now() -> str:
    """The current time as a UTC ISO string (a text's created_at)."""
    return datetime.now(UTC).isoformat()


def parse_time(value: Any) -> datetime:
    """A created_at value as an aware datetime (naive times are taken as UTC); RagIndexError if invalid."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise RagIndexError(f"created_at: expected an ISO 8601 time, got {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def text_records(
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ids: Sequence[str | None] | None = None,
    now: str | None = None,
) -> list[TextRecord]:
    """The records of texts to add: ids honoured (deterministic ones where absent), metadata completed."""
    texts = list(texts)
    for name, given in (("metadatas", metadatas), ("ids", ids)):
        if given is not None and len(given) != len(texts):
            raise FieldError(f"{name}: expected one per text ({len(texts)}), got {len(given)}", name)
    created = now or utc_now()
    records = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise FieldError(f"texts[{i}]: expected a string, got {type(text).__name__}", f"texts.{i}")
        if not text.strip():
            raise FieldError(f"texts[{i}]: a text cannot be empty (nothing to embed or find)", f"texts.{i}")
        _check_utf8(text, f"texts[{i}]")
        caller = dict((metadatas[i] if metadatas is not None else None) or {})
        for key, value in caller.items():
            _check_metadata(key, value, f"metadatas[{i}]")
        id_ = ids[i] if ids is not None else None
        id_ = text_id(text, caller) if id_ is None else str(id_)
        if not id_:
            raise FieldError(f"ids[{i}]: an id cannot be empty", f"ids.{i}")
        added: list[str] = []
        meta = dict(caller)
        if CREATED_AT in meta:
            meta[CREATED_AT] = parse_time(meta[CREATED_AT]).isoformat()
        else:
            meta[CREATED_AT], added = created, [*added, CREATED_AT]
        if "doc_id" not in meta:
            meta["doc_id"], added = text_source(id_), [*added, "doc_id"]
        meta[TEXT_KEYS] = ",".join(added)
        records.append(TextRecord(id_, text, chroma_metadata(meta)))
    return records


def _check_utf8(text: str, where: str) -> None:
    """Lone surrogates (bytes that were not UTF-8, read with surrogateescape) cannot be stored."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise FieldError(
            f"{where}: not UTF-8 text (a stray byte at position {err.start})", _field(where)
        ) from None


def _check_metadata(key: Any, value: Any, where: str) -> None:
    """Chroma stores strings, numbers and booleans; a nested value is refused, not flattened quietly."""
    if not isinstance(key, str) or not key:
        raise FieldError(f"{where}: metadata keys must be non-empty strings, got {key!r}", _field(where))
    if value is not None and not isinstance(value, str | int | float | bool):
        raise FieldError(
            f"{where}[{key!r}]: expected a string, number, boolean or null, got {type(value).__name__} "
            "(Chroma stores no nested values; flatten it, e.g. as a JSON string)",
            f"{_field(where)}.{key}",
        )
    if isinstance(value, str):
        _check_utf8(value, f"{where}[{key!r}]")


def _field(where: str) -> str:
    """'metadatas[2]' -> 'metadatas.2': the request field a message is about."""
    return re.sub(r"\[(\d+)\]", r".\1", where).split("[")[0]


def caller_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A text chunk's metadata as its caller gave it (what rag-index added left out); others unchanged."""
    if TEXT_KEYS not in metadata:
        return dict(metadata)
    added = {key for key in str(metadata[TEXT_KEYS]).split(",") if key}
    return {k: v for k, v in metadata.items() if k != TEXT_KEYS and k not in added}


def is_text_chunk(metadata: Mapping[str, Any]) -> bool:
    """Whether a stored chunk is a text added through the API (not a chunk of a file)."""
    return TEXT_KEYS in metadata


def text_change(record: TextRecord, settings: str) -> SourceChange:
    """The write of one text: its single chunk, under its source."""
    meta = record.metadata
    chunk = Chunk(record.id, str(meta.get("doc_id", record.source)), record.text, 0, len(record.text), meta)
    return SourceChange(record.source, TEXT_ROOT, record.content_hash, settings, [chunk])


def write_texts(
    writer: ChunkWriter, records: Iterable[TextRecord], settings: str, vectors_of: VectorsOf
) -> int:
    """Add or replace texts in the manifest and every store, in the crash-safe order; returns ids dropped."""
    unique = list({r.id: r for r in records}.values())  # the last of repeated ids wins, as in an upsert
    if not unique:
        return 0
    return writer.replace([text_change(r, settings) for r in unique], vectors_of, texts=unique)


def finish_interrupted(manifest: Manifest, writer: ChunkWriter, settings: str, vectors_of: VectorsOf) -> int:
    """Redo the interrupted adds of texts (their row is kept) and finish interrupted deletes; how many."""
    sources = manifest.interrupted_texts()
    if not sources:
        return 0
    records = manifest.texts(sources)
    write_texts(writer, records.values(), settings, vectors_of)
    writer.forget([s for s in sources if s not in records])
    return len(sources)
