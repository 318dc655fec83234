"""The lexical index: BM25 over chunk texts, kept in step with the Chroma collection it sits beside.

Engine: tantivy (chosen by measurement, docs/decisions/lexical-engine.md): incremental adds and deletes,
atomic durable commits, and at 41k chunks a 0.4 ms query, 14 ms to replace a file and 43 MB of memory.
Texts are tokenized here (NFKC, identifiers also split into their parts, lower case, words; each Han or
kana character alone; English stopwords; a Snowball stemmer) and indexed as ready terms, so the same rules
serve every language and query; a query is the OR of its distinct terms, scored by tantivy's BM25 (k1 1.2,
b 0.75).

Writes of a few chunks wait in a durable buffer inside it (rag_index/storage/lexical_buffer.py): one
SQLite commit instead of a tantivy commit's 14 fsyncs. Which collection the index describes, and with
which settings, is kept beside it in a small JSON file written atomically. ``where`` and
``where_document`` filters are evaluated by Chroma (``filter_ids``), so the lexical side honours exactly
the same rules as the dense side.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar, cast

import numpy as np
from pydantic import Field, field_validator

from rag_index.errors import StoreError
from rag_index.settings import Section
from rag_index.storage.base import DocumentScore, Query, stored_metadata
from rag_index.storage.lexical_buffer import BUFFER_LIMIT, Write, WriteBuffer, bm25, bm25_scores
from rag_index.types import Chunk, ScoredChunk

LEXICAL_SUFFIX = ".lexical"  # the index folder beside the collection: <store.path>/<collection>.lexical
ENGINE = "tantivy/3"  # bump when what is indexed per chunk changes: an index of another version is rebuilt
WRITER_HEAP = 50_000_000  # bytes tantivy buffers before it flushes a segment on its own
# NLTK's English list: the question words ("how", "what", "does") that a small corpus would otherwise
# weigh as rare terms; against the 33 words of bm25s it gained BM25 nDCG@10 on 4 of 5 BEIR sets (-0.004 to
# +0.012; docs/decisions/search-defaults.md).
ENGLISH_STOPWORDS = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is "
    "are was were be been being have has had having do does did doing a an the and but if or because as "
    "until while of at by for with about against between into through during before after above below to "
    "from up down in out on off over under again further then once here there when where why how all any "
    "both each few more most other some such no nor not only own same so than too very s t can will just "
    "don should now".split()
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_MARKS = "".join(  # combining marks, which \w leaves out (Hindi vowel signs, say)
    f"\\u{c:04x}" for c in range(0x300, 0x10000) if unicodedata.category(chr(c))[0] == "M"
)
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w|[{_MARKS}])+")
_ASCII_WORD = re.compile(r"\w+", re.ASCII)  # what _TOKEN finds in ASCII text, faster
_MAX_TERM = 100  # characters: longer "words" (base64, hashes) are dropped, as tantivy's own tokenizers do
# Identifiers (snake_case, camelCase, HTTPServer): indexed whole and by their parts, so "write boolean"
# finds writeBoolean (CoSQA code search, BM25 nDCG@10 0.339 -> 0.383); prose has few such words.
# A match can only start where a word does ((?<!\w)); without that, every word without the pattern was tried
# from each of its letters (quadratic in its length): 0.59 ms a 600-character paragraph, 0.13 ms with it,
# the same matches.
_IDENTIFIER = re.compile(r"(?<!\w)\w*(?:_|[a-z0-9][A-Z]|[A-Z][A-Z][a-z])\w*")
_IDENTIFIER_PARTS = re.compile(r"_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _with_parts(match: re.Match[str]) -> str:
    word = match.group()
    return " ".join([word, *(part for part in _IDENTIFIER_PARTS.split(word) if part)])


FilterIds = Callable[[dict[str, Any] | None, dict[str, Any] | None], set[str]]


def _languages() -> list[str]:
    import Stemmer

    return sorted(Stemmer.algorithms())


class LexicalConfig(Section):
    """The `lexical:` section: whether a BM25 index is kept beside the collection, and how it tokenizes."""

    enabled: bool = Field(
        default=True,
        description="Keep a BM25 index beside the collection (needed by lexical and hybrid search); "
        "off removes it.",
    )
    language: str = Field(
        default="english",
        description="Snowball stemmer language (PyStemmer: english, german, french, ...); stopwords exist "
        "for english only.",
    )
    stemmer: bool = Field(default=True, description="Stem terms.")
    stopwords: bool = Field(default=True, description="Drop English stopwords (NLTK's list; english only).")
    # Index the words of each chunk's file name too ("2023 Q3 AAPL.pdf"): files are often named for
    # what they hold, and their chunks rarely repeat it.
    file_names: bool = Field(
        default=True,
        description="Index the words of each chunk's file name too; a change to any lexical key rebuilds "
        "the lexical index from the stored texts, with no re-embedding.",
    )
    # The headings a chunk sits under (its header_path metadata) say what it is about; its text rarely does.
    headers: bool = Field(
        default=False,
        description="Index the words of each chunk's heading path (header_path metadata) too.",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in _languages():
            raise ValueError(f"{value!r} is not one of {', '.join(_languages())}")
        return value


class Tokenizer:
    """Text -> the terms it is indexed and searched by."""

    def __init__(self, config: LexicalConfig) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer(config.language) if config.stemmer else None
        self._stop = ENGLISH_STOPWORDS if config.stopwords and config.language == "english" else frozenset()
        self._stems: dict[str, str] = {}
        self._lock = threading.Lock()  # PyStemmer objects are not thread-safe

    def __call__(self, text: str) -> list[str]:
        text = _IDENTIFIER.sub(_with_parts, unicodedata.normalize("NFKC", text)).lower()
        pattern = _ASCII_WORD if text.isascii() else _TOKEN
        words = [w for w in pattern.findall(text) if w not in self._stop and len(w) <= _MAX_TERM]
        if self._stemmer is None:
            return words
        with self._lock:
            if len(self._stems) > 500_000:  # a bound on the memo, for endless streams of new words
                self._stems.clear()
            new = list({w for w in words if w not in self._stems})
            self._stems.update(zip(new, self._stemmer.stemWords(new), strict=True))
            return [self._stems[w] for w in words]


def _average_length(query: Any, searcher: Any, address: Any) -> float | None:
    """The index's average document length, as tantivy's explanation of a hit's BM25 score gives it."""
    found: list[float] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("description", "").startswith("avgdl"):
            found.append(float(node["value"]))
        for child in node.get("details", []):
            walk(child)

    walk(json.loads(query.explain(searcher, address).to_json()))
    return found[0] if found else None


@dataclass
class _IndexCounts:
    """Document counts over tantivy's committed chunks, kept until the next commit."""

    generation: tuple[int, int] | None
    totals: tuple[int, int] | None = None  # documents and chunks
    holding: dict[str, int] = field(default_factory=dict)  # term -> documents holding it


_NO_COMMIT = (-1, -1)  # the generation of an index with no meta.json yet

REBUILD_HINT = "`rag-index verify --repair` or the next `rag-index index` rebuilds it from the collection"


def _unreadable(err: BaseException) -> bool:
    """Whether err says the index's files are damaged (tantivy raises ValueError, or panics on some)."""
    return (
        isinstance(err, ValueError | OSError | sqlite3.DatabaseError)
        or type(err).__name__ == "PanicException"
    )


F = TypeVar("F", bound=Callable[..., Any])


def _read(method: F) -> F:
    """A read of the index whose damaged files surface as one StoreError (see LexicalIndex._reading)."""

    @functools.wraps(method)
    def reading(self: LexicalIndex, *args: Any, **kwargs: Any) -> Any:
        with self._reading():
            return method(self, *args, **kwargs)

    return cast(F, reading)


def discard(path: Path) -> None:
    """Remove a lexical index that is no longer kept up to date (lexical.enabled was turned off)."""
    if path.exists():
        shutil.rmtree(path)


class LexicalIndex:
    """A ChunkStore: BM25 search over the chunks of one collection, in a tantivy index folder at path."""

    def __init__(self, path: Path | str, config: LexicalConfig, filter_ids: FilterIds | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.filter_ids = filter_ids
        self.tokenize = Tokenizer(config)
        self._index: Any = None
        self._lock = threading.RLock()
        self._buffer = WriteBuffer(self.path / "buffer.sqlite3")
        self._index_counts = _IndexCounts(None)
        self._kept_searcher: tuple[tuple[int, int], Any, Any] | None = None  # generation, index, searcher
        self._kept_superseded: tuple[Any, Any, set[str]] = (None, None, set())  # searcher, key, documents

    @property
    def label(self) -> str:
        """Where the index lives, for messages."""
        return str(self.path)

    @property
    def settings(self) -> dict[str, Any]:
        """What decides the indexed terms: a change rebuilds the index (from the collection's texts)."""
        return {"engine": ENGINE, **self.config.model_dump(exclude={"enabled"})}

    # --- which collection it describes -------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.path / "rag-index.json"

    def state(self) -> dict[str, Any]:
        """{"collection_id": ..., "settings": ...} as last marked; empty when there is no index yet."""
        try:
            return dict(json.loads(self._state_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise StoreError(
                f"{self._state_file}: the lexical index cannot be read ({err}); {REBUILD_HINT}"
            ) from None

    def describes(self, collection_id: str) -> bool:
        """Whether the index is complete for this collection with the current settings (and readable)."""
        try:
            state = self.state()
        except StoreError:
            return False  # a damaged state file: rebuilt like an index of other settings
        return state.get("collection_id") == collection_id and state.get("settings") == self.settings

    def damage(self) -> str | None:
        """Why the index cannot be read (a damaged file), or None when it can: a cheap probe of each part."""
        import tantivy

        try:
            with self._reading():
                self.state()
                self._buffer.latest()
                searcher = self._searcher()
                if searcher is not None and searcher.num_docs:
                    hits = searcher.search(tantivy.Query.all_query(), limit=1).hits
                    searcher.doc(hits[0][1])  # the stored texts
                    term = tantivy.Query.term_query(self._open().schema, "terms", "a")
                    searcher.search(term, limit=1)  # the term dictionary and postings
                    searcher.aggregate(
                        tantivy.Query.all_query(), {"n": {"value_count": {"field": "document"}}}
                    )
        except StoreError as err:
            return str(err)
        return None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Damaged files surface as one StoreError that names the index and how to rebuild it."""
        try:
            yield
        except StoreError:
            raise
        except BaseException as err:
            if not _unreadable(err):
                raise
            self._index = None  # open it afresh next time: it may have been rebuilt meanwhile
            raise StoreError(
                f"{self.path}: the lexical index cannot be read ({type(err).__name__}: {err}); {REBUILD_HINT}"
            ) from None

    def reset(self) -> None:
        """Drop every chunk; the index describes no collection until mark(collection_id)."""
        with self._lock:
            if self.damage() is not None or self.state().get("settings", {}).get("engine") not in (
                None,
                ENGINE,
            ):
                self.close()
                self._index = None
                discard(self.path)  # damaged, or another version's schema: start a new index
            self._write_state(None)
            with self._writer() as writer:
                writer.delete_all_documents()
            self._buffer.drop()

    def mark(self, collection_id: str) -> None:
        """Record that the index now holds exactly the chunks of this collection, with these settings."""
        self._write_state(collection_id)

    def _write_state(self, collection_id: str | None) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"collection_id": collection_id, "settings": self.settings}, sort_keys=True)
        # Written beside, flushed, then renamed over: a crash leaves the old state or the new one.
        with tempfile.NamedTemporaryFile("w", dir=self.path, delete=False, encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, self._state_file)

    # --- ChunkStore ---------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray | None = None) -> None:
        """Add chunks, replacing those with the same id; durable on return (vectors are not used)."""
        self._write(
            [
                Write(
                    chunk.id,
                    " ".join(self.tokenize(self._indexed_text(chunk))),
                    chunk.text,
                    json.dumps(stored_metadata(chunk), ensure_ascii=False),
                )
                for chunk in {c.id: c for c in chunks}.values()
            ]
        )

    def _indexed_text(self, chunk: Chunk) -> str:
        source, path = chunk.metadata.get("source"), chunk.metadata.get("header_path")
        words = [PurePosixPath(str(source)).stem] if self.config.file_names and source else []
        words += [str(path)] if self.config.headers and path else []
        return " ".join([*words, chunk.text])

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id; absent ids are ignored; durable on return."""
        self._write([Write(id_, None) for id_ in dict.fromkeys(ids)])

    def merge(self) -> None:
        """Commit the buffered writes to tantivy now (they merge on their own once BUFFER_LIMIT gather)."""
        self._write([], merge=True)

    def _write(self, writes: list[Write], merge: bool = False) -> None:
        """A few writes go to the buffer (one SQLite commit); more, with the buffer's, to tantivy."""
        import tantivy

        if not (writes or merge):
            return
        with self._lock:
            if not merge and self._buffer.count() + len(writes) <= BUFFER_LIMIT:
                if writes:
                    self._buffer.add(writes)
                return
            through, buffered = self._buffer.writes()
            if not (buffered or writes):
                return
            with self._writer() as writer:
                for write in [*buffered, *writes]:
                    writer.delete_documents("id", write.id)
                    if not write.deleted:
                        fields: dict[str, Any] = {"id": write.id, "terms": write.terms}
                        fields.update(text=write.text.encode("utf-8"), meta=write.meta.encode("utf-8"))
                        if write.document is not None:
                            fields["document"] = write.document
                        writer.add_document(tantivy.Document(**fields))
            if buffered:
                self._buffer.drop(through)  # after the commit: a kill before this merges them again

    @_read
    def ids(self) -> set[str]:
        """Every chunk id in the index."""
        import tantivy

        buffered = self._buffer.latest()  # read before tantivy: a merge in between then hides nothing
        searcher = self._searcher()
        found: set[str] = set()
        if searcher is not None and searcher.num_docs:
            hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
            found = {searcher.doc(address)["id"][0] for _, address in hits}
        return (found - set(buffered)) | {id_ for id_, write in buffered.items() if not write.deleted}

    @_read
    def holds_exactly(self, ids: Collection[str]) -> bool:
        """Whether the index holds these ids and no others, counted by tantivy without reading a chunk.

        Sound because an id is never held twice (every write deletes its id first). ids() reads every
        stored chunk instead: ~70 us each on a shared 2-core machine, over a minute at 1M chunks.
        """
        import tantivy

        if self._buffer.count():
            return self.ids() == set(ids)  # buffered writes supersede indexed chunks: the full read decides
        searcher = self._searcher()
        held = 0 if searcher is None else int(searcher.num_docs)
        if held != len(ids) or not held:
            return held == len(ids)
        wanted = tantivy.Query.term_set_query(self._open().schema, "id", list(ids))
        return int(searcher.search(wanted, limit=1, count=True).count) == held

    @_read
    def count(self) -> int:
        """Number of chunks in the index."""
        if self._buffer.count():
            return len(self.ids())
        searcher = self._searcher()
        return 0 if searcher is None else int(searcher.num_docs)

    @_read
    def approximate_count(self) -> int:
        """Chunks in the index, cheaply: tantivy's count plus buffered writes (a replacement counts twice)."""
        searcher = self._searcher()
        indexed = 0 if searcher is None else int(searcher.num_docs)
        return indexed + sum(1 for write in self._buffer.latest().values() if not write.deleted)

    def search(
        self,
        query: Query,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The k chunks with the best BM25 score for the query's text, best first."""
        terms = list(dict.fromkeys(self.tokenize(query.text)))  # each distinct term once
        if not terms:
            return []
        allowed = None
        # The filter is Chroma's to evaluate: its errors (a bad where) are the caller's, not damage here.
        if where or where_document:
            if self.filter_ids is None:
                raise ValueError("this lexical index has no filter source for where / where_document")
            allowed = self.filter_ids(where or None, where_document or None)
            if not allowed:
                return []
        return self._ranked(terms, k, allowed)

    @_read
    def _ranked(self, terms: list[str], k: int, allowed: set[str] | None) -> list[ScoredChunk]:
        """The k best chunks by BM25 for terms, among allowed ids (None: all), buffered writes included."""
        import tantivy

        buffered = self._buffer.latest()  # read before tantivy: a merge in between then hides nothing
        searcher = self._searcher()
        found: list[ScoredChunk] = []
        top = None
        if searcher is not None:
            schema = self._open().schema
            scored = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", term)) for term in terms]
            )
            match = scored
            if allowed is not None:
                # Scored 0: the filter selects hits, it must not add to their BM25 (it added 1.0).
                only = tantivy.Query.const_score_query(
                    tantivy.Query.term_set_query(schema, "id", sorted(allowed)), 0.0
                )
                must = tantivy.Occur.Must
                match = tantivy.Query.boolean_query([(must, scored), (must, only)])
            # Buffered writes supersede the indexed chunks with their ids: fetch enough to drop them.
            hits = searcher.search(match, limit=k + len(buffered), count=False).hits
            # The terms' query explains a hit's BM25 (the id filter would explain its own field's).
            top = (scored, searcher, hits[0][1]) if hits else None
            for score, address in hits:
                stored = searcher.doc(address)
                if stored["id"][0] in buffered:
                    continue
                metadata = json.loads(stored["meta"][0].decode("utf-8"))
                text = stored["text"][0].decode("utf-8")
                found.append(ScoredChunk(stored["id"][0], text, float(score), metadata))
        if buffered:
            found += self._buffered_hits(terms, buffered, allowed, searcher, top)
        return sorted(found, key=lambda hit: -hit.score)[:k]

    @_read
    def document_scores(self, query: Query, sources: Collection[str]) -> dict[str, DocumentScore]:
        """BM25 of the query over whole documents (each of sources, a query's candidates), and their chunks;
        nothing when every one of them is a single chunk (their scores would be the chunks' own).

        A document is a file, or a text added through the API (see rag_index.storage.base.document_of).
        Its term frequency is the number of its chunks holding the term, its length its number of chunks;
        document frequencies and the average length count every document of the collection, as BM25 does
        for chunks, so a term most documents hold weighs least. Hybrid search fuses this into each chunk's
        score: a question that names what a file is about ("Amazon", "the Aurora grinder") finds the
        chunks of that file, though most of them never repeat the name.
        """
        terms = list(dict.fromkeys(self.tokenize(query.text)))
        wanted = {s for s in sources if s}
        if not terms or not wanted:
            return {}
        buffered = self._buffer.latest()  # read before tantivy: a merge in between then hides nothing
        # Files with buffered writes are counted one by one, the others by tantivy's aggregations alone.
        touched = {of for write in buffered.values() if (of := write.document) is not None}
        generation = self._generation()  # before the searcher: a commit in between only drops the cache
        searcher = self._searcher()
        if searcher is not None and not searcher.num_docs:
            searcher = None
        lengths, holding = self._per_file(searcher, terms, wanted | touched, buffered)
        if all(lengths[source] <= 1 for source in wanted):
            return {}  # one chunk each: nothing beyond the chunks' own scores (fusion gives them no share)
        files, chunks, freq = self._other_files(searcher, terms, touched, buffered, generation)
        files += sum(1 for source in touched if lengths[source])
        chunks += sum(lengths[source] for source in touched)
        for term in terms:
            freq[term] += sum(1 for source in touched if holding[source][term])
        if not files:
            return {}
        return {
            source: DocumentScore(
                bm25(dict(holding[source]), lengths[source], freq, files, chunks / files), lengths[source]
            )
            for source in wanted
            if lengths[source]
        }

    def _per_file(
        self, searcher: Any, terms: list[str], sources: set[str], buffered: dict[str, Write]
    ) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """Of each of sources: its chunks, and its chunks holding each term (buffered writes included)."""
        lengths: Counter[str] = Counter()
        holding: dict[str, Counter[str]] = defaultdict(Counter)
        if searcher is not None:
            lengths, holding = self._by_document(searcher, self._scope(sources, buffered), terms, sources)
        asked = set(terms)
        for write in buffered.values():
            of = write.document
            if not write.deleted and of is not None and of in sources:
                lengths[of] += 1
                holding[of].update(asked.intersection((write.terms or "").split()))
        return lengths, holding

    def _by_document(
        self, searcher: Any, scope: Any, terms: list[str], documents: Collection[str]
    ) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """tantivy's chunks in scope, per document (of at most len(documents)): how many, and how many
        hold each term; one aggregation pass (a filter per term; the terms are \\w runs, safe in a quoted
        query string)."""
        lengths: Counter[str] = Counter()
        holding: dict[str, Counter[str]] = defaultdict(Counter)
        per_document = {"terms": {"field": "document", "size": max(len(documents), 1)}}
        aggregations: dict[str, Any] = {"files": per_document}
        for i, term in enumerate(terms):
            aggregations[f"term{i}"] = {"filter": f'terms:"{term}"', "aggs": {"files": per_document}}
        found = searcher.aggregate(scope, aggregations)

        def counts(result: dict[str, Any]) -> dict[str, int]:
            return {bucket["key"]: int(bucket["doc_count"]) for bucket in result["files"]["buckets"]}

        lengths.update(counts(found))
        for i, term in enumerate(terms):
            for document, count in counts(found[f"term{i}"]).items():
                holding[document][term] += count
        return lengths, holding

    def _other_files(
        self,
        searcher: Any,
        terms: list[str],
        sources: set[str],
        buffered: dict[str, Write],
        generation: tuple[int, int],
    ) -> tuple[int, int, Counter[str]]:
        """The documents of tantivy other than sources: how many, their chunks, and how many hold each term;
        less the chunks buffered writes replace.

        The whole index is counted by tantivy's cardinality aggregation (HyperLogLog: exact for small
        counts, within about 1 % for large ones) once per commit and per term, and kept; what the buffer
        supersedes is counted exactly and taken off. A store of agent memories, whose buffer changes with
        every write, so counts only the few documents its writes touch, not the whole index per query.
        """
        freq: Counter[str] = Counter()
        if searcher is None:
            return 0, 0, freq
        kept = self._counted(searcher, terms, generation)
        files, chunks = kept.totals or (0, 0)
        freq.update({term: kept.holding[term] for term in terms})
        if buffered:  # sources are the documents buffered writes name: none without them
            gone_files, gone_chunks, gone_holding = self._superseded(searcher, terms, sources, buffered)
            files, chunks = files - gone_files, chunks - gone_chunks
            freq.subtract(gone_holding)
        return files, chunks, freq

    def _counted(self, searcher: Any, terms: list[str], generation: tuple[int, int]) -> _IndexCounts:
        """The index-wide counts of this commit, with each of terms counted (see _other_files)."""
        if self._index_counts.generation != generation or len(self._index_counts.holding) > 100_000:
            self._index_counts = _IndexCounts(generation)
        kept = self._index_counts  # a query in another thread may replace it meanwhile: this one stays whole
        distinct = {"cardinality": {"field": "document"}}
        if kept.totals is None:
            aggregations = {"files": distinct, "chunks": {"value_count": {"field": "document"}}}
            found = searcher.aggregate(self._all(), aggregations)
            kept.totals = round(found["files"]["value"]), round(found["chunks"]["value"])
        for term in terms:
            if term not in kept.holding:
                # Only the chunks holding the term are visited (its postings), not every chunk of the index.
                found = searcher.aggregate(self._all(term), {"files": distinct})
                kept.holding[term] = round(found["files"]["value"])
        return kept

    @_read
    def count_ahead(self, query: Query) -> None:
        """Count now what document_scores will need of the whole index for query's terms (kept until the
        next commit), so that a hybrid search does it while the query is embedded. Nothing to count in an
        index whose documents are all one chunk (a store of memories): their scores need no statistics."""
        terms = list(dict.fromkeys(self.tokenize(query.text)))
        generation = self._generation()
        searcher = self._searcher()
        if not terms or searcher is None or not searcher.num_docs:
            return
        kept = self._counted(searcher, [], generation)
        if kept.totals is not None and kept.totals[0] < kept.totals[1]:
            self._counted(searcher, terms, generation)

    def _superseded(
        self, searcher: Any, terms: list[str], sources: set[str], buffered: dict[str, Write]
    ) -> tuple[int, int, Counter[str]]:
        """What tantivy's counts lose when the chunks of sources and those with buffered ids are left out:
        documents left with no chunk, chunks, and per term the documents left with no chunk holding it."""
        affected = self._affected(searcher, sources, buffered)
        if not affected:  # new memories, say: nothing of tantivy's is superseded
            return 0, 0, Counter()
        partial = affected - sources
        whole, whole_holding = self._by_document(searcher, self._scope(affected, {}), terms, affected)
        left: Counter[str] = Counter()
        left_holding: dict[str, Counter[str]] = defaultdict(Counter)
        if partial:
            left, left_holding = self._by_document(searcher, self._scope(partial, buffered), terms, partial)
        gone_holding: Counter[str] = Counter()
        for document, held in whole_holding.items():
            gone_holding.update(t for t in held if not left_holding[document][t])
        gone_files = sum(1 for document in whole if whole[document] and not left[document])
        return gone_files, sum(whole.values()) - sum(left.values()), gone_holding

    def _affected(self, searcher: Any, sources: set[str], buffered: dict[str, Write]) -> set[str]:
        """The documents of tantivy that buffered writes change: sources (the documents they name), and
        documents with a buffered id among their chunks though no buffered write names them (a deletion).
        Kept per searcher (one per commit) and writes: the searches between two writes ask the same."""
        import tantivy

        key = (frozenset(buffered), frozenset(sources))
        kept_searcher, kept_key, kept = self._kept_superseded
        if kept_searcher is searcher and kept_key == key:
            return kept
        schema = self._open().schema
        named = tantivy.Query.term_set_query(schema, "document", sorted(sources))
        replaced = tantivy.Query.term_set_query(schema, "id", sorted(buffered))
        either = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in (named, replaced)])
        # One pass: each document with a chunk of tantivy either named or replaced (at most one per each).
        lengths = self._by_document(searcher, either, [], [*sources, *buffered])[0]
        affected = {document for document, chunks in lengths.items() if chunks}
        self._kept_superseded = (searcher, key, affected)
        return affected

    def _all(self, term: str | None = None) -> Any:
        """Every chunk of tantivy, or those holding term."""
        import tantivy

        if term is None:
            return tantivy.Query.all_query()
        return tantivy.Query.term_query(self._open().schema, "terms", term)

    def _generation(self) -> tuple[int, int]:
        """Which state the index is in: tantivy replaces its meta.json at every commit."""
        try:
            meta = (self.path / "meta.json").stat()
        except OSError:
            return _NO_COMMIT
        return (meta.st_ino, meta.st_mtime_ns)

    def _scope(self, sources: set[str], buffered: dict[str, Write]) -> Any:
        """tantivy's chunks of sources, less those buffered writes replace."""
        import tantivy

        schema = self._open().schema
        of_sources = tantivy.Query.term_set_query(schema, "document", sorted(sources))
        clauses = [(tantivy.Occur.Must, of_sources)]
        if buffered:  # buffered writes supersede the indexed chunks with their ids
            replaced = tantivy.Query.term_set_query(schema, "id", sorted(buffered))
            clauses.append((tantivy.Occur.MustNot, replaced))
        return tantivy.Query.boolean_query(clauses)

    def _buffered_hits(
        self, terms: list[str], buffered: dict[str, Write], allowed: set[str] | None, searcher: Any, top: Any
    ) -> list[ScoredChunk]:
        """Buffered chunks holding a query term, scored by BM25 over the index's statistics and theirs.

        Every buffered chunk counts in the statistics, filtered out or not, as it will once merged.
        """
        documents = {id_: write.terms.split() for id_, write in buffered.items() if write.terms is not None}
        query = set(terms)
        wanted = [
            id_
            for id_, words in documents.items()
            if (allowed is None or id_ in allowed) and not query.isdisjoint(words)
        ]
        if not wanted:  # most searches: no statistics to read from tantivy
            return []
        indexed = 0 if searcher is None else int(searcher.num_docs)
        freq = {t: int(searcher.doc_freq("terms", t)) for t in terms} if indexed else {}
        scores = bm25_scores(terms, documents, indexed, freq, _average_length(*top) if top else None)
        hits = [(id_, buffered[id_]) for id_ in wanted]
        return [ScoredChunk(id_, write.text, scores[id_], json.loads(write.meta)) for id_, write in hits]

    # --- tantivy ------------------------------------------------------------------------------------

    def _open(self) -> Any:
        import tantivy

        if self._index is None:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("id", stored=True, tokenizer_name="raw")
            builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
            builder.add_bytes_field("text", stored=True)
            builder.add_bytes_field("meta", stored=True)
            builder.add_text_field(
                "document", fast=True, tokenizer_name="raw"
            )  # document_scores counts by it
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                self._index = tantivy.Index(builder.build(), path=str(self.path), reuse=True)
            except (OSError, ValueError) as err:
                raise StoreError(
                    f"{self.path}: the lexical index cannot be opened ({err}); {REBUILD_HINT}"
                ) from None
        return self._index

    def close(self) -> None:
        """Release the buffer's database (the tantivy files are memory-mapped and need nothing)."""
        self._buffer.close()

    def _searcher(self) -> Any:
        """A searcher of the last commit, any writer's (None before the first); kept until the next one."""
        generation = self._generation()  # before reloading: a commit in between is seen next time
        if generation == _NO_COMMIT:
            return None  # nothing written yet: do not create an index just to look into it
        index = self._open()
        kept = self._kept_searcher
        if kept is not None and kept[0] == generation and kept[1] is index:
            return kept[2]  # reloading costs about a millisecond, three times per hybrid search
        index.reload()
        searcher = index.searcher()
        self._kept_searcher = (generation, index, searcher)
        return searcher

    @contextlib.contextmanager
    def _writer(self) -> Iterator[Any]:
        """A writer for one call, committed durably and released after it (opening one takes < 1 ms).

        Holding none between calls lets any process or instance write next; the store's lock keeps
        writers of one collection in turn.
        """
        with self._lock:
            try:
                writer = self._open().writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as err:
                raise StoreError(f"{self.path}: the lexical index cannot be written ({err})") from None
            try:
                yield writer
                writer.commit()
            except ValueError as err:
                raise StoreError(
                    f"{self.path}: the lexical index cannot be written ({err}); "
                    "check the free space and permissions there"
                ) from None
            finally:
                writer.wait_merging_threads()
