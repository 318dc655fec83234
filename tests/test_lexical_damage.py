"""A damaged lexical index (derived state) is never fatal: verify reports it, --repair and the next index run
rebuild it from the collection's texts, and hybrid search answers from the dense side meanwhile, warning.

Each kind of file the index keeps is overwritten with 100 random bytes in turn, as a disk error would.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from rag_index.api import RagIndex
from rag_index.cli import main
from rag_index.config import Config
from rag_index.index.local import index_with_config
from rag_index.index.verify import verify
from rag_index.storage.lexical import LexicalIndex
from tests import test_verify
from tests.test_verify import lexical_of, settings

indexed = test_verify.indexed  # the fixture: three small files indexed with the tiny model

KINDS = [
    "meta.json",
    ".managed.json",
    "rag-index.json",
    "buffer.sqlite3",
    *(f"segment{ext}" for ext in (".fast", ".fieldnorm", ".idx", ".pos", ".store", ".term")),
]


def damage(lexical: LexicalIndex, kind: str) -> Path:
    """Overwrite the index's file of this kind with 100 random bytes; its path."""
    lexical.upsert([])  # the buffer's database exists once something was written through it
    if kind == "buffer.sqlite3":
        lexical.delete(["no-such-id"])  # a buffered write: the file exists
    if kind.startswith("segment"):
        path = next(p for p in sorted(lexical.path.iterdir()) if p.suffix == kind.removeprefix("segment"))
    else:
        path = lexical.path / kind
    assert path.is_file(), sorted(p.name for p in lexical.path.iterdir())
    lexical.close()
    for part in [path, path.with_name(f"{path.name}-wal")]:  # SQLite reads its latest pages from the WAL
        if part.exists():
            part.write_bytes(os.urandom(100))
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_verify_reports_a_damaged_file_and_repair_rebuilds_the_index(
    indexed: tuple[Path, Config],
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, config = indexed
    before = lexical_of(config).ids()
    damage(lexical_of(config), kind)
    args = [f"--set={s}" for s in settings(Path(config.store.path), Path(str(config.embedder.model)))]
    assert main(["verify", *args]) == 1
    out = capsys.readouterr().out
    assert ("cannot be" in out or "incomplete" in out) and "Traceback" not in out
    drift, after = verify(config, repair=True)
    assert drift.lexical_stale and after is not None and after.ok
    assert lexical_of(config).ids() == before and lexical_of(config).damage() is None


@pytest.mark.parametrize("kind", ["meta.json", "segment.store", "segment.term", "rag-index.json"])
def test_hybrid_search_answers_from_the_dense_side_until_the_next_run_rebuilds_it(
    indexed: tuple[Path, Config],
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root, config = indexed
    index = RagIndex(config)
    dense = [h.id for h in index.search("facts about item 9", search_type="similarity")]
    damage(lexical_of(config), kind)
    with caplog.at_level(logging.WARNING):
        hits = RagIndex(config).search("facts about item 9")
    assert [h.id for h in hits] == dense  # the dense side's answer
    assert "the lexical index" in caplog.text and "answers from the dense side" in caplog.text
    index_with_config(root, config, progress=False)  # nothing changed in the folder: it rebuilds the index
    assert lexical_of(config).damage() is None
    assert "lexical_rank" in " ".join(str(h.metadata) for h in RagIndex(config).search("facts about item 9"))
