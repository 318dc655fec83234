"""Small writes to the lexical index, kept durably in SQLite until enough gather for one tantivy commit.

A tantivy commit syncs every file of a new segment and the index's metadata: 14 fsyncs, measured, and most
of a one-text add's time. So a write of a few chunks (an agent's memory, say) is appended here in one SQLite
commit instead, and the buffer is merged into tantivy by the next large write, or once it holds
``BUFFER_LIMIT`` chunks. Searches read the buffer too: a buffered chunk is found at once, and a buffered
delete or replacement hides the indexed chunk it supersedes.

Merging commits tantivy first and empties the buffer after, so a kill in between only means the same
writes are merged again (each is "delete the id, then add it"), which changes nothing.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag_index.storage.base import document_of
from rag_index.storage.sqlite import connect, transaction

BUFFER_LIMIT = 64  # chunks held before a merge: a commit every 64 one-text adds, and little to score
K1, B = 1.2, 0.75  # tantivy's BM25 parameters, so buffered chunks score as indexed ones do

_SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    terms TEXT,
    text TEXT,
    meta TEXT
);
"""


@dataclass(frozen=True)
class Write:
    """One buffered write: a chunk's indexed fields, or (terms None) its deletion."""

    id: str
    terms: str | None
    text: str = ""
    meta: str = "{}"

    @property
    def deleted(self) -> bool:
        """Whether this write deletes the chunk."""
        return self.terms is None

    @cached_property  # parsed once per write: a search and a merge each ask for it more than once
    def document(self) -> str | None:
        """The document the chunk belongs to (see rag_index.storage.base.document_of)."""
        return document_of(json.loads(self.meta))


class WriteBuffer:
    """The buffered writes of one lexical index, in a SQLite file inside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._latest: tuple[tuple[int, int], dict[str, Write]] | None = None  # see latest

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None and (create or self.path.is_file()):
            self._db = connect(self.path, _SCHEMA)
        return self._db

    def close(self) -> None:
        """Close the database (it is opened again when needed)."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self._latest = None  # a new connection counts its changes from 0

    def count(self) -> int:
        """Buffered writes."""
        db = self._open(create=False)
        return 0 if db is None else int(db.execute("SELECT COUNT(*) FROM writes").fetchone()[0])

    def writes(self) -> tuple[int, list[Write]]:
        """The last sequence number and every buffered write, oldest first."""
        db = self._open(create=False)
        if db is None:
            return 0, []
        rows = db.execute("SELECT seq, id, terms, text, meta FROM writes ORDER BY seq").fetchall()
        return (rows[-1][0] if rows else 0), [Write(*row[1:]) for row in rows]

    def latest(self) -> dict[str, Write]:
        """The last buffered write of each id (shared by the searches until the next write: do not change it).

        A hybrid search asks three times, a server thousands of times between two writes: the rows are
        read again only when a commit changed them, this connection's (total_changes) or another's
        (data_version).
        """
        db = self._open(create=False)
        if db is None:
            return {}
        version = (db.execute("PRAGMA data_version").fetchone()[0], db.total_changes)  # before the rows
        kept = self._latest
        if kept is not None and kept[0] == version:
            return kept[1]
        latest = {write.id: write for write in self.writes()[1]}
        self._latest = (version, latest)
        return latest

    def add(self, writes: Sequence[Write]) -> None:
        """Append writes in one durable commit."""
        db = self._open(create=True)
        assert db is not None
        with transaction(db, self.path):
            db.executemany(
                "INSERT INTO writes (id, terms, text, meta) VALUES (?, ?, ?, ?)",
                [(w.id, w.terms, w.text, w.meta) for w in writes],
            )

    def drop(self, through: int | None = None) -> None:
        """Forget the writes up to sequence number through (all when None): they are in tantivy now."""
        db = self._open(create=False)
        if db is None:
            return
        with transaction(db, self.path):
            if through is None:
                db.execute("DELETE FROM writes")
            else:
                db.execute("DELETE FROM writes WHERE seq <= ?", (through,))


def bm25_scores(
    query: Iterable[str],
    documents: dict[str, list[str]],
    indexed_docs: int,
    indexed_freq: dict[str, int],
    average_length: float | None,
) -> dict[str, float]:
    """BM25 of buffered documents (id -> terms) over the index's statistics plus their own.

    indexed_freq: term -> documents of the index holding it; average_length: the index's average document
    length (None: take the buffered documents'). Only documents holding a query term get a score.
    """
    query = set(query)
    total = indexed_docs + len(documents)
    freq = {t: indexed_freq.get(t, 0) + sum(t in set(terms) for terms in documents.values()) for t in query}
    if average_length is None:
        average_length = sum(len(terms) for terms in documents.values()) / max(len(documents), 1)
    scores = {}
    for id_, terms in documents.items():
        counts = {t: terms.count(t) for t in query if t in terms}
        if counts:
            scores[id_] = bm25(counts, len(terms), freq, total, average_length)
    return scores


def bm25(
    counts: dict[str, int], length: float, freq: dict[str, int], total: int, average_length: float
) -> float:
    """One document's BM25: counts (term -> frequency in it), its length, and the collection's statistics
    (freq: term -> documents holding it, of total, average_length)."""
    norm = K1 * (1 - B + B * length / max(average_length, 1e-9))
    return sum(
        math.log(1 + (total - freq[t] + 0.5) / (freq[t] + 0.5)) * (K1 + 1) * tf / (tf + norm)
        for t, tf in counts.items()
    )
