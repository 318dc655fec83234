"""The manifest: what each indexed source put into the store, kept in SQLite beside the Chroma data.

One row per source (path relative to the indexed folder): the folder it was indexed from, the sha256 of its
bytes, the fingerprint of the settings that produced its chunks, and its chunk ids. A row is *done* when
``content_hash`` is set; then every id it lists is in the store. While a source is being replaced or
removed its row is *not done* (``content_hash`` NULL) and lists every id that may be in the store for it
(old and new), so an interrupted run leaves nothing the next run cannot find and clean up.

Texts added through the API (agent memory) are a second kind of source: ``text:<id>``, with root ``text:``
(never a folder), one chunk whose id is the text's id, and the text itself with its metadata in the
``texts`` table. That table plays the part the folder plays for files: a text exists while its row does,
so an interrupted add (row present, entry not done) is redone from it, and an interrupted delete (row gone,
entry not done) is finished; ``verify --repair`` re-embeds a text whose chunk the store lost from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_index.storage.sqlite import connect, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    content_hash TEXT,
    settings TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    skip_reason TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS texts (source TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL);
"""

TEXT_ROOT = "text:"  # the root of every text's entry: marks it as a text, never a folder


def text_source(id_: str) -> str:
    """The manifest source of the text with this id."""
    return f"{TEXT_ROOT}{id_}"


def is_text(source: str) -> bool:
    """Whether a manifest source is a text added through the API (not a file)."""
    return source.startswith(TEXT_ROOT)


@dataclass(frozen=True)
class Entry:
    """One source as the manifest knows it."""

    source: str
    root: str
    content_hash: str | None
    settings: str
    chunk_ids: tuple[str, ...]
    skip_reason: str | None = None

    @property
    def done(self) -> bool:
        """Whether the last write of this source finished (all its chunk ids are in the store)."""
        return self.content_hash is not None


@dataclass(frozen=True)
class TextRecord:
    """A text added through the API: its id, text and stored metadata (created_at included)."""

    id: str
    text: str
    metadata: dict[str, Any]

    @property
    def source(self) -> str:
        """Its manifest source, ``text:<id>``."""
        return text_source(self.id)

    @property
    def content_hash(self) -> str:
        """The sha256 of its text and metadata: the entry's content hash once written."""
        blob = json.dumps([self.text, self.metadata], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def settings_fingerprint(
    loader: dict[str, Any], chunking: dict[str, Any], embedder: dict[str, Any] | None
) -> str:
    """A short hash of everything that decides a file's chunks and vectors."""
    blob = json.dumps({"loader": loader, "chunking": chunking, "embedder": embedder}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Manifest:
    """The per-collection record of indexed sources (SQLite; every method is one transaction)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = connect(self.path, _SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def entries(self, sources: Iterable[str] | None = None) -> dict[str, Entry]:
        """Every source (or only these), by source path."""
        select = "SELECT source, root, content_hash, settings, chunk_ids, skip_reason FROM sources"
        if sources is None:
            rows = self._db.execute(f"{select} ORDER BY source").fetchall()
        else:
            rows = [row for s in sources for row in self._db.execute(f"{select} WHERE source = ?", (s,))]
        return {
            row[0]: Entry(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5]) for row in rows
        }

    def texts(self, sources: Iterable[str] | None = None) -> dict[str, TextRecord]:
        """The texts added through the API (or only these sources), by source."""
        select = "SELECT source, text, metadata FROM texts"
        if sources is None:
            rows = self._db.execute(f"{select} ORDER BY source").fetchall()
        else:
            rows = [row for s in sources for row in self._db.execute(f"{select} WHERE source = ?", (s,))]
        return {
            row[0]: TextRecord(row[0][len(TEXT_ROOT) :], row[1], dict(json.loads(row[2]))) for row in rows
        }

    def text_count(self) -> int:
        """How many texts were added through the API."""
        return int(self._db.execute("SELECT COUNT(*) FROM texts").fetchone()[0])

    def interrupted_texts(self) -> list[str]:
        """Sources of texts whose last add or delete did not finish."""
        rows = self._db.execute(
            "SELECT source FROM sources WHERE root = ? AND content_hash IS NULL ORDER BY source", (TEXT_ROOT,)
        )
        return [row[0] for row in rows]

    def begin(
        self,
        changes: Iterable[tuple[str, str, str, Sequence[str]]],
        texts: Sequence[TextRecord] = (),
        dropped: Sequence[str] = (),
    ) -> dict[str, list[str]]:
        """Mark sources (source, root, settings, new ids) as in progress before their chunks are touched.

        The row keeps its old ids and gains the new ones: whatever happens next, every id that may be in the
        store for the source is listed, so a later run can remove it. Returns those ids per source.
        In the same transaction, texts are recorded (added or updated) and the texts of the sources in
        dropped are forgotten, so an interrupted write of a text is always redone or finished.
        """
        changes = list(changes)
        current = self.entries(s for s, *_ in changes)
        rows, listed = [], {}
        for source, root, settings, new_ids in changes:
            old = current[source].chunk_ids if source in current else ()
            listed[source] = ids = list(dict.fromkeys([*old, *new_ids]))
            rows.append((source, root, None, settings, json.dumps(ids), None))
        if not rows:
            return listed
        with transaction(self._db, self.path) as db:
            db.executemany("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.executemany(
                "INSERT OR REPLACE INTO texts VALUES (?, ?, ?)",
                [(t.source, t.text, json.dumps(t.metadata, sort_keys=True)) for t in texts],
            )
            db.executemany("DELETE FROM texts WHERE source = ?", [(s,) for s in dropped])
        return listed

    def commit(self, entries: Iterable[Entry]) -> None:
        """Record sources as done: their chunks (exactly these ids) are all in the store."""
        self._write(
            [
                (e.source, e.root, e.content_hash, e.settings, json.dumps(list(e.chunk_ids)), e.skip_reason)
                for e in entries
            ]
        )

    def remove(self, sources: Iterable[str]) -> None:
        """Forget sources whose chunks are gone from the store (and a removed text's own row)."""
        rows = [(s,) for s in sources]
        if not rows:
            return
        with transaction(self._db, self.path) as db:
            db.executemany("DELETE FROM sources WHERE source = ?", rows)
            db.executemany("DELETE FROM texts WHERE source = ?", rows)

    @property
    def collection_id(self) -> str | None:
        """The id of the Chroma collection the entries describe."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'collection_id'").fetchone()
        return None if row is None else str(row[0])

    def known_fingerprint(self, embedder_key: str) -> dict[str, Any] | None:
        """The embedder fingerprint a run recorded for these embedder settings and model files, if any."""
        row = self._db.execute(
            "SELECT value FROM meta WHERE key = ?", (f"embedder:{embedder_key}",)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def remember_fingerprint(self, embedder_key: str, fingerprint: dict[str, Any]) -> None:
        """Record the fingerprint these embedder settings and model files give (kept across resets)."""
        self._transaction(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(f"embedder:{embedder_key}", json.dumps(fingerprint, sort_keys=True))],
        )

    def reset(self, collection_id: str) -> None:
        """Forget every source (texts too) and describe a new, empty collection (created or recreated)."""
        with transaction(self._db, self.path) as db:
            db.execute("DELETE FROM sources")
            db.execute("DELETE FROM texts")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('collection_id', ?)", (collection_id,))

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        self._transaction("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)", rows)

    def _transaction(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with transaction(self._db, self.path) as db:
            db.executemany(sql, rows)
