"""What a learned pooling trains on: judged queries split into train and dev, and their relevant units."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from rag_index.errors import ConfigError

MIN_QUERIES = 4  # fewer judged queries leave no dev split to stop on


@dataclass(frozen=True)
class Judgments:
    """Judged queries (train, dev) and, for each, the indexes of its relevant units (documents or chunks)."""

    train: list[str]
    dev: list[str]
    relevant_units: dict[str, list[int]]  # query id -> units of documents graded > 0
    unit_docs: list[str]  # the document id of each unit


def split_queries(
    qrels: dict[str, dict[str, int]], unit_docs: Sequence[str], dev_fraction: float, seed: int
) -> Judgments:
    """Judged queries with at least one relevant unit, shuffled by seed, the last dev_fraction held out."""
    if not 0 < dev_fraction < 1:
        raise ConfigError(f"--dev-fraction: expected a number between 0 and 1, got {dev_fraction}")
    units_of: dict[str, list[int]] = {}
    for index, doc in enumerate(unit_docs):
        units_of.setdefault(doc, []).append(index)
    relevant = {}
    for qid, judged in qrels.items():
        units = [u for doc, grade in judged.items() if grade > 0 for u in units_of.get(doc, [])]
        if units:
            relevant[qid] = units
    queries = sorted(relevant)
    if len(queries) < MIN_QUERIES:
        raise ConfigError(
            f"--dataset: {len(queries)} judged queries with a relevant document found; "
            f"training needs at least {MIN_QUERIES}"
        )
    random.Random(seed).shuffle(queries)
    held = max(1, round(len(queries) * dev_fraction))
    return Judgments(queries[:-held], queries[-held:], relevant, list(unit_docs))
