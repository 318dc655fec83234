"""Stores that mix indexed files with texts added through the API (agent memory), searched as users do.

Each case indexes a folder (or none) with the real index run, adds texts with the real text writer, and
asks its questions through the configured retriever, one point's `retrieval:` options at a time: retrieval
settings are read at query time, so every point searches the same store. A question is answered when the
first hit is one of its relevant chunks: a text it names by id, or a file (and page) it names.

The cases come from data the project has: SciFact's abstracts as memories and its test claims as
questions; the 20 10-Q filings and the sample corpus (data/) as files; data/memories.json, twelve agent
memories with paraphrased questions, beside the sample corpus.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from rag_index.build import build_lexical, build_retriever, build_store
from rag_index.config import Config, with_values
from rag_index.evaluation.datasets import load_beir, load_document_qa
from rag_index.index.local import index_with_config
from rag_index.index.memory import TextWriter
from rag_index.types import Embedder, ScoredChunk

TEXT_BATCH = 512  # texts per add: one lock, one Chroma upsert and one lexical commit each
DEPTH = 10  # hits asked per question: hit@1 and mrr@10
MIXED_CASES = ("memories", "memories+filings", "texts+sample", "sample+memories")


@dataclass(frozen=True)
class Question:
    """A question and what answers it: texts by id, or a file (and page) by name."""

    text: str
    kind: str  # "memory" or "file": reported apart
    ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    page: int | None = None

    def answered_by(self, hit: ScoredChunk) -> bool:
        """Whether hit is one of the chunks this question asks for."""
        if self.kind == "memory":
            return hit.id in self.ids
        if str(hit.metadata.get("source")) not in self.sources:
            return False
        return self.page is None or hit.metadata.get("page") == self.page


@dataclass(frozen=True)
class MixedCase:
    """A store of files and texts, and the questions asked of it."""

    name: str
    description: str
    folder: Path | None
    texts: list[tuple[str, str]]  # (id, text), added through the text writer after the folder is indexed
    questions: list[Question] = field(default_factory=list)

    def digest(self, config: Config) -> str:
        """What the store holds: the folder's files, the texts and every setting that shapes their chunks."""
        blob = hashlib.sha256()
        if self.folder is not None:
            for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
                blob.update(
                    f"{path.relative_to(self.folder)}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode()
                )
        blob.update(json.dumps(self.texts).encode("utf-8"))
        settings = config.model_dump(include={"loader", "chunking", "embedder"})  # lexical: rebuilt in place
        blob.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
        return blob.hexdigest()[:24]


class _RememberingEmbedder:
    """The embedder, keeping the vectors of documents it embedded: cases sharing texts embed them once."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            self._vectors.update(zip(todo, self._embedder.encode_documents(todo), strict=True))
        return np.stack([self._vectors[t] for t in texts])


def build_case(case: MixedCase, config: Config, embedder: Embedder, root: Path, progress: bool) -> Config:
    """The case's store under root (built once: a finished store is marked and reused); its config."""
    path = root / f"{case.name}-{case.digest(config)}"
    config = with_values(
        config, {"store.path": str(path), "store.collection": "mixed", "store.mode": "embedded"}
    )
    done = path / "complete"
    store = build_store(config.store)
    writer = TextWriter(embedder, store, build_lexical(config.lexical, store))
    if done.is_file():
        writer.create()  # brings the lexical index in step with its settings (rebuilt from the stored texts)
        return config
    if case.folder is not None:
        index_with_config(
            case.folder, config, recreate=True, progress=progress, load_embedder=lambda: embedder
        )
    writer.create()
    for start in range(0, len(case.texts), TEXT_BATCH):
        batch = case.texts[start : start + TEXT_BATCH]
        writer.add([text for _, text in batch], ids=[id_ for id_, _ in batch])
    done.write_text("built\n", encoding="utf-8")
    return config


def score_case(
    case: MixedCase, config: Config, embedder: Embedder, points: Sequence[Config]
) -> list[dict[str, Any]]:
    """Per point, per kind of question: hit@1 (the first hit answers it), hit@5 and mrr@10."""
    store = build_store(config.store)
    store.open(embedder.fingerprint, create=False)
    lexical = build_lexical(config.lexical, store)
    rows = []
    for point in points:
        retriever = build_retriever(point.retrieval, embedder, store, lexical)
        ranks: dict[str, list[int | None]] = {}
        for question in case.questions:
            hits = retriever.search(question.text, k=max(DEPTH, point.retrieval.k))[:DEPTH]
            rank = next((i for i, hit in enumerate(hits, 1) if question.answered_by(hit)), None)
            ranks.setdefault(question.kind, []).append(rank)
        row: dict[str, Any] = {}
        for kind, found in ranks.items():
            row[f"{kind}_hit@1"] = sum(r == 1 for r in found) / len(found)
            row[f"{kind}_hit@5"] = sum(r is not None and r <= 5 for r in found) / len(found)
            row[f"{kind}_mrr@10"] = sum(1 / r for r in found if r is not None) / len(found)
            row[f"{kind}_questions"] = len(found)
        rows.append(row)
    return rows


def sample_questions(sample: Path) -> list[Question]:
    """data/questions.json: each question with the file (and page) that answers it."""
    items = json.loads((sample / "questions.json").read_text(encoding="utf-8"))
    return [Question(q["question"], "file", sources=frozenset([q["source"]]), page=q["page"]) for q in items]


def sample_memories(sample: Path) -> tuple[list[tuple[str, str]], list[Question]]:
    """data/memories.json: twelve agent memories, each with a paraphrased question that it answers."""
    items = json.loads((sample / "memories.json").read_text(encoding="utf-8"))
    texts = [(m["id"], m["text"]) for m in items]
    return texts, [Question(m["question"], "memory", ids=frozenset([m["id"]])) for m in items]


def mixed_cases(datasets: Path, sample: Path | None) -> tuple[list[MixedCase], dict[str, str]]:
    """The cases whose data is there, and for each one left out the reason."""
    cases: list[MixedCase] = []
    skipped: dict[str, str] = {}
    scifact, filings = datasets / "scifact", datasets / "sec-10q"
    claims: list[Question] = []
    abstracts: list[tuple[str, str]] = []
    judged: set[str] = set()
    if (scifact / "corpus.jsonl").is_file():
        beir = load_beir(scifact)
        abstracts = [(f"scifact-{doc.metadata['eval_id']}", doc.text) for doc in beir.documents()]
        for qid, relevant in beir.qrels.items():
            ids = frozenset(f"scifact-{d}" for d, grade in relevant.items() if grade > 0)
            claims.append(Question(beir.queries[qid], "memory", ids=ids))
            judged |= ids
        cases.append(
            MixedCase(
                "memories", "SciFact's abstracts as texts, its claims as questions", None, abstracts, claims
            )
        )
    else:
        skipped["memories"] = f"{scifact}: not found (SciFact's abstracts are the memories)"
    if not abstracts:
        skipped["memories+filings"] = skipped["texts+sample"] = skipped["memories"]
    elif not (filings / "docs").is_dir():
        skipped["memories+filings"] = f"{filings / 'docs'}: not found (the 10-Q filings are the files)"
    else:
        qa = load_document_qa(filings)
        files = [
            Question(qa.queries[qid], "file", sources=frozenset(d for d, g in judged_files.items() if g > 0))
            for qid, judged_files in qa.qrels.items()
        ]
        answers = [(id_, text) for id_, text in abstracts if id_ in judged]
        description = "the abstracts that answer SciFact's claims as texts, beside the 20 10-Q filings"
        cases.append(MixedCase("memories+filings", description, filings / "docs", answers, claims + files))
    if sample is None or not (sample / "questions.json").is_file():
        reason = "the sample corpus (data/ of a source checkout) is not there"
        skipped["texts+sample"] = skipped.get("texts+sample", reason)
        skipped["sample+memories"] = reason
        return cases, skipped
    questions = sample_questions(sample)
    if abstracts:
        description = "the sample corpus's 6 files among SciFact's 5,183 abstracts added as texts"
        cases.append(MixedCase("texts+sample", description, sample, abstracts, questions))
    memories, recall = sample_memories(sample)
    description = "the sample corpus with 12 agent memories; its questions, the demo's, and the memories'"
    cases.append(MixedCase("sample+memories", description, sample, memories, questions + recall))
    return cases, skipped


def remembering(embedder: Embedder) -> Embedder:
    """embedder, keeping the vectors of the documents it embeds (for cases that share texts)."""
    return cast(Embedder, _RememberingEmbedder(embedder))  # the rest of Embedder: through __getattr__
