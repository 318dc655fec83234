"""`verify`: drift between the manifest and the store is found, reported and repaired exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag_index.build import build_lexical, build_store
from rag_index.cli import main
from rag_index.config import Config, load_config
from rag_index.index.local import index_with_config
from rag_index.index.run import open_manifest
from rag_index.index.verify import verify
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalIndex
from rag_index.types import Chunk


def settings(store: Path, model: Path, size: int = 40) -> list[str]:
    return [
        f"store.path={store}",
        f"embedder.model={model}",
        "embedder.pooling=mean",
        "embedder.device=cpu",
        f"chunking.size={size}",
        "chunking.overlap=5",
    ]


@pytest.fixture
def indexed(tmp_path: Path, tiny_model: Path) -> tuple[Path, Config]:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("alpha.txt", "beta.txt", "gamma.md"):
        body = "\n\n".join(f"{name} line {i}: facts about item {i * 3}." for i in range(40))
        (root / name).write_text(body)
    config = load_config(None, settings(tmp_path / "store", tiny_model))
    index_with_config(root, config, progress=False)
    return root, config


def store_contents(config: Config) -> dict[str, str]:
    store = build_store(config.store)
    store.attach()
    got = store.collection.get(include=["metadatas"])
    return {id_: meta["source"] for id_, meta in zip(got["ids"], got["metadatas"], strict=True)}


def test_a_clean_index_has_no_drift(indexed: tuple[Path, Config]) -> None:
    _, config = indexed
    drift, after = verify(config)
    assert drift.ok and after is None
    assert drift.sources_in_manifest == 3 and drift.chunks_in_store == len(store_contents(config))
    assert drift.counts == {}


def test_verify_reads_ids_not_every_chunk(
    indexed: tuple[Path, Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading every chunk's metadata made verify grow faster than the store (docs/benchmarks/scale.md)."""
    _, config = indexed

    def every_record(self: ChromaStore) -> None:
        pytest.fail("verify read the metadata of every chunk")

    def every_lexical_id(self: LexicalIndex) -> None:
        pytest.fail("verify read every chunk of the lexical index")

    monkeypatch.setattr(ChromaStore, "records", every_record)
    monkeypatch.setattr(LexicalIndex, "ids", every_lexical_id)
    drift, _ = verify(config)
    assert drift.ok and drift.chunks_in_store == len(store_contents(config))


def test_deleted_and_stray_ids_are_found_and_repaired(indexed: tuple[Path, Config]) -> None:
    _, config = indexed
    clean = store_contents(config)
    store = build_store(config.store)
    store.attach()
    beta_ids = sorted(id_ for id_, source in clean.items() if source == "beta.txt")
    store.delete(beta_ids[:2])  # behind the manifest's back
    stray = Chunk("stray-1", "doc-x", "a chunk nobody indexed", 0, 22, {"source": "ghost.txt"})
    store.upsert([stray], np.ones((1, 32), dtype=np.float32))

    drift, after = verify(config)
    assert drift.missing == {"beta.txt": beta_ids[:2]} and drift.stray == ["stray-1"]
    assert drift.counts["ghost.txt"] == {"manifest": 0, "store": 1}
    assert not drift.ok and after is None

    drift, after = verify(config, repair=True)
    assert not drift.ok and after is not None and after.ok
    assert store_contents(config) == clean


def test_an_interrupted_write_is_repaired(indexed: tuple[Path, Config]) -> None:
    _, config = indexed
    clean = store_contents(config)
    manifest = open_manifest(build_store(config.store))
    entry = manifest.entries()["alpha.txt"]
    manifest.begin([("alpha.txt", entry.root, entry.settings, ["half-written-id"])])
    manifest.close()
    drift, after = verify(config, repair=True)
    assert drift.incomplete == ["alpha.txt"] and after is not None and after.ok
    assert store_contents(config) == clean


def test_a_changed_chunking_setting_is_outdated(indexed: tuple[Path, Config], tiny_model: Path) -> None:
    root, config = indexed
    bigger = load_config(None, settings(Path(config.store.path), tiny_model, size=80))
    drift, after = verify(bigger, repair=True)
    assert drift.outdated == ["alpha.txt", "beta.txt", "gamma.md"]
    assert after is not None and after.ok
    fresh = load_config(None, settings(root.parent / "fresh", tiny_model, size=80))
    index_with_config(root, fresh, progress=False)
    assert sorted(store_contents(config)) == sorted(store_contents(fresh))


def test_a_source_whose_file_is_gone_is_removed_by_repair(indexed: tuple[Path, Config]) -> None:
    root, config = indexed
    (root / "gamma.md").unlink()
    store = build_store(config.store)
    store.attach()
    gamma = [id_ for id_, source in store_contents(config).items() if source == "gamma.md"]
    store.delete(gamma[:1])
    drift, after = verify(config, repair=True)
    assert list(drift.missing) == ["gamma.md"] and after is not None and after.ok
    assert "gamma.md" not in set(store_contents(config).values())


def test_cli_verify_reports_drift_with_exit_1_and_repairs_with_0(
    indexed: tuple[Path, Config], tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = indexed
    args = [f"--set={item}" for item in settings(Path(config.store.path), tiny_model)]
    store = build_store(config.store)
    store.attach()
    store.delete([next(iter(store_contents(config)))])
    assert main(["verify", "--json", *args]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and sum(len(ids) for ids in report["missing"].values()) == 1
    assert main(["verify", "--repair", *args]) == 0
    out = capsys.readouterr().out
    assert "chunk(s) missing from the store" in out and "now ok" in out
    assert main(["verify", *args]) == 0
    assert "ok: the manifest and the store agree" in capsys.readouterr().out


def test_verify_of_a_missing_collection_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--set", f"store.path={tmp_path / 'nothing'}"]) == 2
    assert "no collection 'rag-index'" in capsys.readouterr().err


def lexical_of(config: Config) -> LexicalIndex:
    store = build_store(config.store)
    store.attach()
    lexical = build_lexical(config.lexical, store)
    assert lexical is not None
    return lexical


def test_lexical_drift_is_found_and_repaired(indexed: tuple[Path, Config]) -> None:
    _, config = indexed
    lexical = lexical_of(config)
    before = lexical.ids()
    assert before == set(store_contents(config))
    gone = sorted(i for i, source in store_contents(config).items() if source == "beta.txt")[:2]
    lexical.delete(gone)
    lexical.upsert([Chunk("stray-id", "d", "an orphan text", 0, 14, {"source": "nowhere.txt"})])
    drift, after = verify(config, repair=True)
    assert drift.lexical_missing == {"beta.txt": gone} and drift.lexical_stray == ["stray-id"]
    assert not drift.missing and not drift.stray  # the collection itself is fine
    assert after is not None and after.ok
    assert lexical_of(config).ids() == before


def test_a_stale_lexical_index_is_rebuilt_by_repair(indexed: tuple[Path, Config]) -> None:
    _, config = indexed
    lexical = lexical_of(config)
    before = lexical.ids()
    lexical.reset()  # as a rebuild killed midway leaves it: empty and marked incomplete
    drift, after = verify(config)
    assert drift.lexical_stale and not drift.ok and after is None
    assert main(["verify", "--json", *[f"--set={s}" for s in settings_of(config)]]) == 1
    drift, after = verify(config, repair=True)
    assert after is not None and after.ok and lexical_of(config).ids() == before


def settings_of(config: Config) -> list[str]:
    return [
        f"store.path={config.store.path}",
        f"embedder.model={config.embedder.model}",
        "embedder.pooling=mean",
    ]
