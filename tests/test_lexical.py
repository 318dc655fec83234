"""The lexical index: BM25 over chunk texts, incremental, durable, and filtered by Chroma's own rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag_index.config import load_config
from rag_index.errors import ConfigError
from rag_index.storage.base import Query
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import LexicalConfig, LexicalIndex, Tokenizer
from rag_index.types import Chunk

TEXTS = {
    "a": ("The Aurora grinder has conical steel burrs.", {"source": "handbook.pdf", "page": 2}),
    "b": ("Clean the burrs every month with a brush.", {"source": "handbook.pdf", "page": 4}),
    "c": ("Runners were running along the harbour.", {"source": "notes.txt"}),
    "d": ("Apple revenue in Q3 2023 rose; Q2 2023 was flat.", {"source": "10q.pdf", "page": 1}),
}


def chunks(texts: dict[str, tuple[str, dict]] = TEXTS) -> list[Chunk]:
    return [Chunk(id_, f"doc-{id_}", text, 0, len(text), meta) for id_, (text, meta) in texts.items()]


@pytest.fixture
def lexical(tmp_path: Path) -> LexicalIndex:
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks())
    return index


def ranked(index: LexicalIndex, text: str, k: int = 10, **filters: dict) -> list[str]:
    return [hit.id for hit in index.search(Query(text), k, **filters)]


def test_bm25_ranks_the_chunk_with_the_rare_terms_first(lexical: LexicalIndex) -> None:
    assert ranked(lexical, "conical burrs")[:2] == ["a", "b"]
    assert ranked(lexical, "What was Apple's revenue in Q3 2023?")[0] == "d"
    hit = lexical.search(Query("harbour"), 1)[0]
    assert (hit.text, hit.metadata) == (TEXTS["c"][0], {"source": "notes.txt", "doc_id": "doc-c"})
    assert hit.score > 0


def test_stemming_and_stopwords() -> None:
    tokenize = Tokenizer(LexicalConfig())
    assert tokenize("The runners were Running") == ["runner", "were", "run"]
    assert Tokenizer(LexicalConfig(stemmer=False, stopwords=False))("The Runs") == ["the", "runs"]
    assert Tokenizer(LexicalConfig(language="german"))("Die Häuser") == ["die", "haus"]  # no German stopwords


def test_text_in_any_script_and_query_syntax_characters_index_and_query(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    odd = {
        "cjk": ("日本語のテキスト", {}),
        "arabic": ("مرحبا بالعالم", {}),
        "syntax": ('"quoted" NEAR(a b) * -minus col:on AND OR NOT', {}),
        "emoji": ("☕ coffee ☕", {}),
        "empty": ("", {}),
        "stop": ("the of and", {}),
    }
    index.upsert(chunks(odd))
    assert ranked(index, "日本") == ["cjk"]
    assert ranked(index, "بالعالم") == ["arabic"]
    assert ranked(index, '"quoted" NEAR( * col:on') == ["syntax"]
    assert ranked(index, "☕ coffee") == ["emoji"]
    assert ranked(index, "the of") == [] and ranked(index, "") == []
    assert index.count() == 6


def test_upsert_replaces_delete_ignores_absent_and_reopening_keeps_everything(
    lexical: LexicalIndex, tmp_path: Path
) -> None:
    lexical.upsert(chunks({"a": ("Bananas are yellow.", {})}))
    lexical.upsert(chunks({"a": ("Bananas are yellow.", {})}))  # idempotent
    assert ranked(lexical, "conical") == [] and ranked(lexical, "banana") == ["a"]
    lexical.delete(["b", "not-there"])
    assert lexical.ids() == {"a", "c", "d"}
    again = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    assert again.ids() == {"a", "c", "d"} and ranked(again, "banana") == ["a"]


def test_reset_mark_and_describes(lexical: LexicalIndex) -> None:
    assert lexical.state() == {}
    lexical.mark("collection-1")
    assert lexical.describes("collection-1") and not lexical.describes("collection-2")
    other = LexicalIndex(lexical.path, LexicalConfig(stemmer=False))
    assert not other.describes("collection-1")  # other settings: must be rebuilt
    lexical.reset()
    assert lexical.count() == 0 and not lexical.describes("collection-1")


@pytest.mark.parametrize(
    ("where", "where_document"),
    [
        ({"source": "handbook.pdf"}, None),
        ({"page": {"$gte": 2}}, None),
        ({"$or": [{"source": "notes.txt"}, {"page": 1}]}, None),
        ({"source": {"$ne": "handbook.pdf"}}, None),
        ({"source": {"$in": ["notes.txt", "10q.pdf"]}}, None),
        (None, {"$contains": "burrs"}),
        ({"page": {"$lt": 4}}, {"$not_contains": "Apple"}),
    ],
)
def test_filters_select_what_chroma_selects(
    tmp_path: Path, where: dict | None, where_document: dict | None
) -> None:
    store = ChromaStore(str(tmp_path / "chroma"), "docs")
    store.open({"model": "test"})
    store.upsert(chunks(), np.eye(4, dtype=np.float32))
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig(), filter_ids=store.ids_where)
    index.upsert(chunks())
    expected = store.ids_where(where, where_document)
    found = set(
        ranked(
            index,
            "the burrs grinder running revenue harbour brush",
            where=where,
            where_document=where_document,
        )
    )
    assert found == expected and expected


def test_a_bad_language_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^lexical\.language: 'klingon' is not one of .*english"):
        load_config(overrides=["lexical.language=klingon"])


def test_file_name_words_are_indexed_unless_turned_off(tmp_path: Path) -> None:
    named = {"x": ("Revenue rose in the quarter.", {"source": "filings/2023 Q3 AAPL.pdf"})}
    on = LexicalIndex(tmp_path / "on", LexicalConfig())
    off = LexicalIndex(tmp_path / "off", LexicalConfig(file_names=False))
    for index in (on, off):
        index.upsert(chunks(named))
    assert ranked(on, "AAPL Q3") == ["x"] and ranked(off, "AAPL Q3") == []
    assert on.search(Query("aapl"), 1)[0].text == "Revenue rose in the quarter."  # the text is unchanged
    assert on.settings != off.settings  # turning it off rebuilds the index
