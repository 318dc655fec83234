"""Retrieval evaluation: metrics, BEIR and document-QA datasets, grid runs (for the CLI and notebooks)."""

from rag_index.evaluation.cache import EvalCache
from rag_index.evaluation.datasets import DatasetError, RetrievalDataset, load_dataset, subset
from rag_index.evaluation.metrics import DEFAULT_METRICS, evaluate, per_query
from rag_index.evaluation.reference import SCIFACT_REFERENCE
from rag_index.evaluation.runner import (
    EvalError,
    EvalPoint,
    EvalReport,
    evaluate_points,
    exact_search,
    grid_points,
    run_eval,
)

__all__ = [
    "DEFAULT_METRICS",
    "SCIFACT_REFERENCE",
    "DatasetError",
    "EvalCache",
    "EvalError",
    "EvalPoint",
    "EvalReport",
    "RetrievalDataset",
    "evaluate",
    "evaluate_points",
    "exact_search",
    "grid_points",
    "load_dataset",
    "per_query",
    "run_eval",
    "subset",
]
