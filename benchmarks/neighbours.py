"""Neighbour expansion: how often the answer is in the context handed to a generator, and at what length.

Run: python benchmarks/neighbours.py [--store DIR] [--limit N] [--set KEY=VALUE ...]
Indexes COVID-QA's 98 articles (../shared/datasets/covid-qa) into --store with the defaults (incremental: a
second run reuses the store), then asks each of its 1,380 questions under the default search (hybrid) with
k hits and `retrieval.neighbours` n, for k=5 with n 0, 1, 2 (and k=3 with n 1, 2), beside plain k=10 and
k=15: more context from more hits against more context from neighbours. For each: the share of questions
whose answer text (an extractive span of the article, compared lowercased with whitespace collapsed) lies
inside one returned passage, the share whose article is among the passages, and the mean context length
in characters and in the embedder's tokens. The ceiling is the share of answers found in their article's
own text. sec-10q is left out: its answers are written by annotators ("Based on the provided documents,
..."), not spans of the filings, so "the answer is in the context" cannot be checked by matching.
Prints the table and a final JSON line.
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path
from typing import Any

from _common import SHARED, emit, machine

from rag_index.api import RagIndex
from rag_index.storage.base import Query

COVID = SHARED / "datasets" / "covid-qa"
POINTS = [(5, 0), (5, 1), (5, 2), (3, 1), (3, 2), (10, 0), (15, 0)]  # (k, neighbours)
BATCH = 64  # questions embedded per call


def normal(text: str) -> str:
    """Lowercased, whitespace collapsed: a span matches across the line breaks a passage join adds."""
    return re.sub(r"\s+", " ", text).strip().lower()


def questions(folder: Path, limit: int | None) -> list[dict[str, str]]:
    """COVID-QA's questions with their answer span and article file name."""
    with (folder / "qna_data.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = [
            {"question": row["Question"], "answer": row["Answer"], "source": row["Source Docs"].strip()}
            for row in csv.DictReader(handle)
            if row["Answer"].strip()
        ]
    return rows[:limit] if limit else rows


def measure(index: RagIndex, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One row of figures per (k, neighbours) point."""
    retriever, embedder = index.retriever, index.embedder
    texts = [row["question"] for row in rows]
    vectors = [
        v
        for start in range(0, len(texts), BATCH)
        for v in embedder.encode_queries(texts[start : start + BATCH])
    ]
    table = []
    for k, n in POINTS:
        found = article = chars = tokens = passages = 0
        for row, vector in zip(rows, vectors, strict=True):
            hits = retriever.search_query(Query(row["question"], vector), k, neighbours=n)
            contexts = [normal(hit.text) for hit in hits]
            found += any(normal(row["answer"]) in context for context in contexts)
            article += any(Path(str(hit.metadata.get("source", ""))).name == row["source"] for hit in hits)
            chars += sum(len(hit.text) for hit in hits)
            tokens += sum(len(embedder.token_spans(hit.text)) for hit in hits)
            passages += len(hits)
        count = len(rows)
        table.append(
            {
                "k": k,
                "neighbours": n,
                "answer_in_context": round(found / count, 4),
                "article_in_context": round(article / count, 4),
                "mean_chars": round(chars / count),
                "mean_tokens": round(tokens / count),
                "mean_passages": round(passages / count, 2),
            }
        )
        print(_line(table[-1]), flush=True)
    return table


def ceiling(folder: Path, rows: list[dict[str, str]]) -> float:
    """The share of answers that appear in their own article's text (the most any context can reach)."""
    articles: dict[str, str] = {}
    hit = 0
    for row in rows:
        path = folder / "docs" / row["source"]
        if row["source"] not in articles:
            articles[row["source"]] = normal(path.read_text(encoding="utf-8")) if path.exists() else ""
        hit += normal(row["answer"]) in articles[row["source"]]
    return round(hit / len(rows), 4)


def _line(point: dict[str, Any]) -> str:
    return (
        f"| {point['k']} | {point['neighbours']} | {point['answer_in_context']:.4f} | "
        f"{point['article_in_context']:.4f} | {point['mean_chars']:,} | {point['mean_tokens']:,} | "
        f"{point['mean_passages']:.2f} |"
    )


def main() -> None:
    """Index COVID-QA (or reuse the store), ask every question at each point, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_store = Path(tempfile.gettempdir()) / "rag-index-bench-neighbours-covid-qa"
    parser.add_argument("--store", type=Path, default=default_store, help="kept between runs")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions only")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if not (COVID / "qna_data.csv").exists():
        print(f"skipped: {COVID} is missing (the shared datasets sit beside the repository)")
        emit({"benchmark": "neighbours", "skipped": f"{COVID} is missing"})
        return
    overrides = [*args.overrides, f"store.path={args.store}"]
    index = RagIndex.from_config(None, overrides)
    report = index.index(COVID / "docs")
    print(f"store {args.store}: {report.files_indexed} file(s) indexed, {report.files_unchanged} unchanged")
    rows = questions(COVID, args.limit)
    top = ceiling(COVID, rows)
    print(f"{len(rows)} questions; answer in its own article (ceiling): {top:.4f}")
    print("| k | neighbours | answer in context | article in context | chars | tokens | passages |")
    print("|---|---|---|---|---|---|---|")
    table = measure(index, rows)
    emit(
        {
            "benchmark": "neighbours",
            "dataset": "covid-qa",
            "questions": len(rows),
            "ceiling": top,
            "search_type": index.config.retrieval.search_type,
            "points": table,
            "machine": machine(),
            "skipped": {"sec-10q": "answers are written by annotators, not spans of the filings"},
        }
    )


if __name__ == "__main__":
    main()
