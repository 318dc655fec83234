"""Texts beside indexed folders (agent memory): index runs and verify leave them alone, repair restores
them, writes take the store's lock, and an add or delete killed at any point of the crash-safe order
converges on the next write or index run (real processes, SIGKILLed through tests/crash_cli.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from rag_index.api import RagIndex
from rag_index.build import build_lexical, build_store
from rag_index.config import Config
from rag_index.errors import LockError, RagIndexError
from rag_index.index.run import open_manifest
from rag_index.storage.lock import StoreLock
from tests.test_crash import assert_manifest_claims_only_stored_chunks, config_for, overrides

REPO = Path(__file__).resolve().parents[1]


def cli(store: Path, model: Path, *args: str, kill_at: str | None = None, stdin: str | None = None):
    """The rag-index command in a subprocess (killed at a checkpoint with kill_at)."""
    entry = ["-m", "tests.crash_cli", kill_at] if kill_at else ["-m", "rag_index.cli"]
    command = [sys.executable, *entry, *args]
    for item in overrides(store, model):
        command += ["--set", item]
    SharedSystemClient.clear_system_cache()  # see tests/test_crash.py: no stale embedded client
    result = subprocess.run(
        command, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, input=stdin, timeout=300
    )
    SharedSystemClient.clear_system_cache()
    return result


def write_folder(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (root / f"file {i}.txt").write_text(f"File {i} says the kettle holds {i + 1} litres. " * 30)


def texts_in_store(config: Config) -> dict[str, str]:
    """id -> text of every text chunk in the collection, checked against the lexical index."""
    store = build_store(config.store)
    store.attach()
    got = store.collection.get(include=["documents", "metadatas"])
    texts = {
        id_: doc
        for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        if "rag_index_text" in meta
    }
    lexical = build_lexical(config.lexical, store)
    assert lexical is not None and set(texts) <= lexical.ids()
    return texts


def drift_of(config: Config):
    SharedSystemClient.clear_system_cache()
    drift, _ = RagIndex(config).verify()
    return drift


@pytest.fixture
def memory(tmp_path: Path, tiny_model: Path) -> tuple[Path, Config, RagIndex]:
    """A folder indexed, and two texts added, through the API with the tiny model."""
    root = tmp_path / "docs"
    write_folder(root)
    config = config_for(tmp_path / "store", tiny_model)
    index = RagIndex(config)
    index.index(root)
    assert index.add_texts(["Ada prefers tea", "Bob parks in bay 4"], ids=["a", "b"]) == ["a", "b"]
    return root, config, index


def test_index_runs_and_verify_leave_texts_alone(memory: tuple[Path, Config, RagIndex]) -> None:
    root, config, index = memory
    (root / "file 0.txt").unlink()  # a pruning run: only the folder's own entries may go
    report = index.index(root)
    assert report.files_removed == 1
    assert index.index(root).files_unchanged == 2  # the unchanged fast path too
    assert texts_in_store(config) == {"a": "Ada prefers tea", "b": "Bob parks in bay 4"}
    drift, after = index.verify(repair=True)
    assert drift.ok and drift.stray == [] and after is None
    info = index.info()
    assert info["texts"] == 2 and set(info["sources"]) == {"file 1.txt", "file 2.txt"}


def test_repair_restores_a_text_the_store_lost(memory: tuple[Path, Config, RagIndex]) -> None:
    _, config, index = memory
    store = build_store(config.store)
    store.attach()
    store.delete(["a"])  # behind rag-index's back
    lexical = build_lexical(config.lexical, store)
    assert lexical is not None
    lexical.delete(["b"])
    drift, after = index.verify(repair=True)
    assert drift.missing == {"text:a": ["a"]} and drift.lexical_missing == {"text:b": ["b"]}
    assert after is not None and after.ok
    assert texts_in_store(config) == {"a": "Ada prefers tea", "b": "Bob parks in bay 4"}
    (chunk,) = index.get_by_ids(["a"])
    assert "created_at" in chunk.metadata


def test_update_and_delete_through_the_api(memory: tuple[Path, Config, RagIndex]) -> None:
    _, config, index = memory
    index.add_texts(["Ada prefers coffee now"], [{"topic": "drinks"}], ids=["a"])
    assert index.delete(["b", "no-such-id"]) == ["b"]
    assert texts_in_store(config) == {"a": "Ada prefers coffee now"}
    hits = index.search("coffee", k=1, where={"topic": "drinks"}, search_type="hybrid")
    assert [hit.id for hit in hits] == ["a"]
    assert drift_of(config).ok


def test_recreate_reports_the_texts_it_drops(memory: tuple[Path, Config, RagIndex], tiny_model: Path) -> None:
    root, config, _ = memory
    result = cli(Path(config.store.path), tiny_model, "index", str(root), "--recreate")
    assert result.returncode == 0, result.stderr
    assert "--recreate drops 2 text(s) added with `rag-index add`" in result.stderr
    assert "dropped 2 text(s)" in result.stdout
    assert RagIndex(config).text_count() == 0
    assert RagIndex(config).index(root, recreate=True).texts_dropped == 0


def test_a_write_waits_for_the_lock_then_fails_with_one_line(
    memory: tuple[Path, Config, RagIndex], tiny_model: Path
) -> None:
    _, config, index = memory
    store = build_store(config.store)
    with StoreLock(store.state_file(".lock"), "test"):
        with pytest.raises(LockError, match=r"another rag-index \(pid \d+\) is writing to collection"):
            index.add_texts(["blocked"], wait=0.3)
        result = cli(Path(config.store.path), tiny_model, "delete", "a", "--wait", "0.3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("rag-index: error: another rag-index (pid")
    assert "Traceback" not in result.stderr
    assert RagIndex(config).text_count() == 2


def test_cli_add_delete_and_bad_input(memory: tuple[Path, Config, RagIndex], tiny_model: Path) -> None:
    _, config, _ = memory
    store = Path(config.store.path)
    added = cli(store, tiny_model, "add", "Cy likes jazz", "--id", "c", "--meta", "mood=3", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"ids": ["c"]}
    lines = '{"text": "Di lives in Oslo", "id": "d", "metadata": {"city": "Oslo"}}\n{"text": "no id"}\n'
    piped = cli(store, tiny_model, "add", "-", "--json", stdin=lines)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["ids"][0] == "d"
    deleted = cli(store, tiny_model, "delete", "a", "zz", "--json")
    assert json.loads(deleted.stdout) == {"deleted": ["a"], "not_found": ["zz"]}
    (c,) = RagIndex(config).get_by_ids(["c"])
    assert c.metadata["mood"] == 3
    for args, stdin, message in [
        (("add", "-"), "not json\n", "stdin line 1: not JSON"),
        (("add", "-"), '{"txt": "x"}\n', 'stdin line 1: expected an object with a "text" string'),
        (("add", "x", "y", "--id", "1"), None, "--id: expected one per text (2), got 1"),
        (("add", "x", "--meta", "novalue"), None, "--meta: expected KEY=VALUE"),
        (("add", "-"), '{"text": "x", "metadata": {"created_at": "yesterday"}}\n', "created_at: expected"),
        (("add", ""), None, "texts[0]: a text cannot be empty"),
        (("add", "-"), '{"text": "ok"}\n{"text": "  "}\n', "texts[1]: a text cannot be empty"),
        (
            ("add", "-"),
            '{"text": "x", "metadata": {"a": {"b": 1}}}\n',
            "metadatas[0]['a']: expected a string",
        ),
    ]:
        result = cli(store, tiny_model, *args, stdin=stdin)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip() == f"rag-index: error: {message}" or message in result.stderr
        assert "Traceback" not in result.stderr
    assert drift_of(config).ok


def test_cli_add_names_the_line_whose_bytes_are_not_utf8(
    memory: tuple[Path, Config, RagIndex], tiny_model: Path
) -> None:
    _, config, index = memory
    command = [sys.executable, "-m", "rag_index.cli", "add", "-"]
    for item in overrides(Path(config.store.path), tiny_model):
        command += ["--set", item]
    stdin = b'{"text": "fine"}\n{"text": "\xff\xfe bad bytes"}\n'
    result = subprocess.run(command, cwd=REPO, input=stdin, capture_output=True, timeout=300)
    err = result.stderr.decode()
    assert (
        result.returncode == 2
        and err.strip() == "rag-index: error: stdin line 2: not UTF-8 (byte 0xff at 10)"
    )
    before = index.text_count()
    with pytest.raises(RagIndexError, match=r"texts\[0\]: not UTF-8 text \(a stray byte at position 3\)"):
        index.add_texts(["bad\udcff"])  # what a non-UTF-8 argument becomes in Python (surrogateescape)
    assert index.text_count() == before  # nothing half-written


EXPECTED = {"a": "Ada prefers tea", "b": "Bob likes bay 5 now", "c": "Cy likes jazz"}


@pytest.mark.parametrize(
    ("kill_at", "converge"),
    [
        ("begun:1", "write"),  # the texts recorded, nothing written
        ("upserted:1", "index"),  # in the collection, not yet in the lexical index
        pytest.param("written:1", "write", marks=pytest.mark.slow),
        pytest.param("committed:1", "index", marks=pytest.mark.slow),
    ],
)
def test_an_add_killed_midway_converges(
    memory: tuple[Path, Config, RagIndex], tiny_model: Path, kill_at: str, converge: str
) -> None:
    root, config, _ = memory
    args = ("add", "Bob likes bay 5 now", "Cy likes jazz", "--id", "b", "--id", "c")
    killed = cli(Path(config.store.path), tiny_model, *args, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_manifest_claims_only_stored_chunks(config)
    converged(config, root, converge)
    assert texts_in_store(config) == EXPECTED | ({"z": "a later memory"} if converge == "write" else {})
    assert drift_of(config).ok


@pytest.mark.parametrize(("kill_at", "converge"), [("pruning:1", "index"), ("pruning:1", "write")])
def test_a_delete_killed_midway_converges(
    memory: tuple[Path, Config, RagIndex], tiny_model: Path, kill_at: str, converge: str
) -> None:
    root, config, _ = memory
    killed = cli(Path(config.store.path), tiny_model, "delete", "a", kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_manifest_claims_only_stored_chunks(config)
    converged(config, root, converge)
    expected = {"b": "Bob parks in bay 4"} | ({"z": "a later memory"} if converge == "write" else {})
    assert texts_in_store(config) == expected
    assert drift_of(config).ok


def converged(config: Config, root: Path, how: str) -> None:
    """The next write (another add) or the next index run, in this process."""
    SharedSystemClient.clear_system_cache()
    index = RagIndex(config)
    if how == "write":
        index.add_texts(["a later memory"], ids=["z"])
    else:
        index.index(root)
    manifest = open_manifest(build_store(config.store))
    try:
        assert manifest.interrupted_texts() == []
    finally:
        manifest.close()
