"""At scale: a killed writer converges, verify is clean, and HNSW agrees with exact cosine.

Not in the default suite (marker ``scale``; ``make test-scale``). RAG_INDEX_SCALE_CHUNKS sets the size
(default 200,000 chunks: about 20 minutes on 2 quiet cores, 50,000 took 4.7; most of it Chroma's writes).
RAG_INDEX_SCALE_SEED fixes where the writer dies (printed on failure). Every index run and the search after
the restart are real processes; the writer is SIGKILLed by tests/crash_cli.py at a point and pass drawn at
random.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from rag_index.config import load_config
from rag_index.index.local import index_with_config
from rag_index.storage.writer import WRITE_BATCH
from tests.test_crash import REPO, config_for, overrides, snapshot

pytestmark = pytest.mark.scale

CHUNKS = int(os.environ.get("RAG_INDEX_SCALE_CHUNKS", "200000"))
SEED = int(os.environ.get("RAG_INDEX_SCALE_SEED", str(random.randrange(2**31))))
PARAGRAPHS = 40  # paragraphs per file; with chunking.size 40, each is one chunk
POINTS = ("upserted", "written", "deleted", "committed")  # where in the write order the writer dies
# HNSW breadth of the store's collection: at Chroma's default (100) recall@10 was 0.944 here at 200,000 chunks
EF_SEARCH = "store.hnsw_ef_search=200"

# Run after a restart: the stored vectors, exact cosine top 10 by brute force, and Chroma's top 10.
RECALL = """
import json, sys
import numpy as np
from rag_index.build import build_store
from rag_index.config import load_config
store = build_store(load_config(None, sys.argv[2:]).store)
store.attach()
rng = np.random.default_rng(int(sys.argv[1]))
ids, vectors, offset = [], [], 0
while True:
    page = store.collection.get(include=["embeddings"], limit=5000, offset=offset)
    if page["ids"]:
        ids += page["ids"]
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
    offset += 5000
    if len(page["ids"]) < 5000:
        break
vectors = np.concatenate(vectors)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
picked = rng.choice(len(ids), 100, replace=False)
queries = vectors[picked] + rng.standard_normal((100, vectors.shape[1])).astype(np.float32) * 0.05
found = 0
for query in queries:
    query /= np.linalg.norm(query)
    exact = {ids[i] for i in np.argsort(-(vectors @ query))[:10]}
    found += len(exact & {hit.id for hit in store.query(query, 10)})
print(json.dumps({"recall_at_10": found / 1000, "vectors": len(ids)}))
"""


def paragraph(file: int, part: int) -> str:
    value = file * 31 + part
    return (
        f"Record {file}-{part}: sample {part} of batch {file} measured {value} units, "
        f"taken at the north station after calibration {part % 7} of the river gauge."
    )


def cli(
    command: str, store: Path, model: Path, *args: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A real `rag-index` process (through tests/crash_cli.py when it is to die), no time limit."""
    entry = ["-m", "tests.crash_cli", kill_at] if kill_at else ["-m", "rag_index.cli"]
    sets = [arg for item in [*overrides(store, model), EF_SEARCH] for arg in ("--set", item)]
    SharedSystemClient.clear_system_cache()  # read what the other process wrote, not a cached client's view
    done = subprocess.run(
        [sys.executable, *entry, command, *args, "--json", *sets], cwd=REPO, capture_output=True, text=True
    )
    SharedSystemClient.clear_system_cache()
    return done


def write_folder(root: Path, chunks: int) -> None:
    for file in range(max(1, chunks // PARAGRAPHS)):
        path = root / f"part-{file // 200:03d}" / f"file-{file:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(paragraph(file, part) for part in range(PARAGRAPHS)), encoding="utf-8")


def test_killed_writer_converges_verifies_and_searches_like_cosine(tmp_path: Path, tiny_model: Path) -> None:
    root = tmp_path / "docs"
    write_folder(root, CHUNKS)
    clean_config = load_config(None, [*overrides(tmp_path / "clean", tiny_model), EF_SEARCH])
    index_with_config(root, clean_config, progress=False)
    clean = snapshot(clean_config)
    assert len(clean[0]) >= CHUNKS * 0.95, "the folder should make about CHUNKS chunks"

    draw = random.Random(SEED)
    point, passes = draw.choice(POINTS), draw.randrange(1, max(2, len(clean[0]) // WRITE_BATCH))
    store = tmp_path / "store"
    killed = cli("index", store, tiny_model, str(root), kill_at=f"{point}:{passes}")
    assert killed.returncode == -9, (
        f"seed {SEED}: the writer was to die at {point} #{passes}: {killed.stderr}"
    )
    rerun = cli("index", store, tiny_model, str(root))
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(config_for(store, tiny_model)) == clean, f"seed {SEED}: killed at {point} #{passes}"

    verified = cli("verify", store, tiny_model)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True

    sets = [f"store.path={store}"]
    searched = subprocess.run(
        [sys.executable, "-c", RECALL, str(SEED), *sets], cwd=REPO, capture_output=True, text=True
    )
    assert searched.returncode == 0, searched.stderr
    result = json.loads(searched.stdout)
    assert result["vectors"] == len(clean[0])
    print(f"scale test: {len(clean[0])} chunks, killed at {point} #{passes} (seed {SEED}), {result}")
    assert result["recall_at_10"] >= 0.95, f"HNSW against exact cosine: {result}"
