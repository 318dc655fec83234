"""SQLite as the manifest uses it: durable commits, explicit transactions, errors that name the file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from rag_index.errors import StoreError


def _store_error(path: Path, err: sqlite3.Error) -> StoreError:
    return StoreError(f"{path}: cannot be used ({err}); check the free space and permissions there")


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """Open (or create) the database at path with schema; StoreError when the folder cannot hold it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) in transaction().
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL: a commit is one append and one fsync to the log (a rollback journal takes about four), which
        # is most of a one-text add's cost. FULL: that commit survives power loss, not only a killed process.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except OSError as err:
        raise StoreError(f"{path}: cannot be created ({err.strerror or err})") from None
    except sqlite3.Error as err:
        raise _store_error(path, err) from None
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it is committed, or none (rolled back, also when the process dies)."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except sqlite3.Error as err:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise _store_error(path, err) from None
