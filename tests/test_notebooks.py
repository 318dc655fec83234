"""The notebooks run top to bottom on small inputs (nbclient), and are committed without outputs."""

from __future__ import annotations

import csv
import fnmatch
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, REPO, SHARED

nbformat = pytest.importorskip(
    "nbformat", reason="notebook tests need nbformat (pip install 'rag-index[notebooks]')"
)
nbclient = pytest.importorskip(
    "nbclient", reason="notebook tests need nbclient (pip install 'rag-index[notebooks]')"
)

NOTEBOOKS = REPO / "notebooks"
SCIFACT = SHARED / "datasets" / "scifact"
SEC_10Q = SHARED / "datasets" / "sec-10q"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (shared datasets) is not present")


def execute(name: str, parameters: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a notebook with its `parameters` cell replaced; returns the executed notebook."""
    # The inline backend draws with Agg into PNG outputs: no display needed, and the charts can be checked.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    client = nbclient.NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return book


def text_output(book: Any) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def images(book: Any) -> int:
    return sum("image/png" in o.get("data", {}) for c in book.cells for o in c.get("outputs", []))


def table(out: str, header: str) -> list[list[str]]:
    """The cells of the printed table whose header line starts with header, one list per row."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in code) == 1


def test_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    question = "How often should I clean the burrs of the grinder?"
    parameters = {"DATA": str(DATA), "STORE": str(tmp_path / "store"), "QUESTION": question, "K": 2}
    out = text_output(execute("01_quickstart.ipynb", parameters, monkeypatch))
    assert "1. [" in out and "handbook.pdf p.3" in out
    assert "Question: " + question in out and "-> (a real chat model would answer here)" in out


@needs_shared
def test_pooling_comparison_on_a_scifact_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {
        "DATASET": str(SCIFACT),
        "SPLIT": "test",
        "QUERIES": 5,
        "DISTRACTORS": 20,
        "POOLINGS": ["mean", "cls", "idf_mean", "mean+max"],
        "CACHE_DIR": str(tmp_path / "cache"),
    }
    book = execute("02_pooling_comparison.ipynb", parameters, monkeypatch)
    out = text_output(book)
    assert "26 documents, 5 queries" in out and "encoded 31 texts once for 4 pooling(s)" in out
    rows = table(out, "embedder.pooling  retrieval.search_type  ndcg@10  ref")
    assert [row[:2] for row in rows] == [
        [pooling, search] for pooling in parameters["POOLINGS"] for search in ("similarity", "hybrid")
    ]
    refs = {(row[0], row[1]): row[3] for row in rows}  # the ndcg@10 reference beside each row
    # The reference figures (dense search) stand beside the dense rows only, never beside a hybrid one.
    assert refs[("mean", "similarity")] == "0.6451" and refs[("cls", "similarity")] == "0.6063"
    assert all(refs[(pooling, "hybrid")] == "-" for pooling in parameters["POOLINGS"])
    assert refs[("idf_mean", "similarity")] == "-"  # no published figure
    assert images(book) == 1


@needs_shared
def test_learned_pooling_on_a_scifact_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {
        "DATASET": str(SCIFACT),
        "SPLIT": "train",
        "QUERIES": 10,
        "DISTRACTORS": 20,
        "KIND": "head",
        "EPOCHS": 2,
        "SEED": 0,
        "DEV_FRACTION": 0.3,
        "COMPARE": ["cls"],
        "STORE": str(tmp_path / "store"),
        "OUT": str(tmp_path / "head.safetensors"),
    }
    book = execute("06_learned_pooling.ipynb", parameters, monkeypatch)
    out = text_output(book)
    assert "7 train queries, 3 dev queries" in out
    rows = table(out, "epoch  dev_ndcg@10")
    assert rows[0][0] == "0" and len(rows) >= 2
    assert "fixed mean:" in out and "fixed cls:" in out and "kept epoch" in out
    assert (tmp_path / "head.safetensors").is_file() and images(book) == 1


def small_sec_10q(target: Path, files: tuple[str, ...] = ("2023 Q3 AAPL.pdf", "2023 Q3 NVDA.pdf")) -> Path:
    """A document-QA folder with the first pages of two real filings and the questions about them."""
    import pypdfium2

    (target / "docs").mkdir(parents=True)
    for name in files:
        source = pypdfium2.PdfDocument(SEC_10Q / "docs" / name)
        small = pypdfium2.PdfDocument.new()
        small.import_pages(source, pages=[0, 1, 2, 3])
        small.save(target / "docs" / name)
    with (SEC_10Q / "qna_data.csv").open(encoding="utf-8-sig", newline="") as rows:
        records = list(csv.DictReader(rows))
    with (target / "qna_data.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(r for r in records if any(fnmatch.fnmatch(f, r["Source Docs"]) for f in files))
    return target


@needs_shared
def test_chunking_comparison_on_a_sec_10q_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {
        "DATASET": str(small_sec_10q(tmp_path / "sec-10q")),
        "QUERIES": 6,
        "DISTRACTORS": 1,
        "STRATEGIES": ["recursive", "token"],
        "SIZES": [64, 128],
        "OVERLAPS": [0],
        "CACHE_DIR": None,
    }
    book = execute("03_chunking_comparison.ipynb", parameters, monkeypatch)
    out = text_output(book)
    assert (
        "2 documents, 6 queries; documents chunked; a document's score is the best score of its chunks" in out
    )
    rows = table(out, "chunking.strategy  chunking.size  chunking.overlap  retrieval.search_type  recall@5")
    assert [row[:4] for row in rows] == [
        [strategy, str(size), "0", search]
        for strategy in ("recursive", "token")
        for size in (64, 128)
        for search in ("similarity", "hybrid")
    ]
    assert all(len(row) == 10 for row in rows)  # 4 grid keys, 4 metrics, units, seconds: no ref column
    assert images(book) == 2  # recall@5 and mrr@10, each with a dense and a hybrid line per strategy


@needs_shared
def test_hybrid_search_on_subsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {
        "SCIFACT": str(SCIFACT),
        "SEC_10Q": str(small_sec_10q(tmp_path / "sec-10q")),
        "QUERIES": 5,
        "DISTRACTORS": 20,
        "ALPHAS": [0.0, 0.5, 1.0],
        "STORE": str(tmp_path / "store"),
    }
    book = execute("04_hybrid_search.ipynb", parameters, monkeypatch)
    out = text_output(book)
    assert "retrieval.search_type  ndcg@10" in out and "hybrid" in out and "lexical" in out
    assert "retrieval.search_type  retrieval.alpha  ndcg@10" in out
    assert images(book) == 2


def test_agent_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = text_output(execute("05_agent_memory.ipynb", {"STORE": str(tmp_path / "memory")}, monkeypatch))
    assert "texts in memory: 3" in out and "Ada asks for a drink -> I will make Ada a tea." in out
    assert "with recency:    ['ada-coffee'," in out
    assert "updated: The office kettle was repaired" in out and "forgot bob-car: []" in out
    assert "texts in memory: 5 | verify ok: True" in out  # 3 + 2 turns + 1, one forgotten
