"""The quality suite: every shape of data rag-index serves, scored for each point of a grid in one table.

- BEIR (abstracts, code): nDCG@10 over whole documents.
- Document QA (filings, long articles): MRR@10 of the first chunk of a relevant file.
- Stores that mix files and agent memories (rag_index.evaluation.mixed): hit@1, the share of questions
  whose first hit answers them, for memory questions and file questions apart.

Queries ask for what a user's query fetches: the configured fetch_k candidates per side (hybrid), however
many documents the metric ranks. Forward passes and stores are cached, so a grid over `retrieval.*`
costs searches only. A dataset whose folder is absent is left out with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_index.build import build_embedder
from rag_index.evaluation.cache import EvalCache
from rag_index.evaluation.datasets import DatasetError, load_dataset
from rag_index.evaluation.mixed import MIXED_CASES, build_case, mixed_cases, remembering, score_case
from rag_index.evaluation.runner import EvalError, EvalPoint, evaluate_points

# (folder, shape, main metric): BEIR sets rank whole documents, document-QA sets files by their best chunk
RANKED = (
    ("scifact", "abstracts", "ndcg@10"),
    ("cranfield", "abstracts", "ndcg@10"),
    ("cisi", "abstracts", "ndcg@10"),
    ("med", "abstracts", "ndcg@10"),
    ("cosqa", "code search", "ndcg@10"),
    ("sec-10q", "document QA: filings", "mrr@10"),
    ("covid-qa", "document QA: long articles", "mrr@10"),
)
EXTRA = {"sec-10q": ("recall@5",)}  # a target of its own (issue 29)


@dataclass
class SuiteRow:
    """One dataset (or one kind of question of a mixed store) and metric, with a value per point."""

    dataset: str
    shape: str
    metric: str
    values: list[float]
    questions: int


@dataclass
class SuiteReport:
    """The suite's rows for each point, and the datasets left out with why."""

    points: list[dict[str, Any]]
    rows: list[SuiteRow] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def mean(self, point: int, shapes: Sequence[str] = ("abstracts", "code search", "document QA")) -> float:
        """The mean of the main metric over the ranked datasets (BEIR and document QA) for one point."""
        values = [
            r.values[point] for r in self.rows if r.shape.startswith(tuple(shapes)) and r.metric in _MAIN
        ]
        return sum(values) / len(values) if values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the points, one object per row, the ranked datasets' means, the skipped."""
        return {
            "points": self.points,
            "rows": [vars(row) for row in self.rows],
            "mean_ranked": [self.mean(i) for i in range(len(self.points))],
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteReport:
        """The report again from to_dict()'s object (`rag-index eval --suite --json`), e.g. to chart it."""
        rows = [SuiteRow(**row) for row in data["rows"]]
        return cls([dict(point) for point in data["points"]], rows, dict(data.get("skipped", {})))

    def table(self) -> str:
        """One line per row, one column per point; the ranked datasets' mean last."""
        labels = [", ".join(f"{k}={v}" for k, v in p.items()) or "config" for p in self.points]
        header = ["dataset", "shape", "metric", "n", *labels]
        lines = [
            [r.dataset, r.shape, r.metric, str(r.questions), *(f"{v:.4f}" for v in r.values)]
            for r in self.rows
        ]
        if any(r.metric in _MAIN for r in self.rows):
            means = [f"{self.mean(i):.4f}" for i in range(len(self.points))]
            lines.append(["mean", "BEIR and document QA", "main", "", *means])
        widths = [max(len(c) for c in column) for column in zip(header, *lines, strict=True)]
        text = [
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in [header, *lines]
        ]
        text += [f"skipped {name}: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(text)


_MAIN = {"ndcg@10", "mrr@10"}


def sample_folder() -> Path | None:
    """The sample corpus (data/) of a source checkout, or None in an installed package."""
    folder = Path(__file__).resolve().parents[2] / "data"
    return folder if (folder / "questions.json").is_file() else None


def run_suite(
    datasets: Path,
    points: Sequence[EvalPoint],
    root: Path,
    cache: EvalCache | None = None,
    progress: bool = True,
    sample: Path | None = None,
    names: Sequence[str] = (),
) -> SuiteReport:
    """Score every point on every dataset of the suite found under datasets (and the sample corpus).

    root holds the collections and mixed stores (kept for the next run); cache the forward passes and
    results. names: only these datasets and cases.
    """
    if not points:
        raise EvalError("the suite needs at least one point")
    known = {name for name, _, _ in RANKED} | set(MIXED_CASES)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EvalError(f"--only {', '.join(unknown)}: expected one of {', '.join(sorted(known))}")
    report = SuiteReport([dict(p.params) for p in points])
    for name, shape, metric in RANKED:
        if names and name not in names:
            continue
        path = datasets / name
        if not path.is_dir():
            report.skipped[name] = f"{path}: not found"
            continue
        try:
            dataset = load_dataset(path, "test", points[0].config.loader.pdf_backend)
        except DatasetError as err:
            report.skipped[name] = str(err)
            continue
        metrics = (metric, *EXTRA.get(name, ()))
        result = evaluate_points(
            dataset,
            points,
            None,
            cache,
            metrics,
            progress,
            "chroma",
            root / "eval-collections",
            widen=False,
        )
        for m in metrics:
            values = [r.metrics[m] for r in result.results]
            report.rows.append(SuiteRow(name, shape, m, values, result.queries))
    cases, skipped = mixed_cases(datasets, sample)
    report.skipped.update((n, r) for n, r in skipped.items() if not names or n in names)
    embedders: dict[str, Any] = {}
    for case in cases:
        if names and case.name not in names:
            continue
        per_point: list[dict[str, Any]] = []
        for point in points:
            config = point.config
            key = config.embedder.model_dump_json()
            if key not in embedders:
                embedders[key] = remembering(build_embedder(config.embedder))
            embedder = embedders[key]
            built = build_case(case, config, embedder, root / "mixed", progress)
            per_point += score_case(case, built, embedder, [config])
        for kind in ("memory", "file"):
            if f"{kind}_hit@1" in per_point[0]:
                values = [row[f"{kind}_hit@1"] for row in per_point]
                shape = f"mixed store, {kind} questions"
                report.rows.append(
                    SuiteRow(case.name, shape, "hit@1", values, per_point[0][f"{kind}_questions"])
                )
    return report
