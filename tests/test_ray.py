"""The Ray engine against the local one, on a real local Ray instance (and a real `chroma run` server).

One Ray instance (2 CPUs, no dashboard) serves the whole module: starting Ray costs seconds. Each test
indexes the same folder with engine.kind local and ray and compares what the stores hold: ids, texts and
metadata must be identical, vectors agree at cosine >= 0.9999. The crash tests SIGKILL a driver that joined
this module's Ray instance and wrote to a Chroma server, then let the next run converge; they and the
sample PDFs are marked slow (about 25 s each here) and run by `make test-slow`, which CI runs too.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient

import rag_index.index.ray_engine as ray_engine
from rag_index.build import build_lexical, build_store
from rag_index.config import Config, load_config
from rag_index.errors import ConfigError, RagIndexError
from rag_index.index.local import configured_indexer, index_configured, index_with_config
from rag_index.index.ray_engine import RayExecutor
from rag_index.index.report import IndexReport
from rag_index.index.survey import Pending
from rag_index.index.verify import verify
from tests.chroma_server import ChromaServer
from tests.ray_workers import DiesOnce
from tests.test_crash import assert_manifest_claims_only_stored_chunks

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SAMPLE_PDFS = REPO.parent / "shared" / "pdfs" / "sample-files"

Stored = dict[str, tuple[str, dict[str, Any], np.ndarray]]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """One local Ray instance for the module; the engine uses it instead of starting its own."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rag-index[ray]'")
    # Workers import tests.ray_workers by name: they see the repository as pytest's sys.path does.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, runtime_env=runtime_env)
    yield ray
    ray.shutdown()


def overrides(model: Path, *extra: str) -> list[str]:
    return [
        f"embedder.model={model}",
        "embedder.pooling=mean",
        "embedder.device=cpu",
        "chunking.size=40",
        "chunking.overlap=5",
        "loader.ocr=off",
        *extra,
    ]


def embedded(store: Path, model: Path, kind: str = "local") -> Config:
    return load_config(
        None, overrides(model, f"store.path={store}", f"engine.kind={kind}", "engine.actors=2")
    )


def http(state: Path, model: Path, port: int, kind: str = "ray") -> list[str]:
    return overrides(
        model,
        "store.mode=http",
        "store.host=127.0.0.1",
        f"store.port={port}",
        f"store.path={state}",
        f"engine.kind={kind}",
    )


def stored(config: Config) -> Stored:
    """id -> (text, metadata, vector) of every chunk in the collection."""
    SharedSystemClient.clear_system_cache()  # another process may have written since this one last read
    store = build_store(config.store)
    store.attach()
    got = store.collection.get(include=["documents", "metadatas", "embeddings"])
    return {
        id_: (doc, dict(meta), np.asarray(vector, dtype=np.float32))
        for id_, doc, meta, vector in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        )
    }


def assert_same_chunks(ours: Stored, theirs: Stored) -> None:
    """Identical ids, texts and metadata; vectors at cosine >= 0.9999."""
    assert ours.keys() == theirs.keys()
    assert {k: v[:2] for k, v in ours.items()} == {k: v[:2] for k, v in theirs.items()}
    a = np.stack([ours[k][2] for k in sorted(ours)])
    b = np.stack([theirs[k][2] for k in sorted(ours)])
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() >= 0.9999


def assert_complete(config: Config) -> None:
    """verify finds no drift, and the lexical index holds exactly the collection's chunks."""
    drift, _ = verify(config)
    assert drift.ok, drift
    store = build_store(config.store)
    store.attach()
    lexical = build_lexical(config.lexical, store)
    assert lexical is not None and lexical.describes(store.collection_id)
    assert lexical.ids() == set(stored(config))


def skipped(report: IndexReport) -> list[tuple[str, str]]:
    return sorted((s.path, s.reason) for s in report.skipped)


def no_ray() -> Any:
    raise AssertionError("this run must not start Ray")


def test_ray_matches_local_then_updates_incrementally(
    ray_cluster: Any, tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    shutil.copytree(DATA, root)
    local, ray = embedded(tmp_path / "local", tiny_model), embedded(tmp_path / "ray", tiny_model, "ray")
    first = [index_with_config(root, config, progress=False) for config in (local, ray)]
    assert first[1].files_indexed == first[0].files_indexed >= 6
    assert first[1].chunks_written == first[0].chunks_written > 0
    assert_same_chunks(stored(ray), stored(local))
    assert_complete(ray)

    # An unchanged folder is answered from the manifest: no model, no Ray.
    with monkeypatch.context() as patch:
        patch.setattr(ray_engine, "import_ray", no_ray)
        again = index_with_config(root, ray, progress=False)
    assert (again.files_unchanged, again.files_indexed, again.chunks_written) == (
        first[1].files_indexed,
        0,
        0,
    )

    # One file changed, one gone, one new and one that cannot be parsed: only those reach the workers.
    (root / "faq.txt").write_text("The grinder warranty lasts five years.\n\nReturns take 30 days.\n")
    (root / "guide.md").unlink()
    (root / "new.md").write_text("# New\n\nA page added after the first run.\n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF body\n")
    (root / "locked.docx").write_bytes(b"not a zip at all")
    updates = [index_with_config(root, config, progress=False) for config in (local, ray)]
    assert (updates[1].files_indexed, updates[1].files_removed) == (2, 1)
    assert skipped(updates[1]) == skipped(updates[0]) != []
    assert updates[1].chunks_deleted == updates[0].chunks_deleted
    assert_same_chunks(stored(ray), stored(local))
    assert_complete(ray)


@pytest.mark.slow
def test_a_killed_actor_is_restarted_and_the_run_matches_local(
    ray_cluster: Any, tmp_path: Path, tiny_model: Path
) -> None:
    root = tmp_path / "docs"
    write_notes(root, 6, "actor")
    local, ray = embedded(tmp_path / "local", tiny_model), embedded(tmp_path / "ray", tiny_model, "ray")
    expected = index_with_config(root, local, progress=False)
    indexer = configured_indexer(ray)
    indexer.executor = RayExecutor(ray, encoder=DiesOnce)
    report = index_configured(indexer, ray, root, progress=False)
    assert (tmp_path / "an-actor-was-killed").exists()
    assert (report.files_indexed, report.chunks_written) == (expected.files_indexed, expected.chunks_written)
    assert_same_chunks(stored(ray), stored(local))
    assert_complete(ray)


def test_a_folder_the_workers_cannot_read_fails_with_one_line(
    ray_cluster: Any, tmp_path: Path, tiny_model: Path
):
    config = embedded(tmp_path / "store", tiny_model, "ray")
    missing = tmp_path / "not-mounted"
    report = IndexReport(root=str(missing), collection="", store="")
    changes = RayExecutor(config).changes(
        iter([Pending(missing / "a.txt", "a.txt", "0" * 64, 0)]), missing, "s", report
    )
    with pytest.raises(
        RagIndexError, match=r"not-mounted: not readable on Ray node .*mounts at the same path"
    ):
        list(changes)


@pytest.mark.slow
def test_a_ray_instance_started_for_the_run_refuses_more_cpus_than_it_has(tmp_path: Path, tiny_model: Path):
    """The CLI starts its own Ray (no address): asking for more CPUs than it has is one line, not a hang."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'rag-index[ray]'")
    command = [sys.executable, "-m", "rag_index.cli", "index", str(DATA)]
    for item in overrides(tiny_model, f"store.path={tmp_path}", "engine.kind=ray", "engine.actors=64"):
        command += ["--set", item]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "engine.actors x engine.cpus_per_actor = 64 CPUs, but the Ray cluster has" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_embedded_store_on_a_joined_cluster_is_refused(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = r"engine.address: 'ray://head:10001' joins a Ray cluster, .* use store.mode: http"
    config = load_config(
        None, [f"store.path={tmp_path}", "engine.kind=ray", "engine.address=ray://head:10001"]
    )
    with pytest.raises(ConfigError, match=expected):
        index_with_config(DATA, config, progress=False)
    monkeypatch.setenv("RAY_ADDRESS", "auto")  # Ray's own variable counts too
    with pytest.raises(ConfigError, match=r"engine.address: 'auto' joins a Ray cluster"):
        index_with_config(DATA, embedded(tmp_path, tiny_model, "ray"), progress=False)
    assert not (tmp_path / "chroma.sqlite3").exists()


def test_without_ray_installed_the_ray_engine_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when Ray is not installed
    config = load_config(None, [f"store.path={tmp_path}", "engine.kind=ray"])
    with pytest.raises(ConfigError, match=r"engine.kind: ray needs Ray.*pip install 'rag-index\[ray\]'"):
        index_with_config(DATA, config, progress=False)


def cli_index(
    root: Path, args: list[str], address: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`rag-index index` in a subprocess joining this module's Ray instance, SIGKILLed at kill_at if given."""
    entry = ["-m", "tests.crash_cli", kill_at] if kill_at else ["-m", "rag_index.cli"]
    command = [sys.executable, *entry, "index", str(root), "--json"]
    for item in args:
        command += ["--set", item]
    env = {**os.environ, "RAY_ADDRESS": address}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def write_notes(root: Path, count: int, topic: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        body = "\n\n".join(
            f"Note {j} on {topic} {i}: the value is {j * 7} and it is recorded." for j in range(150)
        )
        (root / f"note {i}.txt").write_text(body)


@pytest.mark.parametrize(
    "kill_at, next_kind",
    [
        # written:2 is mid-write: the next run, on one machine, finishes it.
        pytest.param("written:2", "local", marks=pytest.mark.slow),
        pytest.param("begun:2", "ray", marks=pytest.mark.slow),
        pytest.param("deleted:1", "ray", marks=pytest.mark.slow),
        pytest.param("committed:1", "local", marks=pytest.mark.slow),
        pytest.param("pruning:1", "ray", marks=pytest.mark.slow),
    ],
)
def test_a_killed_ray_driver_converges_on_the_next_run(
    ray_cluster: Any, server: ChromaServer, tmp_path: Path, tiny_model: Path, kill_at: str, next_kind: str
) -> None:
    root = tmp_path / "docs"
    write_notes(root, 6, "first")
    address = ray_cluster.get_runtime_context().gcs_address
    args = http(tmp_path / "state", tiny_model, server.port)
    index_with_config(root, load_config(None, args), progress=False)
    shutil.rmtree(root)
    write_notes(root, 5, "second")  # every file changed, one gone: every kind of write happens
    killed = cli_index(root, args, address, kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    config = load_config(None, args)
    assert_manifest_claims_only_stored_chunks(config)

    next_args = http(tmp_path / "state", tiny_model, server.port, next_kind)
    index_with_config(root, load_config(None, next_args), progress=False)  # ray: this module's instance
    clean = embedded(tmp_path / "clean", tiny_model)
    index_with_config(root, clean, progress=False)
    assert_same_chunks(stored(config), stored(clean))
    assert_complete(config)


@pytest.mark.slow
@pytest.mark.skipif(not SAMPLE_PDFS.is_dir(), reason=f"shared sample PDFs not found at {SAMPLE_PDFS}")
def test_sample_pdfs_into_a_chroma_server_match_the_local_engine(
    ray_cluster: Any, server: ChromaServer, tmp_path: Path, tiny_model: Path
) -> None:
    root = tmp_path / "pdfs"
    root.mkdir()
    for pdf in SAMPLE_PDFS.glob("*.pdf"):
        shutil.copy(pdf, root / pdf.name)
    ray = load_config(None, http(tmp_path / "state", tiny_model, server.port))
    local = embedded(tmp_path / "local", tiny_model)
    reports = [index_with_config(root, config, progress=False) for config in (local, ray)]
    assert skipped(reports[1]) == skipped(reports[0])
    assert reports[1].files_indexed == reports[0].files_indexed > 0
    assert_same_chunks(stored(ray), stored(local))
    assert_complete(ray)

    # A file moved to another folder (its name, and so what is embedded, unchanged): the actors reuse the
    # server's vectors of its texts, as the local engine does.
    (root / "moved").mkdir()
    (root / "crazyones-pdfa.pdf").rename(root / "moved" / "crazyones-pdfa.pdf")
    renamed = [index_with_config(root, config, progress=False) for config in (local, ray)]
    assert [(r.files_indexed, r.files_removed, r.chunks_embedded) for r in renamed] == [(1, 1, 0)] * 2
    assert renamed[1].chunks_written == renamed[0].chunks_written > 0
    assert_same_chunks(stored(ray), stored(local))
