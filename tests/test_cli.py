"""The `rag-index` command through a subprocess, as a user runs it, on the sample corpus in data/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO

QUESTIONS = json.loads((DATA / "questions.json").read_text())


def rag_index(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user would; fail with its stderr when check is set and it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "rag_index.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"rag-index {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding data/, indexed once through the CLI with --json."""
    path = str(tmp_path_factory.mktemp("store"))
    summary = json.loads(rag_index("index", str(DATA), "--json", "--set", f"store.path={path}").stdout)
    assert summary["files_indexed"] == len(
        {p for p in DATA.iterdir() if p.suffix in {".pdf", ".txt", ".md", ".html", ".docx", ".pptx"}}
    )
    assert summary["skipped"] == []
    assert summary["chunks_written"] > 0 and summary["seconds"] > 0
    return path


def test_query_json_lists_ranked_chunks_with_their_metadata(store: str) -> None:
    item = QUESTIONS[0]
    hits = json.loads(
        rag_index("query", item["question"], "--json", "-k", "3", "--set", f"store.path={store}").stdout
    )
    assert len(hits) == 3
    assert {"id", "score", "text", "metadata"} <= set(hits[0])
    assert hits[0]["metadata"]["source"] == item["source"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_plain_query_output_shows_score_source_and_preview(store: str) -> None:
    out = rag_index("query", QUESTIONS[0]["question"], "--set", f"store.path={store}").stdout
    assert out.startswith("1. [") and QUESTIONS[0]["source"] in out.splitlines()[0]


def test_a_reader_that_stops_early_gets_no_traceback(store: str) -> None:
    """`rag-index query ... | head -1`: the closed pipe ends the command quietly."""
    read_end, write_end = os.pipe()
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag_index.cli",
            "query",
            QUESTIONS[0]["question"],
            "--set",
            f"store.path={store}",
        ],
        cwd=REPO,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    os.close(read_end)  # the reader is gone before the first line is written
    _, stderr = command.communicate(timeout=300)
    assert command.returncode == 141, stderr
    assert stderr == ""


def test_reindexing_keeps_the_same_chunks(store: str) -> None:
    before = json.loads(rag_index("info", "--json", "--set", f"store.path={store}").stdout)
    rag_index("index", str(DATA), "--json", "--set", f"store.path={store}")
    after = json.loads(rag_index("info", "--json", "--set", f"store.path={store}").stdout)
    assert after == before
    assert after["fingerprint"]["pooling"] == "mean" and after["fingerprint"]["dimension"] == 384
    assert {q["source"] for q in QUESTIONS} <= set(after["sources"])


def test_another_pooling_on_the_same_collection_is_refused(store: str) -> None:
    result = rag_index(
        "query", "x", "--set", f"store.path={store}", "--set", "embedder.pooling=cls", check=False
    )
    assert result.returncode == 2
    assert "different embedder" in result.stderr and "Traceback" not in result.stderr


def test_skipped_files_are_listed_and_strict_fails(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("A perfectly good note about harbour lights.")
    (folder / "fake.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    args = ["index", str(folder), "--set", f"store.path={tmp_path / 'store'}"]
    relaxed = rag_index(*args, "--json")
    summary = json.loads(relaxed.stdout)
    assert summary["files_indexed"] == 1
    assert summary["skipped"] == [{"path": "fake.pdf", "reason": summary["skipped"][0]["reason"]}]
    assert "PDF" in summary["skipped"][0]["reason"]
    strict = rag_index(*args, "--strict", check=False)
    assert strict.returncode == 1
    assert "skipped fake.pdf:" in strict.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/no/such/folder"], "/no/such/folder: no such file or folder"),
        (["index", "s3://bucket/docs"], "s3://bucket/docs: URIs are not read directly; mount it"),
        (
            ["index", "data", "--set", "engine.kind=ray", "--set", "engine.address=auto"],
            "engine.address: 'auto' joins a Ray cluster, but store.mode embedded",
        ),
        (
            ["index", "data", "--set", "embedder.pooling=meen"],
            "embedder.pooling: 'meen' is not one of auto, attention, cls",
        ),
        (["query", "x", "--config", "missing.yaml"], "missing.yaml: cannot read config file"),
        (["info", "--set", "store.path=/tmp/rag-index-nothing-here"], "run `rag-index index PATH` first"),
        (["query", "x", "--set", "embedder.model=/no/model"], "is not a local Hugging Face model folder"),
    ],
)
def test_user_mistakes_get_one_clear_line(args: list[str], message: str) -> None:
    result = rag_index(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
