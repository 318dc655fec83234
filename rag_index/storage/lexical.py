"""The lexical index: BM25 over chunk texts, kept in step with the Chroma collection it sits beside.

Engine: tantivy (chosen by measurement, see the README's hybrid section): incremental adds and deletes,
atomic durable commits, and at 41k chunks a 0.4 ms query, 14 ms to replace a file and 43 MB of memory.
Texts are tokenized here (NFKC, lower case, words; each Han or kana character alone; English stopwords;
a Snowball stemmer) and indexed as ready terms, so the same rules serve every language and query; a query
is the OR of its distinct terms, scored by tantivy's BM25 (k1 1.2, b 0.75).

Which collection the index describes, and with which settings, is kept beside it in a small JSON file
written atomically. ``where`` and ``where_document`` filters are evaluated by Chroma (``filter_ids``), so
the lexical side honours exactly the same rules as the dense side.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from pydantic import field_validator

from rag_index.errors import StoreError
from rag_index.settings import Section
from rag_index.storage.base import Query, stored_metadata
from rag_index.types import Chunk, ScoredChunk

LEXICAL_SUFFIX = ".lexical"  # the index folder beside the collection: <store.path>/<collection>.lexical
ENGINE = "tantivy/1"  # bump when what is indexed per chunk changes: an index of another version is rebuilt
WRITER_HEAP = 50_000_000  # bytes tantivy buffers before it flushes a segment on its own
ENGLISH_STOPWORDS = frozenset(  # the list bm25s uses for "en"
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_MARKS = "".join(  # combining marks, which \w leaves out (Hindi vowel signs, say)
    f"\\u{c:04x}" for c in range(0x300, 0x10000) if unicodedata.category(chr(c))[0] == "M"
)
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w|[{_MARKS}])+")
_ASCII_WORD = re.compile(r"\w+", re.ASCII)  # what _TOKEN finds in ASCII text, faster
_MAX_TERM = 100  # characters: longer "words" (base64, hashes) are dropped, as tantivy's own tokenizers do

FilterIds = Callable[[dict[str, Any] | None, dict[str, Any] | None], set[str]]


def _languages() -> list[str]:
    import Stemmer

    return sorted(Stemmer.algorithms())


class LexicalConfig(Section):
    """The `lexical:` section: whether a BM25 index is kept beside the collection, and how it tokenizes."""

    enabled: bool = True
    language: str = "english"  # a Snowball stemmer (PyStemmer); stopwords exist for english only
    stemmer: bool = True
    stopwords: bool = True
    # Index the words of each chunk's file name too ("2023 Q3 AAPL.pdf"): files are often named for
    # what they hold, and their chunks rarely repeat it.
    file_names: bool = True

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
        text = unicodedata.normalize("NFKC", text).lower()
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
            raise StoreError(f"{self._state_file}: cannot be read ({err})") from None

    def describes(self, collection_id: str) -> bool:
        """Whether the index is complete for this collection with the current settings."""
        state = self.state()
        return state.get("collection_id") == collection_id and state.get("settings") == self.settings

    def reset(self) -> None:
        """Drop every chunk; the index describes no collection until mark(collection_id)."""
        with self._lock:
            self._write_state(None)
            with self._writer() as writer:
                writer.delete_all_documents()

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
        """Add chunks, replacing those with the same id; committed durably (vectors are not used)."""
        import tantivy

        if not chunks:
            return
        with self._writer() as writer:
            for chunk in {c.id: c for c in chunks}.values():
                writer.delete_documents("id", chunk.id)
                metadata = json.dumps(stored_metadata(chunk), ensure_ascii=False).encode("utf-8")
                document = tantivy.Document(
                    id=chunk.id,
                    terms=" ".join(self.tokenize(self._indexed_text(chunk))),
                    text=chunk.text.encode("utf-8"),
                    meta=metadata,
                )
                writer.add_document(document)

    def _indexed_text(self, chunk: Chunk) -> str:
        source = chunk.metadata.get("source")
        if not self.config.file_names or not source:
            return chunk.text
        return f"{PurePosixPath(str(source)).stem} {chunk.text}"

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id; absent ids are ignored; committed durably."""
        if not ids:
            return
        with self._writer() as writer:
            for id_ in ids:
                writer.delete_documents("id", id_)

    def ids(self) -> set[str]:
        """Every chunk id in the index."""
        import tantivy

        searcher = self._searcher()
        if searcher is None or searcher.num_docs == 0:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs, count=False).hits
        return {searcher.doc(address)["id"][0] for _, address in hits}

    def count(self) -> int:
        """Number of chunks in the index."""
        searcher = self._searcher()
        return 0 if searcher is None else int(searcher.num_docs)

    def search(
        self,
        query: Query,
        k: int,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[ScoredChunk]:
        """The k chunks with the best BM25 score for the query's text, best first."""
        import tantivy

        searcher = self._searcher()
        terms = list(dict.fromkeys(self.tokenize(query.text)))  # each distinct term once
        if searcher is None or not terms:
            return []
        schema = self._open().schema
        match = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", term)) for term in terms]
        )
        if where or where_document:
            if self.filter_ids is None:
                raise ValueError("this lexical index has no filter source for where / where_document")
            allowed = self.filter_ids(where or None, where_document or None)
            if not allowed:
                return []
            only = tantivy.Query.term_set_query(schema, "id", sorted(allowed))
            match = tantivy.Query.boolean_query([(tantivy.Occur.Must, match), (tantivy.Occur.Must, only)])
        hits = searcher.search(match, limit=k, count=False).hits
        found = []
        for score, address in hits:
            stored = searcher.doc(address)
            metadata = json.loads(stored["meta"][0].decode("utf-8"))
            text = stored["text"][0].decode("utf-8")
            found.append(ScoredChunk(stored["id"][0], text, float(score), metadata))
        return found

    # --- tantivy ------------------------------------------------------------------------------------

    def _open(self) -> Any:
        import tantivy

        if self._index is None:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("id", stored=True, tokenizer_name="raw")
            builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
            builder.add_bytes_field("text", stored=True)
            builder.add_bytes_field("meta", stored=True)
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                self._index = tantivy.Index(builder.build(), path=str(self.path), reuse=True)
            except (OSError, ValueError) as err:
                raise StoreError(f"{self.path}: the lexical index cannot be opened ({err})") from None
        return self._index

    def _searcher(self) -> Any:
        if not (self.path / "meta.json").is_file():
            return None  # nothing written yet: do not create an index just to look into it
        index = self._open()
        index.reload()  # see what other writers committed
        return index.searcher()

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
