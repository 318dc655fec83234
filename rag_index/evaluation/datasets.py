"""Retrieval datasets: the BEIR layout and a document-QA layout (questions whose sources are file globs).

Every Document carries ``metadata["eval_id"]``, the unit relevance is judged at: the BEIR ``_id``, or the
file name for document-QA. Chunks inherit it, so a chunk's hits map back to its document.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_index.loaders import FORMATS, LoadError, LoadOptions, iter_files, load_file
from rag_index.types import Document

log = logging.getLogger(__name__)

QNA_FILE = "qna_data.csv"
QNA_QUESTION, QNA_SOURCES = "Question", "Source Docs"


class DatasetError(Exception):
    """A dataset folder that is missing or not in a known layout; the message says what was expected."""


@dataclass(frozen=True)
class RetrievalDataset:
    """Queries, graded judgments and a corpus whose documents are loaded on demand."""

    name: str
    layout: str  # "beir" or "document_qa"
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    corpus_ids: tuple[str, ...]
    fingerprint: dict[str, Any]
    load: Callable[[Sequence[str]], Iterator[Document]] = field(repr=False, compare=False)

    def documents(self) -> Iterator[Document]:
        """The corpus, in corpus_ids order (several Documents per id for multi-page files)."""
        return self.load(self.corpus_ids)

    @property
    def whole_documents_by_default(self) -> bool:
        """BEIR documents are short and embedded whole, as BEIR does; files are chunked."""
        return self.layout == "beir"


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise DatasetError(f"{path}:{number}: not valid JSON ({err.msg})") from None


def load_beir(path: Path, split: str = "test") -> RetrievalDataset:
    """A BEIR folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv; documents are title + " " + text."""
    qrels_path = path / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (path / "qrels").glob("*.tsv"))
        raise DatasetError(f"{qrels_path}: no such split; available: {', '.join(splits) or 'none'}")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as rows:
        for row in csv.reader(rows, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":  # the header line
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    all_queries = {str(q["_id"]): str(q["text"]) for q in _read_jsonl(path / "queries.jsonl")}
    queries = {qid: all_queries[qid] for qid in qrels if qid in all_queries}
    corpus: dict[str, Document] = {}
    for doc in _read_jsonl(path / "corpus.jsonl"):
        doc_id = str(doc["_id"])
        # BEIR's own encoders embed (title + " " + text).strip().
        text = (str(doc.get("title") or "") + " " + str(doc.get("text") or "")).strip()
        corpus[doc_id] = Document(id=doc_id, text=text, metadata={"eval_id": doc_id, "source": doc_id})

    def load(ids: Sequence[str]) -> Iterator[Document]:
        return (corpus[doc_id] for doc_id in ids)

    fingerprint = {
        "layout": "beir",
        "name": path.name,
        "split": split,
        "sha256": _sha256(path / "corpus.jsonl", path / "queries.jsonl", qrels_path),
    }
    return RetrievalDataset(path.name, "beir", split, queries, qrels, tuple(corpus), fingerprint, load)


def load_document_qa(path: Path, pdf_backend: str = "pypdfium2") -> RetrievalDataset:
    """A folder with qna_data.csv (Question, Source Docs globs) and the files under docs/."""
    csv_path, docs = path / QNA_FILE, path / "docs"
    files = sorted(p.relative_to(docs).as_posix() for p in iter_files(docs, ["**/*"], [], sorted(FORMATS)))
    if not files:
        raise DatasetError(f"{docs}: no documents to index")
    with csv_path.open(encoding="utf-8-sig", newline="") as rows:
        records = list(csv.DictReader(rows))
    if records and not {QNA_QUESTION, QNA_SOURCES} <= set(records[0]):
        raise DatasetError(f"{csv_path}: expected columns {QNA_QUESTION!r} and {QNA_SOURCES!r}")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for number, record in enumerate(records, 1):
        qid = f"q{number}"
        queries[qid] = record[QNA_QUESTION]
        # Source Docs holds one or more comma-separated globs of file names, e.g. "*2023 Q3 AAPL*".
        globs = [g.strip() for g in record[QNA_SOURCES].split(",") if g.strip()]
        qrels[qid] = {name: 1 for name in files if any(fnmatch.fnmatch(name, g) for g in globs)}
        if not qrels[qid]:
            log.warning("%s row %d: %r matches no file under %s", csv_path.name, number + 1, globs, docs)

    def load(ids: Sequence[str]) -> Iterator[Document]:
        for name in ids:
            try:
                pages = load_file(docs / name, docs, LoadOptions(pdf_backend=pdf_backend))
            except LoadError as err:
                log.warning("skipped %s: %s", name, err)
                continue
            for page in pages:
                yield dataclasses.replace(page, metadata={**page.metadata, "eval_id": name})

    fingerprint = {
        "layout": "document_qa",
        "name": path.name,
        "split": "all",
        "pdf_backend": pdf_backend,
        "sha256": _sha256(csv_path, *(docs / name for name in files)),
    }
    return RetrievalDataset(path.name, "document_qa", "all", queries, qrels, tuple(files), fingerprint, load)


def load_dataset(path: str | Path, split: str = "test", pdf_backend: str = "pypdfium2") -> RetrievalDataset:
    """The dataset at path, in the BEIR layout or the document-QA layout (qna_data.csv + docs/)."""
    root = Path(path)
    if root.is_file() and root.suffix == ".csv":
        root = root.parent
    if (root / "corpus.jsonl").is_file():
        return load_beir(root, split)
    if (root / QNA_FILE).is_file() and (root / "docs").is_dir():
        return load_document_qa(root, pdf_backend)
    raise DatasetError(
        f"{root}: not a dataset folder; expected corpus.jsonl, queries.jsonl and qrels/<split>.tsv (BEIR), "
        f"or {QNA_FILE} with a docs/ folder (document QA)"
    )


def subset(
    dataset: RetrievalDataset, queries: int | None = None, distractors: int | None = None, seed: int = 0
) -> RetrievalDataset:
    """The first `queries` judged queries, their relevant documents and `distractors` random others.

    None keeps everything of that kind. The subset is part of the fingerprint, so caches never mix.
    """
    kept = [qid for qid in dataset.queries if qid in dataset.qrels][:queries]
    qrels = {qid: dataset.qrels[qid] for qid in kept}
    relevant = {doc for judged in qrels.values() for doc in judged}
    others = [doc for doc in dataset.corpus_ids if doc not in relevant]
    if distractors is not None:
        others = sorted(random.Random(seed).sample(others, min(distractors, len(others))))
    keep = relevant.union(others)
    corpus_ids = tuple(doc for doc in dataset.corpus_ids if doc in keep)
    fingerprint = {
        **dataset.fingerprint,
        "subset": {"queries": queries, "distractors": distractors, "seed": seed},
    }
    return dataclasses.replace(
        dataset,
        queries={qid: dataset.queries[qid] for qid in kept},
        qrels=qrels,
        corpus_ids=corpus_ids,
        fingerprint=fingerprint,
    )
