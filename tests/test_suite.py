"""`rag-index eval --suite`: every shape of data in one table, missing data skipped with its reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag_index.cli import main
from rag_index.evaluation.mixed import Question
from rag_index.types import ScoredChunk
from tests.test_eval import CORPUS, QUERIES


@pytest.fixture
def datasets(tmp_path: Path) -> Path:
    """A suite folder holding a four-abstract `scifact` (q1 -> d1, q2 -> d3)."""
    scifact = tmp_path / "datasets" / "scifact"
    (scifact / "qrels").mkdir(parents=True)
    (scifact / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in CORPUS) + "\n")
    (scifact / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n")
    (scifact / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\n")
    return tmp_path / "datasets"


def suite(datasets: Path, tmp_path: Path, *args: str) -> list[str]:
    return ["eval", "--suite", str(datasets), "--set", f"store.path={tmp_path / 'store'}", "-q", *args]


def test_the_suite_scores_beir_and_memories_in_one_table_then_serves_it_from_the_cache(
    datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = suite(datasets, tmp_path, "--only", "scifact", "--only", "memories", "--json")
    grid = ["--grid", "retrieval.search_type=similarity,hybrid"]
    assert main([*args, *grid]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["points"] == [{"retrieval.search_type": "similarity"}, {"retrieval.search_type": "hybrid"}]
    rows = {(row["dataset"], row["metric"]): row for row in report["rows"]}
    assert set(rows) == {("scifact", "ndcg@10"), ("memories", "hit@1")}
    # The abstracts added as memories answer the claims as the BEIR documents do.
    assert rows["memories", "hit@1"]["values"] == [1.0, 1.0] and rows["memories", "hit@1"]["questions"] == 2
    assert rows["scifact", "ndcg@10"]["values"] == [1.0, 1.0]
    assert report["skipped"] == {}
    stored = sorted(p.name for p in (tmp_path / "store" / "mixed").iterdir())
    plot = tmp_path / "suite.png"
    assert main([*args, *grid, "--plot", str(plot)]) == 0  # from the caches: the same figures, no store built
    assert json.loads(capsys.readouterr().out)["rows"] == report["rows"]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (tmp_path / "store" / "mixed").iterdir()) == stored


def test_data_that_is_absent_is_skipped_with_its_reason(
    datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(datasets / "scifact")
    assert main(suite(datasets, tmp_path, "--only", "cosqa", "--only", "memories")) == 0
    out = capsys.readouterr().out
    assert f"skipped cosqa: {datasets / 'cosqa'}: not found" in out
    assert "skipped memories: " in out and "SciFact's abstracts are the memories" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "/no/such/folder"], "--suite /no/such/folder: no such folder"),
        (["--suite", ".", "--only", "nope"], "--only nope: expected one of"),
        (["--suite", ".", "--queries", "3"], "--queries applies to --dataset, not --suite"),
        (["--dataset", ".", "--plot", "table.png"], "--plot applies to --suite"),
    ],
)
def test_suite_mistakes_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_question_is_answered_by_its_texts_or_its_file_and_page() -> None:
    memory = Question("q", "memory", ids=frozenset({"m1"}))
    page = Question("q", "file", sources=frozenset({"handbook.pdf"}), page=4)
    assert memory.answered_by(ScoredChunk("m1", "", 1.0)) and not memory.answered_by(
        ScoredChunk("m2", "", 1.0)
    )
    assert page.answered_by(ScoredChunk("c", "", 1.0, {"source": "handbook.pdf", "page": 4}))
    assert not page.answered_by(ScoredChunk("c", "", 1.0, {"source": "handbook.pdf", "page": 3}))
    assert not page.answered_by(ScoredChunk("c", "", 1.0, {"source": "faq.txt"}))
