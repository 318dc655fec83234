"""Crash safety and the writer lock, with real `rag-index index` subprocesses killed by SIGKILL.

Where each run dies is chosen by running the CLI through tests/crash_cli.py, which injects a checkpoint that
makes the process send itself SIGKILL the N-th time it reaches a point of the crash-safe writer (listed
there). SIGKILL cannot be caught, so what is left on disk is what a power cut or the OOM killer would leave.
After each kill the next run must converge to exactly what a clean run on a fresh store produces, and the
manifest must never claim chunks the store lacks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from rag_index.build import build_lexical, build_store
from rag_index.config import Config, LexicalConfig, load_config
from rag_index.index.local import index_with_config
from rag_index.index.run import open_manifest
from rag_index.index.verify import current_settings, find_drift
from rag_index.storage.lock import LockError, StoreLock

REPO = Path(__file__).resolve().parents[1]


def overrides(store: Path, model: Path) -> list[str]:
    return [
        f"store.path={store}",
        f"embedder.model={model}",
        "embedder.pooling=mean",
        "embedder.device=cpu",
        "chunking.size=40",
        "chunking.overlap=5",
    ]


def text(topic: str, n: int) -> str:
    return "\n\n".join(
        f"Note {i} on {topic}: the value is {i * 13} and it is recorded here." for i in range(n)
    )


def write_v1(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        (root / f"file {i}.txt").write_text(text(f"topic {i}", 120))


def write_v2(root: Path) -> None:
    """Change two files, delete one, add one: every kind of write happens."""
    (root / "file 1.txt").write_text(text("topic one, revised", 90))
    (root / "file 4.txt").write_text(text("topic four, revised", 600))  # more than one write batch
    (root / "file 2.txt").unlink()
    (root / "new file.txt").write_text(text("a new topic", 100))


def cli_index(
    root: Path, store: Path, model: Path, kill_at: str | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    entry = ["-m", "tests.crash_cli", kill_at] if kill_at else ["-m", "rag_index.cli"]
    args = [sys.executable, *entry, "index", str(root), "--json", *extra]
    for item in overrides(store, model):
        args += ["--set", item]
    # Embedded Chroma keeps a collection's vector index in memory per process: this process must not read
    # the store through a cached client from before another process wrote to it.
    SharedSystemClient.clear_system_cache()
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    SharedSystemClient.clear_system_cache()
    return result


def config_for(store: Path, model: Path) -> Config:
    return load_config(None, overrides(store, model))


def snapshot(
    config: Config,
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str | None, tuple[str, ...]]], set[str]]:
    """Store (id -> source, text), manifest (source -> content hash, chunk ids) and lexical ids.

    The store is read a page at a time: one get of every chunk fails past ~32,000 ("too many SQL variables"),
    and tests/test_scale.py takes this snapshot of 200,000."""
    store = build_store(config.store)
    store.attach()
    chunks = {chunk.id: (chunk.metadata["source"], chunk.text) for page in store.chunks() for chunk in page}
    assert len(chunks) == store.count()
    manifest = open_manifest(store)
    entries = {s: (e.content_hash, tuple(sorted(e.chunk_ids))) for s, e in manifest.entries().items()}
    manifest.close()
    lexical = build_lexical(config.lexical, store)
    assert lexical is not None and lexical.describes(store.collection_id)
    return chunks, entries, lexical.ids()


def assert_manifest_claims_only_stored_chunks(config: Config) -> None:
    store = build_store(config.store)
    manifest = open_manifest(store)
    settings = current_settings(store, config.loader.text_settings(), config.chunking.model_dump())
    drift = find_drift(store, manifest, settings)
    manifest.close()
    assert drift.missing == {}, "the manifest claims a finished file whose chunks are not all in the store"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    """What a clean run produces on v2 of the folder."""
    base = tmp_path_factory.mktemp("clean")
    root = base / "docs"
    write_v1(root)
    write_v2(root)
    config = config_for(base / "store", tiny_model)
    index_with_config(root, config, progress=False)
    return snapshot(config)


def check_recovery(tmp_path: Path, tiny_model: Path, clean, kill_at: str, first_run_is_v1: bool) -> None:
    root, store = tmp_path / "docs", tmp_path / "store"
    config = config_for(store, tiny_model)
    write_v1(root)
    if first_run_is_v1:
        index_with_config(root, config, progress=False)
    write_v2(root)
    killed = cli_index(root, store, tiny_model, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_manifest_claims_only_stored_chunks(config)
    index_with_config(root, config, progress=False)
    assert snapshot(config) == clean
    again = index_with_config(root, config, progress=False)
    assert (again.files_indexed, again.chunks_embedded, again.files_removed) == (0, 0, 0)


@pytest.mark.parametrize(
    "kill_at",
    [
        "written:1",  # during a write: the first batch of several is in, the rest is not
        pytest.param("deleted:1", marks=pytest.mark.slow),  # new chunks in, old deleted, manifest behind
        pytest.param("begun:1", marks=pytest.mark.slow),  # in-progress marks written, nothing else
        pytest.param("committed:1", marks=pytest.mark.slow),  # some files done, others not started
        pytest.param("written:3", marks=pytest.mark.slow),
        pytest.param("committed:2", marks=pytest.mark.slow),
        pytest.param("pruning:1", marks=pytest.mark.slow),  # a deleted file marked, its chunks not yet gone
        "upserted:1",  # a batch in the collection, not yet in the lexical index
        pytest.param("upserted:4", marks=pytest.mark.slow),
        pytest.param("pruned:1", marks=pytest.mark.slow),  # a deleted file's chunks gone, entry removed
    ],
)
def test_update_killed_at_any_point_converges_to_a_clean_run(
    tmp_path: Path, tiny_model: Path, clean, kill_at: str
) -> None:
    check_recovery(tmp_path, tiny_model, clean, kill_at, first_run_is_v1=True)


@pytest.mark.slow
def test_first_run_killed_mid_write_converges_to_a_clean_run(tmp_path: Path, tiny_model: Path, clean) -> None:
    check_recovery(tmp_path, tiny_model, clean, "written:2", first_run_is_v1=False)


def test_a_lexical_rebuild_killed_midway_converges_to_a_clean_run(
    tmp_path: Path, tiny_model: Path, clean
) -> None:
    """An index made without a lexical index gets one on the next run; killing that rebuild loses nothing."""
    root, store = tmp_path / "docs", tmp_path / "store"
    write_v1(root)
    index_with_config(
        root, config_for(store, tiny_model).model_copy(update={"lexical": LexicalConfig(enabled=False)})
    )
    write_v2(root)
    killed = cli_index(root, store, tiny_model, "rebuilt:1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    config = config_for(store, tiny_model)
    index_with_config(root, config, progress=False)
    assert snapshot(config) == clean


def test_a_second_writer_fails_clearly_while_the_lock_is_held(tmp_path: Path, tiny_model: Path) -> None:
    root, store = tmp_path / "docs", tmp_path / "store"
    write_v1(root)
    config = config_for(store, tiny_model)
    with StoreLock(build_store(config.store).state_file(".lock"), "test store"):
        result = cli_index(root, store, tiny_model, None, "--wait", "0.5")
    assert result.returncode == 2
    assert "waiting up to 0.5 s" in result.stderr
    assert f"another rag-index (pid {os.getpid()}) is writing to collection 'rag-index'" in result.stderr
    assert not (store / "chroma.sqlite3").exists(), "nothing may be written without the lock"


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    expected = r"another rag-index \(pid \d+\) is writing to store X; wait for it"
    with StoreLock(path, "store X"), pytest.raises(LockError, match=expected), StoreLock(path, "store X"):
        pass
    with StoreLock(path, "store X"):  # released on exit
        pass


def test_a_lock_held_by_a_killed_process_is_free(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    code = (
        "import os, signal; from pathlib import Path; from rag_index.storage.lock import StoreLock; "
        f"StoreLock(Path({str(path)!r}), 'x').__enter__(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == -signal.SIGKILL
    with StoreLock(path, "store X"):
        pass


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["kill -9", "ctrl-c"])
def test_stopped_from_outside_mid_run_converges_to_a_clean_run(
    tmp_path: Path, tiny_model: Path, signum: signal.Signals
) -> None:
    """A real signal from this process once the run has recorded its first finished file: the run waits
    there for it (tests/crash_cli.py's pause), so a busy machine cannot let it finish first.

    SIGKILL stops it dead; SIGINT (Ctrl-C) stops the threads reading and embedding ahead, and the CLI
    says so in one line, without a traceback, and exits 130.
    """
    root, store = tmp_path / "docs", tmp_path / "store"
    root.mkdir()
    for i in range(20):
        (root / f"part {i:02d}.txt").write_text(text(f"part {i}", 120))
    config = config_for(store, tiny_model)
    marker = tmp_path / "paused"
    args = [
        sys.executable,
        "-m",
        "tests.crash_cli",
        f"pause:committed:1:{marker}",
        "index",
        str(root),
        "--json",
    ]
    for item in overrides(store, tiny_model):
        args += ["--set", item]
    SharedSystemClient.clear_system_cache()
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while process.poll() is None and not marker.exists():
            time.sleep(0.01)
        assert marker.exists(), "the run ended before recording its first file"
        assert done_entries(build_store(config.store).state_file(".manifest.sqlite3")) > 0
        process.send_signal(signum)
    finally:
        _, stderr = process.communicate(timeout=300)
    if signum == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    else:
        assert process.returncode == 130, f"the run ended before Ctrl-C, or not by it: {stderr[-2000:]}"
        assert stderr.strip().splitlines()[-1] == "rag-index: interrupted"
        assert "Traceback" not in stderr
    SharedSystemClient.clear_system_cache()
    assert_manifest_claims_only_stored_chunks(config)
    index_with_config(root, config, progress=False)
    recovered = snapshot(config)
    fresh = config_for(tmp_path / "fresh", tiny_model)
    index_with_config(root, fresh, progress=False)
    assert recovered == snapshot(fresh)


def done_entries(manifest_file: Path) -> int:
    """Finished sources in a manifest another process is writing (SQLite allows the concurrent read)."""
    with contextlib.closing(sqlite3.connect(manifest_file, timeout=5)) as db:
        try:
            row = db.execute("SELECT COUNT(*) FROM sources WHERE content_hash IS NOT NULL").fetchone()
            return int(row[0])
        except sqlite3.OperationalError:  # the table is not created yet
            return 0
