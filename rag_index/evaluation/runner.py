"""Run a dataset's queries against every point of a config grid and score the rankings.

Search "chroma" (the default) writes each pooling's units into its own Chroma collection (and, for
lexical and hybrid search, its own lexical index) and asks the same Retriever `rag-index query` uses, with
every `retrieval:` option of the point; the HNSW index is built with ef_search/ef_construction high enough
to match exact search on these corpora. Search "exact" is exact cosine similarity in numpy, as the BEIR
and MTEB reference figures are (similarity search only). Points that differ only in pooling or retrieval
options share one forward pass per batch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag_index.build import build_chunker, build_embedder
from rag_index.config import Config, load_config, parse_override, with_values
from rag_index.embed.embedder import PoolingEmbedder
from rag_index.evaluation.cache import EvalCache
from rag_index.evaluation.datasets import RetrievalDataset
from rag_index.evaluation.metrics import DEFAULT_METRICS, evaluate, parse_metric
from rag_index.index.progress import Meter
from rag_index.search.retriever import Retriever
from rag_index.storage.base import Query
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import ENGINE, LEXICAL_SUFFIX, LexicalIndex
from rag_index.types import Chunk

ENCODE_BLOCK = 512  # texts per encode_pooled call: a progress step; batches inside stay length-sorted
QUERY_BLOCK = 256  # queries scored together: bounds the [queries, units] similarity matrix
CACHE_VERSION = 4  # bump when the way results are computed changes
SEARCHES = ("chroma", "exact")
# Wide HNSW beams: on corpora of this size the approximate index then returns the exact neighbours,
# so the figures measure the embedding, not the index (Chroma's defaults are 100 and 100).
EVAL_HNSW = {"ef_search": 200, "ef_construction": 200}
CHUNK_HEADROOM = 4  # chunked: fetch 4x depth chunks, as a document scores its best chunk


class EvalError(Exception):
    """An evaluation that cannot run as asked; the message says why."""


@dataclass(frozen=True)
class EvalPoint:
    """One point of a grid: the values set for it, and the full config they give."""

    params: dict[str, Any]
    config: Config


@dataclass
class PointResult:
    """The metrics of one grid point."""

    params: dict[str, Any]
    pooling: str
    metrics: dict[str, float]
    units: int  # documents or chunks embedded
    encode_seconds: float  # the shared forward pass that produced this point (0 when cached)
    cached: bool

    def matches(self, settings: Mapping[str, Any] | None) -> bool:
        """Whether the point's grid values include every one of settings (None: any point)."""
        return all(key in self.params and self.params[key] == v for key, v in (settings or {}).items())

    def row(self) -> dict[str, Any]:
        """A flat JSON-ready row: params, metrics, units, seconds, cached."""
        return {
            **self.params,
            **self.metrics,
            "units": self.units,
            "seconds": self.encode_seconds,
            "cached": self.cached,
        }


@dataclass
class EncodePass:
    """One forward pass over the corpus and queries, shared by the poolings listed."""

    poolings: list[str]
    texts: int
    seconds: float
    truncated: int  # texts cut to embedder.max_length


@dataclass
class EvalReport:
    """Everything an evaluation printed: what was measured, how, and the results."""

    dataset: str
    split: str
    queries: int
    documents: int
    whole_documents: bool
    search: str = "chroma"
    results: list[PointResult] = field(default_factory=list)
    passes: list[EncodePass] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one point's metrics at the top level; a grid's points under "points"."""
        head = {
            "dataset": self.dataset,
            "split": self.split,
            "queries": self.queries,
            "documents": self.documents,
            "search": self.search,
            "document_score": "whole document" if self.whole_documents else "best chunk",
            "passes": [asdict(p) for p in self.passes],
        }
        if len(self.results) == 1:
            return {**head, **self.results[0].row()}
        return {**head, "points": [r.row() for r in self.results]}

    def describe(self) -> str:
        """The lines printed above the table: data, scoring rule, forward passes."""
        unit = (
            "documents embedded whole (truncated to embedder.max_length, as BEIR does)"
            if self.whole_documents
            else "documents chunked; a document's score is the best score of its chunks"
        )
        lines = [
            f"dataset {self.dataset} ({self.split}): {self.documents} documents, {self.queries} queries; "
            f"{unit}; {_SEARCH_LABEL[self.search]}"
        ]
        for p in self.passes:
            lines.append(
                f"encoded {p.texts} texts once for {len(p.poolings)} pooling(s) ({', '.join(p.poolings)}) "
                f"in {p.seconds:.1f} s; {p.truncated} text(s) truncated to embedder.max_length"
            )
        return "\n".join(lines)

    def table(
        self,
        metrics: Sequence[str] = ("ndcg@10", "recall@5", "recall@10", "recall@100", "mrr@10", "map@100"),
        reference: Mapping[str, Mapping[str, float]] | None = None,
        reference_for: Mapping[str, Any] | None = None,
    ) -> str:
        """One row per grid point: parameters, metrics, units embedded, seconds of its forward pass.

        reference ({pooling: {metric: value}}) adds a "ref" column beside each metric it has.
        reference_for ({grid key: value}): what the reference was measured with; only rows with those grid
        values show it, e.g. {"retrieval.search_type": "similarity"} for BEIR figures (dense search).
        """
        keys = list(self.results[0].params) if self.results else []
        compared = [m for m in metrics if reference and any(m in ref for ref in reference.values())]
        header = [
            *keys,
            *(c for m in metrics for c in ([m, "ref"] if m in compared else [m])),
            "units",
            "seconds",
        ]
        rows = []
        for r in self.results:
            ref = (reference or {}).get(r.pooling, {}) if r.matches(reference_for) else {}
            cells = [f"{r.metrics[m]:.4f}" for m in metrics]
            if compared:
                cells = [
                    c
                    for m, cell in zip(metrics, cells, strict=True)
                    for c in ([cell, f"{ref[m]:.4f}" if m in ref else "-"] if m in compared else [cell])
                ]
            seconds = "cached" if r.cached else f"{r.encode_seconds:.1f}"
            rows.append([*(str(r.params[k]) for k in keys), *cells, str(r.units), seconds])
        widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in [header, *rows]
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per grid point (params, metrics, units, seconds, cached), e.g. for pandas."""
        return [r.row() for r in self.results]


_SEARCH_LABEL = {"chroma": "Chroma HNSW cosine search", "exact": "exact cosine search"}


def grid_points(config_path: str | None, overrides: Sequence[str], grid: Sequence[str]) -> list[EvalPoint]:
    """The product of --grid KEY=V1,V2,... values, each applied over the config and --set overrides."""
    axes: list[tuple[str, list[str]]] = []
    for spec in grid:
        key, _ = parse_override(spec)
        values = [v.strip() for v in spec.partition("=")[2].split(",") if v.strip()]
        if not values:
            raise EvalError(f"--grid {spec!r}: expected KEY=V1,V2,..., for example embedder.pooling=mean,cls")
        if key in (k for k, _ in axes):
            raise EvalError(f"--grid {key}: given twice; list all its values in one --grid")
        axes.append((key, values))
    points = []
    for combo in itertools.product(*(values for _, values in axes)):
        assigned = [f"{key}={value}" for (key, _), value in zip(axes, combo, strict=True)]
        config = load_config(config_path, [*overrides, *assigned])
        points.append(EvalPoint(dict(parse_override(a) for a in assigned), config))
    return points


def _shared_key(config: Config) -> str:
    """What points must agree on to share one forward pass: everything but the pooling."""
    data = config.model_dump(include={"loader", "chunking", "embedder"})
    data["embedder"].pop("pooling")
    return json.dumps(data, sort_keys=True, default=str)


def encode_blocks(
    embedder: PoolingEmbedder, texts: Sequence[str], poolings: Sequence[str], desc: str, progress: bool
) -> dict[str, np.ndarray]:
    """encode_pooled over texts in length-sorted blocks, with a progress bar; vectors in texts order."""
    order = np.argsort([-len(text) for text in texts], kind="stable")
    out: dict[str, np.ndarray] = {}
    with Meter(desc, "text", len(texts), progress) as bar:
        for start in range(0, len(texts), ENCODE_BLOCK):
            rows = order[start : start + ENCODE_BLOCK]
            for name, vectors in embedder.encode_pooled([texts[i] for i in rows], poolings).items():
                out.setdefault(name, np.empty((len(texts), vectors.shape[1]), dtype=np.float32))[rows] = (
                    vectors
                )
            bar.update(len(rows))
    return out


@contextmanager
def _one_truncation_count() -> Iterator[None]:
    """Silence the embedder's per-call truncation warning: the pass reports the total once."""
    logger = logging.getLogger("rag_index.embed.embedder")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _unit_normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def exact_search(
    query_ids: Sequence[str],
    query_vectors: np.ndarray,
    unit_vectors: np.ndarray,
    unit_docs: Sequence[str],
    depth: int,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """The `depth` best documents per query by cosine similarity; a document scores its best unit."""
    doc_ids = sorted(set(unit_docs))
    index = {doc: i for i, doc in enumerate(doc_ids)}
    groups = np.array([index[doc] for doc in unit_docs])
    order = np.argsort(groups, kind="stable")  # units of one document side by side, for reduceat
    starts = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1]])
    units = _unit_normalized(unit_vectors[order])
    queries = _unit_normalized(query_vectors)
    depth = min(depth, len(doc_ids))
    run: dict[str, dict[str, float]] = {}
    with Meter("searching", "query", len(query_ids), progress) as meter:
        for start in range(0, len(query_ids), QUERY_BLOCK):
            similarity = queries[start : start + QUERY_BLOCK] @ units.T
            scores = np.maximum.reduceat(similarity, starts, axis=1)  # [queries, documents]: best unit
            top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
            for row, qid in enumerate(query_ids[start : start + QUERY_BLOCK]):
                run[qid] = {doc_ids[d]: float(scores[row, d]) for d in top[row]}
            meter.update(len(top))
    return run


def collection_name(key: Mapping[str, Any]) -> str:
    """A Chroma collection name (3-512 of [a-zA-Z0-9._-]) that is a digest of a point's cache key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return f"eval-{digest[:40]}"


def index_units(
    store: ChromaStore,
    lexical: LexicalIndex | None,
    unit_texts: Sequence[str],
    unit_vectors: np.ndarray,
    unit_docs: Sequence[str],
    fingerprint: dict[str, Any],
    unit_paths: Sequence[str] | None = None,
) -> None:
    """Write the units into store's (re)created collection, and into the (reset) lexical index if given.

    A collection already holding them (its name is a digest of everything that made them) is kept, and so
    is its lexical index while its settings stay the same. unit_paths: each unit's heading path ("" none).
    """
    paths = unit_paths or [""] * len(unit_texts)
    kept = store.stored_fingerprint() == fingerprint
    if kept:
        store.attach()
        kept = store.count() == len(unit_texts)
    chunks = [
        Chunk(f"u{i}", doc, text, 0, len(text), {"source": doc, **({"header_path": path} if path else {})})
        for i, (text, doc, path) in enumerate(zip(unit_texts, unit_docs, paths, strict=True))
    ]
    if not kept:
        store.open(fingerprint, recreate=True)
        # Chroma keeps no text (scoring does not need it, and it slows the upsert); the lexical index does.
        # Both keep the source, as in an index run: hybrid search weighs each hit's file by it.
        bare = [Chunk(c.id, c.doc_id, "", 0, 0, c.metadata) for c in chunks]
        store.upsert(bare, _unit_normalized(unit_vectors))
    if lexical is not None and not (kept and lexical.describes(store.collection_id)):
        lexical.reset()
        lexical.upsert(chunks)
        lexical.mark(store.collection_id)


def retriever_search(
    retriever: Retriever,
    query_ids: Sequence[str],
    query_texts: Sequence[str],
    query_vectors: np.ndarray,
    units: int,
    documents: int,
    depth: int,
    widen: bool = True,
) -> dict[str, dict[str, float]]:
    """The `depth` best documents per query, asked of the retriever as users ask it; a document scores
    its best unit.

    With several units per document, CHUNK_HEADROOM x depth units are fetched, so a query whose top
    units crowd into few documents may rank fewer than depth documents. Search types that fetch
    candidates first (mmr, hybrid) fetch at least as many (widen), or keep the configured fetch_k and
    return at most that many units (not widen: the candidates a user's query fuses).
    """
    depth = min(depth, documents)
    fetch = min(units, depth if documents == units else depth * CHUNK_HEADROOM)
    fetch_k = max(retriever.fetch_k, fetch)
    if not widen:
        fetch_k = retriever.fetch_k
        fetch = min(fetch, fetch_k) if retriever.search_type in ("mmr", "hybrid") else fetch
    queries = _unit_normalized(query_vectors)
    run: dict[str, dict[str, float]] = {}
    for qid, text, vector in zip(query_ids, query_texts, queries, strict=True):
        best: dict[str, float] = {}
        for hit in retriever.search_query(Query(text, vector), k=fetch, fetch_k=fetch_k):
            doc = str(hit.metadata["doc_id"])
            best[doc] = max(best.get(doc, -np.inf), hit.score)
        run[qid] = dict(sorted(best.items(), key=lambda item: -item[1])[:depth])
    return run


def _judged(dataset: RetrievalDataset) -> list[str]:
    """The queries that are scored: those with at least one relevant document (as trec_eval)."""
    return [qid for qid, judged in dataset.qrels.items() if any(grade > 0 for grade in judged.values())]


class Units(NamedTuple):
    """What an evaluation indexes, one entry per unit (a whole document or a chunk)."""

    embedded: list[str]  # the texts to embed
    stored: list[str]  # the texts as stored
    docs: list[str]  # the document id of each
    header_paths: list[str]  # the heading path of each ("" where none)


def units(dataset: RetrievalDataset, config: Config, embedder: PoolingEmbedder, whole: bool) -> Units:
    """Whole documents, or the configured chunks, as an index run would write them.

    A chunk is embedded as an index run embeds it (with its file's name when chunking.file_names is on,
    its heading path when chunking.headers is); BM25 gets the stored text and, by lexical.* as in an index
    run, the file's name and the heading path.
    """
    made = Units([], [], [], [])
    chunker = None if whole else build_chunker(config.chunking, embedder)
    for document in dataset.documents():
        if chunker is None:
            pieces = [(document.text, document.text, "")]
        else:
            pieces = [
                (chunker.embedding_text(c), c.text, str(c.metadata.get("header_path", "")))
                for c in chunker.split(document)
            ]
        made.embedded.extend(embedder.document_prefix + text for text, _, _ in pieces)
        made.stored.extend(text for _, text, _ in pieces)
        made.docs.extend([document.metadata["eval_id"]] * len(pieces))
        made.header_paths.extend(path for _, _, path in pieces)
    return made


def _pooling_of(point: EvalPoint, embedder: PoolingEmbedder) -> str:
    pooling = point.config.embedder.pooling
    return embedder.pooling if pooling == "auto" else pooling


def _uses_lexical(point: EvalPoint) -> bool:
    return point.config.retrieval.search_type in ("lexical", "hybrid")


def evaluate_points(
    dataset: RetrievalDataset,
    points: Sequence[EvalPoint],
    whole_documents: bool | None = None,
    cache: EvalCache | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    progress: bool = True,
    search: str = "chroma",
    collections: str | Path | None = None,
    widen: bool = True,
) -> EvalReport:
    """Embed the dataset for each point (one forward pass per group of points differing only in pooling
    or retrieval options), then search as each point says and score the rankings.

    search "chroma" writes each pooling's collection under collections (default: STORE_PATH/eval-collections).
    widen: hybrid and mmr fetch as many candidates as the metrics rank (else the configured fetch_k).
    """
    if search not in SEARCHES:
        raise EvalError(f"--search {search!r}: expected one of {', '.join(SEARCHES)}")
    if search == "exact" and any(key.startswith("retrieval.") for p in points for key in p.params):
        raise EvalError("--search exact is exact cosine similarity: --grid retrieval.* needs --search chroma")
    whole = dataset.whole_documents_by_default if whole_documents is None else whole_documents
    if whole and any(key.startswith("chunking.") for point in points for key in point.params):
        raise EvalError("--grid chunking.*: this run embeds whole documents; add --documents chunked")
    depth = max(parse_metric(m)[1] for m in metrics)
    report = EvalReport(
        dataset.name, dataset.split, len(_judged(dataset)), len(dataset.corpus_ids), whole, search
    )
    groups: dict[str, list[EvalPoint]] = {}
    for point in points:
        groups.setdefault(_shared_key(point.config), []).append(point)
    embedders: dict[str, PoolingEmbedder] = {}
    results: dict[int, PointResult] = {}
    for group in groups.values():
        config = group[0].config
        # One forward pass serves every pooling of the group: torch pools the hidden states.
        embedder_config = config.embedder.model_copy(update={"pooling": "auto", "graph_pooling": False})
        shared = embedder_config.model_dump_json()
        if shared not in embedders:
            embedders[shared] = build_embedder(embedder_config)
        embedder = embedders[shared]
        chunker = "whole" if whole else config.chunking.model_dump()

        def units_key(
            pooling: str, embedder: PoolingEmbedder = embedder, chunker: Any = chunker
        ) -> dict[str, Any]:
            return {
                "version": CACHE_VERSION,
                "dataset": dataset.fingerprint,
                # The fingerprint leaves out how the model ran (bf16 and fp32 share a collection); results
                # differ a little, so a grid over embedder.dtype or backend must not serve one for another.
                "embedder": {
                    **embedder.fingerprint_of(pooling),
                    "dtype": embedder.dtype,
                    "backend": embedder.backend_name,
                },
                "chunker": chunker,
            }

        def key(point: EvalPoint, embedder: PoolingEmbedder = embedder) -> dict[str, Any]:
            return {
                **units_key(_pooling_of(point, embedder)),
                "metrics": list(metrics),
                "query_adapter": embedder.adapter_hash,  # maps the queries after the cached forward pass
                "search": search,
                "retrieval": point.config.retrieval.model_dump() if search == "chroma" else None,
                "lexical": {**point.config.lexical.model_dump(), "engine": ENGINE}
                if search == "chroma" and _uses_lexical(point)
                else None,
            }

        stored = {id(p): cache.get(key(p)) if cache else None for p in group}
        missing = [p for p in group if stored[id(p)] is None]
        if missing:
            where = Path(collections or Path(config.store.path) / "eval-collections")
            computed = _compute(
                dataset,
                config,
                embedder,
                whole,
                missing,
                metrics,
                depth,
                progress,
                report,
                where,
                units_key,
                cache,
                widen,
            )
            for point in missing:
                stored[id(point)] = value = computed[id(point)]
                if cache is not None:
                    name = _pooling_of(point, embedder)
                    arrays = (
                        {"idf": embedder.idf.numpy()}
                        if name == "idf_mean" and embedder.idf is not None
                        else None
                    )
                    cache.put(key(point), value, arrays)
        for point in group:
            entry = stored[id(point)]
            if entry is None:  # cannot happen: every missing point was computed above
                raise EvalError(f"{point.params}: no result computed")
            name = _pooling_of(point, embedder)
            results[id(point)] = PointResult(
                params=point.params or {"embedder.pooling": name},
                pooling=name,
                metrics=entry["metrics"],
                units=entry["units"],
                encode_seconds=entry["seconds"],
                cached=point not in missing,
            )
    report.results = [results[id(point)] for point in points]
    return report


def _compute(
    dataset: RetrievalDataset,
    config: Config,
    embedder: PoolingEmbedder,
    whole: bool,
    points: Sequence[EvalPoint],
    metrics: Sequence[str],
    depth: int,
    progress: bool,
    report: EvalReport,
    collections: Path,
    units_key: Callable[[str], dict[str, Any]],
    cache: EvalCache | None,
    widen: bool,
) -> dict[int, dict[str, Any]]:
    """One forward pass over units and queries for the points' poolings, then each point's search."""
    texts, stored_texts, unit_docs, unit_paths = units(dataset, config, embedder, whole)
    if not texts:
        raise EvalError(f"{dataset.name}: no text to embed")
    poolings = sorted({_pooling_of(p, embedder) for p in points})
    if "idf_mean" in poolings:  # statistics of the corpus being indexed; queries reuse them
        embedder.fit_idf(texts)
    query_ids = _judged(dataset)
    query_texts = [embedder.query_prefix + dataset.queries[qid] for qid in query_ids]
    # The forward pass is cached apart from the results: points that differ in retrieval options reuse it.
    queries_digest = hashlib.sha256(json.dumps(query_texts).encode("utf-8")).hexdigest()
    keys = {name: {**units_key(name), "queries": queries_digest} for name in poolings}
    found = {
        name: cache.get_arrays(key, ("units", "queries")) if cache else None for name, key in keys.items()
    }
    seconds = 0.0
    if all(found.values()):
        unit_vectors = {name: arrays["units"] for name, arrays in found.items() if arrays}
        query_vectors = {name: arrays["queries"] for name, arrays in found.items() if arrays}
    else:
        started, truncated = time.perf_counter(), embedder.truncated
        with _one_truncation_count():
            kind = "documents" if whole else "chunks"
            unit_vectors = encode_blocks(embedder, texts, poolings, kind, progress)
            query_vectors = encode_blocks(embedder, query_texts, poolings, "queries", progress)
        seconds = round(time.perf_counter() - started, 2)
        passed = EncodePass(poolings, len(texts) + len(query_texts), seconds, embedder.truncated - truncated)
        report.passes.append(passed)
        for name, key in keys.items():
            if cache is not None:
                cache.put_arrays(key, {"units": unit_vectors[name], "queries": query_vectors[name]})
    # The adapter maps queries after the cache: its forward pass is the plain pooling's, shared.
    if embedder.adapter is not None and poolings != [embedder.pooling]:
        raise EvalError(
            f"embedder.query_adapter maps {embedder.pooling}-pooled queries, not {', '.join(poolings)}: "
            "evaluate other poolings without it"
        )
    query_vectors = {name: embedder.adapt_queries(vectors) for name, vectors in query_vectors.items()}
    raw_queries = [dataset.queries[qid] for qid in query_ids]
    documents = len(set(unit_docs))
    computed = {}
    for name in poolings:
        mine = [p for p in points if _pooling_of(p, embedder) == name]
        if report.search == "exact":
            # exact cosine similarity, whatever retrieval.search_type says: the reference figures' search
            run = exact_search(query_ids, query_vectors[name], unit_vectors[name], unit_docs, depth)
            runs = {id(p): run for p in mine}
        else:
            collection = collection_name(units_key(name))
            store = ChromaStore(str(collections), collection, distance="cosine", hnsw=EVAL_HNSW)
            lexical = None
            if any(_uses_lexical(p) for p in mine):
                path = collections / f"{collection}{LEXICAL_SUFFIX}"
                lexical = LexicalIndex(path, config.lexical, filter_ids=store.ids_where)
            fingerprint = embedder.fingerprint_of(name)
            index_units(store, lexical, stored_texts, unit_vectors[name], unit_docs, fingerprint, unit_paths)
            runs = {}
            for point in mine:
                if _uses_lexical(point) and point.config.lexical != config.lexical:
                    raise EvalError("--grid lexical.*: give lexical settings with --set, not as a grid axis")
                options = point.config.retrieval.model_dump()
                retriever = Retriever(embedder, store, lexical=lexical, **options)
                runs[id(point)] = retriever_search(
                    retriever,
                    query_ids,
                    raw_queries,
                    query_vectors[name],
                    len(texts),
                    documents,
                    depth,
                    widen,
                )
        for point in mine:
            computed[id(point)] = {
                "metrics": evaluate(runs[id(point)], dataset.qrels, metrics),
                "units": len(texts),
                "seconds": seconds,
            }
    return computed


def run_eval(
    dataset: RetrievalDataset,
    config: Config | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    **options: Any,
) -> EvalReport:
    """Evaluate a config (default: the built-in one) over a grid given as {key: values}; for notebooks."""
    base = config or Config()
    axes = list((grid or {}).items())
    points = []
    for combo in itertools.product(*(values for _, values in axes)):
        params = {key: value for (key, _), value in zip(axes, combo, strict=True)}
        # The same merge and checks as --grid and --set: a bad key is a ConfigError naming it.
        points.append(EvalPoint(params, with_values(base, params)))
    return evaluate_points(dataset, points, **options)
