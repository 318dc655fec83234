"""The lexical index: BM25 over chunk texts, incremental, durable, and filtered by Chroma's own rules."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_index.config import load_config
from rag_index.errors import ConfigError
from rag_index.storage.base import Query
from rag_index.storage.chroma import ChromaStore
from rag_index.storage.lexical import _IDENTIFIER, LexicalConfig, LexicalIndex, Tokenizer
from rag_index.storage.lexical_buffer import BUFFER_LIMIT
from rag_index.types import Chunk

REPO = Path(__file__).resolve().parents[1]
TEXTS = {
    "a": ("The Aurora grinder has conical steel burrs.", {"source": "handbook.pdf", "page": 2}),
    "b": ("Clean the burrs every month with a brush.", {"source": "handbook.pdf", "page": 4}),
    "c": ("Runners were running along the harbour.", {"source": "notes.txt"}),
    "d": ("Apple revenue in Q3 2023 rose; Q2 2023 was flat.", {"source": "10q.pdf", "page": 1}),
}


def chunks(texts: dict[str, tuple[str, dict]] = TEXTS) -> list[Chunk]:
    return [Chunk(id_, f"doc-{id_}", text, 0, len(text), meta) for id_, (text, meta) in texts.items()]


@pytest.fixture(params=["buffered", "merged"])
def lexical(tmp_path: Path, request: pytest.FixtureRequest) -> LexicalIndex:
    """Four chunks, still in the write buffer or merged into tantivy: both must behave alike."""
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks())
    if request.param == "merged":
        index.merge()
    return index


def ranked(index: LexicalIndex, text: str, k: int = 10, **filters: dict) -> list[str]:
    return [hit.id for hit in index.search(Query(text), k, **filters)]


def test_bm25_ranks_the_chunk_with_the_rare_terms_first(lexical: LexicalIndex) -> None:
    assert ranked(lexical, "conical burrs")[:2] == ["a", "b"]
    assert ranked(lexical, "What was Apple's revenue in Q3 2023?")[0] == "d"
    hit = lexical.search(Query("harbour"), 1)[0]
    assert (hit.text, hit.metadata) == (TEXTS["c"][0], {"source": "notes.txt", "doc_id": "doc-c"})
    assert hit.score > 0


def bm25_of(scores: dict) -> dict[str, float]:
    return {document: score.bm25 for document, score in scores.items()}


def test_document_scores_are_bm25_over_whole_files_of_the_collection(lexical: LexicalIndex) -> None:
    files = {"handbook.pdf", "notes.txt", "10q.pdf"}
    found = lexical.document_scores(Query("Brush the burrs"), files)
    assert {document: score.chunks for document, score in found.items()} == {
        "handbook.pdf": 2,
        "notes.txt": 1,
        "10q.pdf": 1,
    }
    scores = bm25_of(found)
    # A file's term frequency: its chunks holding the term ('burr': both of handbook.pdf's, 'brush': one);
    # its length: its chunks; document frequencies over the collection's 3 files, 4 chunks in all.
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    norm = 1.2 * (1 - 0.75 + 0.75 * 2 / (4 / 3))
    handbook = idf * 2.2 * 2 / (2 + norm) + idf * 2.2 * 1 / (1 + norm)
    assert scores == pytest.approx({"handbook.pdf": handbook, "notes.txt": 0.0, "10q.pdf": 0.0})
    # The statistics are the collection's, whichever files are the candidates.
    assert bm25_of(lexical.document_scores(Query("Brush the burrs"), {"handbook.pdf"})) == pytest.approx(
        {"handbook.pdf": handbook}
    )
    assert (
        lexical.document_scores(Query("the"), files)
        == {}
        == lexical.document_scores(Query("burrs"), {"x.pdf"})
    )
    # A term more files hold tells them apart less.
    lexical.upsert(chunks({"e": ("Burrs, again.", {"source": "10q.pdf"})}))
    common_burrs = bm25_of(lexical.document_scores(Query("Brush the burrs runners"), files))
    assert common_burrs["handbook.pdf"] < handbook
    lexical.upsert(chunks({"b": ("Runners cleaned it.", {"source": "notes.txt"})}))  # b moves to notes.txt
    moved = bm25_of(lexical.document_scores(Query("Brush the burrs runners"), files))
    assert (
        moved["handbook.pdf"] < common_burrs["handbook.pdf"]
        and moved["notes.txt"] > common_burrs["notes.txt"]
    )


def test_file_statistics_kept_between_queries_follow_every_commit(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks())
    index.merge()
    query = Query("Brush the burrs")
    before = index.document_scores(query, {"handbook.pdf"})["handbook.pdf"].bm25
    assert (
        index.document_scores(query, {"handbook.pdf"})["handbook.pdf"].bm25 == before
    )  # from the kept counts
    index.upsert(chunks({"e": ("Burrs, again.", {"source": "10q.pdf"})}))
    index.merge()  # a commit: 'burr' is now in 2 of the 3 files
    after = index.document_scores(query, {"handbook.pdf"})["handbook.pdf"].bm25
    fresh = LexicalIndex(tmp_path / "lexical", LexicalConfig()).document_scores(query, {"handbook.pdf"})
    assert after < before and after == pytest.approx(fresh["handbook.pdf"].bm25)


def test_file_statistics_kept_between_queries_follow_every_buffered_write(tmp_path: Path) -> None:
    """Kept while nothing changes, also with writes buffered (a memory store's usual state); a new buffered
    write in any document counts at once, as a fresh index with nothing kept counts it."""
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks())
    index.merge()
    query = Query("Brush the burrs")
    for n, text in enumerate(["Burrs, again.", "Burrs wear out.", "Brush them."]):
        index.upsert(chunks({f"m{n}": (text, {"source": f"memo {n}.txt"})}))  # buffered, not merged
        kept = [index.document_scores(query, {"handbook.pdf"})["handbook.pdf"].bm25 for _ in range(2)]
        fresh = LexicalIndex(tmp_path / "lexical", LexicalConfig()).document_scores(query, {"handbook.pdf"})
        assert kept[0] == kept[1] == pytest.approx(fresh["handbook.pdf"].bm25)
    assert index.count() == len(TEXTS) + 3


def test_file_statistics_with_buffered_deletes_and_replacements_equal_a_merged_index(tmp_path: Path) -> None:
    """The kept whole-index counts, less what the buffer supersedes, are a merged index's counts: after
    a buffered deletion (which names no document), a replacement moving a chunk to another file, a new
    file and a new chunk of an indexed file."""
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks())
    index.upsert(
        chunks({"x1": ("Burrs and brushes.", {"source": "x.pdf"}), "x2": ("Burrs.", {"source": "x.pdf"})})
    )
    index.merge()
    query = Query("Brush the burrs runners")
    files = {"handbook.pdf", "notes.txt", "x.pdf", "memo.txt"}
    index.document_scores(query, files)  # counts kept for this commit
    writes = [
        lambda: index.delete(["x2"]),  # x.pdf keeps x1, which holds 'burr'
        lambda: index.upsert(chunks({"x1": ("Runners.", {"source": "memo.txt"})})),  # x.pdf: no chunk left
        lambda: index.upsert(chunks({"h9": ("More burrs.", {"source": "handbook.pdf"})})),
    ]
    for write in writes:  # what is kept between searches follows each write
        write()
        buffered = bm25_of(index.document_scores(query, files))
        fresh = LexicalIndex(tmp_path / "lexical", LexicalConfig()).document_scores(query, files)
        assert buffered == pytest.approx(bm25_of(fresh))
    index.merge()
    merged = bm25_of(LexicalIndex(tmp_path / "lexical", LexicalConfig()).document_scores(query, files))
    assert "x.pdf" not in merged and set(buffered) == set(merged)
    assert buffered == pytest.approx(merged)


def test_stemming_and_stopwords() -> None:
    tokenize = Tokenizer(LexicalConfig())
    assert tokenize("How do the runners keep Running") == ["runner", "keep", "run"]
    assert Tokenizer(LexicalConfig(stemmer=False, stopwords=False))("The Runs") == ["the", "runs"]
    assert Tokenizer(LexicalConfig(language="german"))("Die Häuser") == ["die", "haus"]  # no German stopwords


def test_identifiers_are_indexed_whole_and_by_their_parts() -> None:
    tokenize = Tokenizer(LexicalConfig(stemmer=False, stopwords=False))
    assert tokenize("writeBoolean") == ["writeboolean", "write", "boolean"]
    assert tokenize("TYPE_BOOL x HTTPServer") == [
        "type_bool",
        "type",
        "bool",
        "x",
        "httpserver",
        "http",
        "server",
    ]
    assert tokenize("__init__ Q3 2023 utf8") == ["__init__", "init", "q3", "2023", "utf8"]


def test_candidates_of_one_chunk_each_need_no_document_scores(lexical: LexicalIndex) -> None:
    # notes.txt and 10q.pdf hold one chunk each: their documents add nothing to their chunks' own scores
    assert lexical.document_scores(Query("runners revenue"), {"notes.txt", "10q.pdf"}) == {}
    assert set(lexical.document_scores(Query("runners burrs"), {"notes.txt", "handbook.pdf"})) == {
        "notes.txt",
        "handbook.pdf",
    }


def test_texts_without_a_file_are_documents_of_their_own(lexical: LexicalIndex) -> None:
    lexical.upsert([Chunk("m", "text:m", "Clean the burrs of the Aurora weekly.", 0, 37)])
    scores = bm25_of(lexical.document_scores(Query("clean burrs"), {"text:m", "handbook.pdf"}))
    assert set(scores) == {"text:m", "handbook.pdf"}
    assert scores["text:m"] > scores["handbook.pdf"] > 0  # one short text holding both terms beats a file
    # A conversation's turns name one document: they count as one, like the chunks of one file.
    turns = [
        Chunk(id_, "chat-7", text, 0, len(text)) for id_, text in [("t1", "Clean it."), ("t2", "Weekly.")]
    ]
    lexical.upsert(turns)
    assert lexical.document_scores(Query("clean weekly"), {"chat-7"})["chat-7"].chunks == 2


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
    index.upsert(chunks({id_: (text, {"source": f"{id_}.txt"}) for id_, (text, _) in odd.items()}))
    second = {f"{id_}+": ("and more", {"source": f"{id_}.txt"}) for id_ in odd}  # two chunks a file
    index.upsert(chunks(second))
    index.merge()  # counted by tantivy's aggregations, whose filters are query strings
    files = index.document_scores(
        Query('日本 بالعالم "quoted" NEAR( col:on ☕ coffee'), {f"{i}.txt" for i in odd}
    )
    assert {name for name, score in files.items() if score.bm25 > 0} == {
        "cjk.txt",
        "arabic.txt",
        "syntax.txt",
        "emoji.txt",
    }
    assert index.count() == 2 * len(odd)


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
    index.upsert(chunks()[:2])
    index.merge()
    index.upsert(chunks()[2:])  # two indexed, two buffered
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


def test_heading_path_words_are_indexed_when_turned_on(tmp_path: Path) -> None:
    meta = {"source": "notes.md", "header_path": "Maintenance > Descaling"}
    under = {"x": ("Use citric acid monthly.", meta)}
    on = LexicalIndex(tmp_path / "on", LexicalConfig(headers=True))
    off = LexicalIndex(tmp_path / "off", LexicalConfig())
    for index in (on, off):
        index.upsert(chunks(under))
    assert ranked(on, "descaling") == ["x"] and ranked(off, "descaling") == []
    assert on.search(Query("descaling"), 1)[0].text == "Use citric acid monthly."  # the text is unchanged
    assert ranked(on, "notes") == ["x"]  # beside the file name's words
    assert on.settings != off.settings  # toggling it rebuilds the index from the stored texts


def corpus(n: int, topic: str) -> dict[str, tuple[str, dict]]:
    words = "grinder burrs kettle harbour revenue quarter brush steel coffee river".split()
    return {
        f"{topic}-{i}": (f"{topic} {words[i % 10]} {words[(i * 3) % 10]} note {i} " * (1 + i % 3), {})
        for i in range(n)
    }


def test_buffered_writes_rank_as_they_will_once_merged(tmp_path: Path) -> None:
    buffered = LexicalIndex(tmp_path / "buffered", LexicalConfig())
    buffered.upsert(chunks(corpus(200, "old")))  # over the buffer's limit: straight to tantivy
    for chunk in chunks(corpus(12, "new")):  # one at a time, as an agent adds memories
        buffered.upsert([chunk])
    assert buffered._buffer.count() == 12
    merged = LexicalIndex(tmp_path / "merged", LexicalConfig())
    merged.upsert(chunks({**corpus(200, "old"), **corpus(12, "new")}))
    for text in ["new kettle", "grinder note", "harbour revenue quarter", "new coffee river brush"]:
        # Every match (ties make the order of equal scores, and so a top-k cut, arbitrary).
        got = {h.id: (h.score, h.text) for h in buffered.search(Query(text), 300)}
        want = {h.id: (h.score, h.text) for h in merged.search(Query(text), 300)}
        assert got.keys() == want.keys() and any(id_.startswith("new") for id_ in got)
        for id_, (score, text_) in got.items():
            assert text_ == want[id_][1] and score == pytest.approx(want[id_][0], rel=0.02, abs=0.01)
    assert buffered.ids() == merged.ids() and buffered.count() == merged.count() == 212
    # A filter selects hits, not statistics: a buffered chunk filtered out still counts, as once merged.
    some = {f"new-{i}" for i in range(0, 12, 3)} | {f"old-{i}" for i in range(0, 200, 7)}
    buffered.filter_ids = merged.filter_ids = lambda where, where_document: some
    got = {h.id: h.score for h in buffered.search(Query("new kettle"), 300, where={"any": "filter"})}
    want = {h.id: h.score for h in merged.search(Query("new kettle"), 300, where={"any": "filter"})}
    assert got.keys() == want.keys() and got.keys() <= some and any(id_.startswith("new") for id_ in got)
    assert all(got[id_] == pytest.approx(want[id_], rel=0.02, abs=0.01) for id_ in got)
    unfiltered = {h.id: h.score for h in merged.search(Query("new kettle"), 300)}
    assert all(want[id_] == pytest.approx(unfiltered[id_]) for id_ in want)  # the filter adds no score


def test_buffered_deletes_and_replacements_hide_what_they_supersede(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    index.upsert(chunks(corpus(100, "old")))
    index.upsert(chunks({"old-1": ("Bananas are yellow.", {})}))
    index.delete(["old-2"])
    assert index._buffer.count() == 2 and "old-2" not in index.ids() and index.count() == 99
    assert ranked(index, "banana") == ["old-1"]
    found = ranked(index, "old kettle grinder burrs harbour revenue quarter brush steel coffee river", k=200)
    assert "old-1" not in found and "old-2" not in found and len(found) == 98
    again = LexicalIndex(tmp_path / "lexical", LexicalConfig())  # the buffer is durable
    assert again.ids() == index.ids() and ranked(again, "banana") == ["old-1"]


KILLED_MID_MERGE = """
import os, signal, sys
from rag_index.storage.lexical import LexicalConfig, LexicalIndex
from rag_index.storage.lexical_buffer import WriteBuffer
from tests.test_lexical import BUFFER_LIMIT, chunks, corpus

index = LexicalIndex(sys.argv[1], LexicalConfig())
many = chunks(corpus(BUFFER_LIMIT + 1, "m"))
for chunk in many[:BUFFER_LIMIT]:
    index.upsert([chunk])
# Killed after tantivy committed the merge, before the buffer was emptied.
WriteBuffer.drop = lambda self, through=None: os.kill(os.getpid(), signal.SIGKILL)
index.upsert([many[-1]])
"""


def test_the_buffer_merges_once_full_and_a_merge_killed_midway_is_redone(tmp_path: Path) -> None:
    path = tmp_path / "lexical"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_MERGE, str(path)], cwd=REPO, capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    index = LexicalIndex(path, LexicalConfig())
    many = chunks(corpus(BUFFER_LIMIT + 1, "m"))
    assert index._searcher().num_docs == len(many)  # the merge was committed, buffer and all
    assert index.ids() == {c.id for c in many} and index._buffer.count() == BUFFER_LIMIT
    index.merge()  # the same writes again: nothing changes but the buffer
    assert index._buffer.count() == 0 and index._searcher().num_docs == len(many)
    assert index.ids() == {c.id for c in many}


def test_an_index_of_an_older_engine_is_replaced_on_reset(tmp_path: Path) -> None:
    import tantivy

    path = tmp_path / "lexical"
    path.mkdir()
    builder = tantivy.SchemaBuilder()  # tantivy/1's schema: no source field
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    tantivy.Index(builder.build(), path=str(path))
    (path / "rag-index.json").write_text('{"collection_id": "c", "settings": {"engine": "tantivy/1"}}')
    index = LexicalIndex(path, LexicalConfig())
    assert not index.describes("c")  # so the next run rebuilds it
    index.reset()
    index.upsert(chunks(corpus(BUFFER_LIMIT + 1, "n")))  # straight to tantivy, with the new schema
    index.mark("c")
    assert index.describes("c") and index.count() == BUFFER_LIMIT + 1


def test_reset_empties_the_buffer_too(lexical: LexicalIndex) -> None:
    lexical.upsert(chunks({"e": ("Espresso needs fine grounds.", {})}))
    lexical.reset()
    assert lexical.count() == 0 and lexical.ids() == set() and ranked(lexical, "espresso") == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aBcXyZ_9é É-.\n"), max_size=60))
def test_identifier_pattern_finds_what_the_unanchored_one_did(text: str) -> None:
    """Anchored at word starts for speed (it was quadratic in a word's length), it finds the same matches."""
    unanchored = re.compile(r"\w*(?:_|[a-z0-9][A-Z]|[A-Z][A-Z][a-z])\w*")
    assert [m.span() for m in _IDENTIFIER.finditer(text)] == [m.span() for m in unanchored.finditer(text)]


def test_holds_exactly_counts_ids_without_reading_chunks(lexical: LexicalIndex) -> None:
    """verify's cheap check: exactly these ids (buffered or merged alike), else the full read decides."""
    assert lexical.holds_exactly({"a", "b", "c", "d"})
    assert not lexical.holds_exactly({"a", "b", "c"})  # a stray id
    assert not lexical.holds_exactly({"a", "b", "c", "d", "e"})  # a missing id
    assert not lexical.holds_exactly({"a", "b", "c", "x"})  # as many, but not the same
    lexical.delete(["d"])
    assert lexical.holds_exactly({"a", "b", "c"})
    empty = LexicalIndex(lexical.path.parent / "empty", LexicalConfig())
    assert empty.holds_exactly(set()) and not empty.holds_exactly({"a"})


def test_a_reader_sees_each_write_of_another_instance_at_once(tmp_path: Path) -> None:
    """What a searching process keeps between searches (the buffer's rows, tantivy's searcher, the
    counts of documents) follows every write another process makes: buffered, deleted and merged."""
    reader = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    writer = LexicalIndex(tmp_path / "lexical", LexicalConfig())
    writer.upsert(chunks(corpus(100, "old")))  # over the buffer's limit: straight to tantivy
    query = Query("kettle harbour")
    for write in [
        lambda: writer.upsert(chunks({"memo": ("A kettle by the harbour.", {"source": "memo.txt"})})),
        lambda: writer.upsert(chunks({"memo-2": ("The harbour kettle again.", {"source": "memo.txt"})})),
        lambda: writer.delete(["memo"]),
        writer.merge,
    ]:
        ranked(reader, "kettle harbour")  # keeps what it read
        write()
        fresh = LexicalIndex(tmp_path / "lexical", LexicalConfig())
        assert reader.search(query, 300) == fresh.search(query, 300)
        documents = {"memo.txt", "old-1", "old-2"}
        assert reader.document_scores(query, documents) == fresh.document_scores(query, documents)
