"""Chunking: split a Document into Chunks sized in the embedder's tokens or in characters.

Every chunk is an exact span of its document (``document.text[start:end] == chunk.text``), starts and
ends on non-whitespace, and the chunks of a document leave out nothing but whitespace.

Token counts come from one ``tokenizer.token_spans(text)`` call per document: the tokens of a span are
the document's tokens that intersect it (found by bisection, so chunking stays O(n log n)). Where a chunk
edge may cut through a word (neither neighbouring character is whitespace or punctuation: only when a
word alone is over ``size``, or in the ``token`` strategy), the chunk alone can tokenize differently
("##vable" alone is "va ##ble"), so such a chunk is re-tokenized, and shrunk until the embedder,
which sees the chunk alone, counts at most ``size`` tokens too.

``markdown`` chunks stay inside one section (an ATX header line and the text up to the next header; the
header line stays in the chunk text). Chunks of every strategy carry ``header_path`` ("H1 > H2 > H3", the
headings in force where the chunk starts; see rag_index/chunking/headers.py) in their metadata when they
sit under a heading.

What ``overlap`` means, per strategy (always counted in ``unit``, on the stripped shared span):

- ``token``: windows of ``size`` units with stride ``size - overlap``; consecutive windows share exactly
  ``overlap`` tokens (with unit="characters": at most ``overlap`` characters, fewer where whitespace at a
  window edge was trimmed). A window shrunk to fit, as above, may share fewer.
- ``recursive``, ``sentence``, ``markdown``: chunks are made of whole pieces (paragraphs, lines, sentences,
  words, then hard cuts); the next chunk starts with the longest run of trailing pieces of the previous
  one that counts at most ``overlap`` units and still leaves room for a new piece, so the shared span is
  at most ``overlap`` units and is empty when the last piece alone is over ``overlap``. ``markdown`` never
  overlaps across sections.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

from pydantic import Field, field_validator, model_validator

from rag_index.chunking.headers import header_paths, markdown_sections, shortened
from rag_index.settings import Section, one_of, validated
from rag_index.types import Chunk, Document, Tokenizer, stable_id

Span = tuple[int, int]
FILE_NAME_CHARS = 48  # of a file's name embedded with its chunks: a few tokens of the model's input

# Separators, coarsest first. A cut goes right after a separator: it stays with the text before it.
_PARAGRAPH = re.compile(r"\n\s*\n")
_LINE = re.compile(r"\n")
# Sentence ends: . ! ? or an ellipsis, then closing quotes/brackets and whitespace; or a CJK full stop, which
# needs no space after it.
_SENTENCE = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019\uff09]*\s*"
)
_WORD = re.compile(r"\s+")
_RECURSIVE = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)
# A blank line ends a sentence too, so a title is not glued to the first sentence below it.
_SENTENCE_OR_PARAGRAPH = re.compile(f"{_PARAGRAPH.pattern}|{_SENTENCE.pattern}")


def _ends_word(char: str) -> bool:
    # Where WordPiece-like tokenizers always end a word. Not all of str.isspace(): BERT deletes control
    # characters such as form feed, which joins the words on either side.
    return char in " \t\n\r" or unicodedata.category(char) == "Zs" or unicodedata.category(char)[0] == "P"


class Chunker(Protocol):
    """Splits one Document into Chunks, and says which settings decide the split."""

    @property
    def settings(self) -> dict[str, Any]:
        """What decides the chunks (a change re-chunks every file of an index)."""
        ...

    def split(self, document: Document) -> list[Chunk]:
        """The chunks of document, in order of their start offset."""
        ...

    def embedding_text(self, chunk: Chunk) -> str:
        """What the embedder sees of chunk (its text, perhaps with the name of its file)."""
        ...


class _Text:
    """One document's text and unit counts: the primitives strategies cut with."""

    def __init__(self, text: str, size: int, overlap: int, tokenizer: Tokenizer | None) -> None:
        self.text, self.size, self.overlap, self.tokenizer = text, size, overlap, tokenizer
        self.starts: Sequence[int] = range(len(text))  # a character is a unit when counting characters
        self.ends: Sequence[int] = range(1, len(text) + 1)
        if tokenizer is not None:
            spans = sorted(span for span in tokenizer.token_spans(text) if span[1] > span[0])
            self.starts = [start for start, _ in spans]
            self.ends = sorted(end for _, end in spans)

    def strip(self, a: int, b: int) -> Span:
        """[a, b) without leading and trailing whitespace (a == b when nothing is left)."""
        while a < b and self.text[a].isspace():
            a += 1
        while b > a and self.text[b - 1].isspace():
            b -= 1
        return a, b

    def _units(self, a: int, b: int) -> int:
        if a >= b:
            return 0
        if self.tokenizer is None:
            return b - a
        return bisect_left(self.starts, b) - bisect_right(self.ends, a)

    def count(self, a: int, b: int) -> int:
        """Units in the stripped span: characters, or the document's tokens that intersect it."""
        return self._units(*self.strip(a, b))

    def _cuts_word(self, i: int) -> bool:
        """Whether a cut at i may split what the tokenizer treats as one word."""
        return 0 < i < len(self.text) and not (_ends_word(self.text[i - 1]) or _ends_word(self.text[i]))

    def fits(self, a: int, b: int) -> bool:
        """Whether the stripped span holds at most size units, also when tokenized on its own."""
        a, b = self.strip(a, b)
        if self._units(a, b) > self.size:
            return False
        if self.tokenizer is None or not (self._cuts_word(a) or self._cuts_word(b)):
            return True
        return len(self.tokenizer.token_spans(self.text[a:b])) <= self.size

    def windows(self, a: int, b: int, overlap: int) -> list[Span]:
        """Windows of up to size units over [a, b), each starting overlap units before the last one ended."""
        lo, hi = bisect_left(self.starts, a), bisect_left(self.starts, b)
        windows: list[Span] = []
        i = lo
        while True:
            while i < hi and self.text[self.starts[i]].isspace():  # a character window starts on text
                i += 1
            if i >= hi:
                break
            # The first window keeps text before the first unit (that a tokenizer may drop); so does each
            # window's end, which runs to the next unit's start.
            start = a if i == lo else self.starts[i]
            j = min(i + self.size, hi)
            while j - i > 1 and not self.fits(start, self.starts[j] if j < hi else b):
                j -= 1
            windows.append((start, self.starts[j] if j < hi else b))
            if j == hi:
                break
            i = max(j - overlap, i + 1)
        return windows or [(a, b)]

    def cut(self, a: int, b: int, separator: re.Pattern[str]) -> list[Span]:
        """[a, b) cut after each separator; whitespace-only segments join the segment before them."""
        cuts = [m.end() for m in separator.finditer(self.text, a, b) if a < m.end() < b]
        segments: list[Span] = []
        for x, y in zip([a, *cuts], [*cuts, b], strict=True):
            stripped = self.strip(x, y)
            if segments and stripped[0] >= stripped[1]:
                segments[-1] = (segments[-1][0], y)
            else:
                segments.append((x, y))
        return segments

    def split(self, a: int, b: int, separators: Sequence[re.Pattern[str]]) -> list[Span]:
        """Contiguous pieces of [a, b) that each fit, cut at the coarsest useful separator, else by unit."""
        if self.fits(a, b):
            return [(a, b)]
        if not separators:
            return self.windows(a, b, 0)
        return [piece for x, y in self.cut(a, b, separators[0]) for piece in self.split(x, y, separators[1:])]

    def merge(self, pieces: list[Span]) -> list[Span]:
        """Greedily pack adjacent pieces up to size; each chunk restarts at trailing pieces within overlap."""
        chunks, i = [], 0
        while i < len(pieces):
            j = i + 1
            while j < len(pieces) and self.fits(pieces[i][0], pieces[j][1]):
                j += 1
            chunks.append((pieces[i][0], pieces[j - 1][1]))
            if j == len(pieces):
                break
            k = j
            while (
                self.overlap  # with overlap 0, even pieces that count 0 units must not repeat
                and k - 1 > i
                and self.count(pieces[k - 1][0], pieces[j - 1][1]) <= self.overlap
                and self.fits(pieces[k - 1][0], pieces[j][1])
            ):
                k -= 1
            i = k
        return chunks


def _recursive(t: _Text) -> list[Span]:
    return t.merge(t.split(*t.strip(0, len(t.text)), _RECURSIVE))


def _sentence(t: _Text) -> list[Span]:
    sentences = t.cut(*t.strip(0, len(t.text)), _SENTENCE_OR_PARAGRAPH)
    return t.merge([piece for x, y in sentences for piece in t.split(x, y, (_LINE, _WORD))])


def _token(t: _Text) -> list[Span]:
    return t.windows(0, len(t.text), t.overlap)


def _markdown(t: _Text) -> list[Span]:
    return [
        span
        for start, end, _ in markdown_sections(t.text)
        for span in t.merge(t.split(*t.strip(start, end), _RECURSIVE))
    ]


_STRATEGIES: dict[str, Callable[[_Text], list[Span]]] = {
    "markdown": _markdown,
    "recursive": _recursive,
    "sentence": _sentence,
    "token": _token,
}
STRATEGIES: tuple[str, ...] = tuple(sorted(_STRATEGIES))
UNITS = ("characters", "tokens")


class ChunkingConfig(Section):
    """How documents are split; size and overlap count `unit`s (the embedder's tokens by default)."""

    strategy: str = Field(
        default="recursive",
        description="recursive: paragraphs, then lines, sentences, words; sentence: sentences packed up to "
        "size; token: fixed windows of size tokens; markdown: header sections, then as recursive.",
        json_schema_extra={"choices": list(STRATEGIES)},
    )
    size: int = Field(
        default=200,
        gt=0,
        description="Chunk size in units; in tokens it must fit the model (254 for all-MiniLM-L6-v2).",
    )
    overlap: int = Field(
        default=20, ge=0, description="Units shared by consecutive chunks (at most; exactly for token)."
    )
    unit: str = Field(
        default="tokens",
        description="tokens: the embedder's own tokenizer; characters.",
        json_schema_extra={"choices": list(UNITS)},
    )
    # Embed each chunk with its file's name ("2023 Q3 AAPL"): files are often named for what they hold,
    # and most of their chunks never say it.
    file_names: bool = Field(
        default=True,
        description="Embed each chunk after its file's name without the extension (first 48 characters); "
        "the chunk text stored and returned stays as it is.",
    )
    # A section's chunks rarely repeat its heading ("Burr care", "Item 2. Risk Factors"), which says what
    # they are about.
    headers: bool = Field(
        default=False,
        description="Embed each chunk after its heading path (its header_path metadata: Markdown, HTML and "
        "Word headings, slide titles, PDF outline entries; at most 96 characters, outer headings dropped "
        "first), after the file's name; the chunk text stored and returned stays as it is.",
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        return one_of(value, list(STRATEGIES))

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        return one_of(value, list(UNITS))

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


@dataclass(frozen=True)
class StrategyChunker:
    """A registered strategy with its size and overlap in unit; tokenizer is None when counting characters."""

    strategy: str
    size: int
    overlap: int
    unit: str
    tokenizer: Tokenizer | None
    file_names: bool = False
    headers: bool = False

    @property
    def settings(self) -> dict[str, Any]:
        """The `chunking:` section this chunker was made from."""
        return {
            "strategy": self.strategy,
            "size": self.size,
            "overlap": self.overlap,
            "unit": self.unit,
            "file_names": self.file_names,
            "headers": self.headers,
        }

    def embedding_text(self, chunk: Chunk) -> str:
        """The chunk's text, after (with file_names) its file's name without the extension and (with
        headers) its heading path, one line each.

        Before the text, where the model reads it as the subject (measured: after it helped half as much).
        The name is cut to FILE_NAME_CHARS and the path to HEADER_CHARS; a chunk that fills the model's
        input loses its last tokens to them, which the run reports as truncated.
        """
        source, path = chunk.metadata.get("source"), chunk.metadata.get("header_path")
        lines = [PurePosixPath(str(source)).stem[:FILE_NAME_CHARS]] if self.file_names and source else []
        lines += [shortened(str(path))] if self.headers and path else []
        return "\n".join([*lines, chunk.text])

    def split(self, document: Document) -> list[Chunk]:
        """The chunks of document, in order of their start offset."""
        text = _Text(document.text, self.size, self.overlap, self.tokenizer)
        path_at = header_paths(document, markdown=self.strategy == "markdown")
        chunks: list[Chunk] = []
        for span in _STRATEGIES[self.strategy](text):
            start, end = text.strip(*span)
            # Trimming whitespace can leave a character window blank, or inside the window before it.
            if start >= end or (chunks and end <= chunks[-1].end):
                continue
            metadata = {**document.metadata, "start": start, "end": end, "chunk_index": len(chunks)}
            metadata.pop("header_path", None)
            if path := path_at(start):
                metadata["header_path"] = path
            chunk_id = stable_id(document.id, start, end)
            chunks.append(Chunk(chunk_id, document.id, document.text[start:end], start, end, metadata))
        return chunks


def make_chunker(
    strategy: str,
    size: int,
    overlap: int,
    unit: str,
    tokenizer: Tokenizer | None = None,
    max_tokens: int | None = None,
    *,
    file_names: bool = False,
    headers: bool = False,
) -> Chunker:
    """A chunker for a registered strategy, checked here so a bad config fails before any file is read.

    With unit="tokens", tokenizer must be the embedder's and size at most max_tokens (the tokens the
    embedder keeps of one chunk: its max_length less special tokens); max_tokens is unused for characters.
    """
    settings = dict(
        strategy=strategy, size=size, overlap=overlap, unit=unit, file_names=file_names, headers=headers
    )
    validated(ChunkingConfig, settings, "chunking.")  # the config's own rules and messages
    if unit == "tokens":
        if tokenizer is None:
            raise ValueError("unit 'tokens' needs the embedder's tokenizer to count tokens")
        if max_tokens is not None and size > max_tokens:
            raise ValueError(
                f"chunk size {size} tokens is over the embedder's limit of {max_tokens} tokens per chunk "
                f"(its max_length less special tokens and prefix); longer chunks would be truncated when "
                f"embedded, so use a size of at most {max_tokens}"
            )
    kept = tokenizer if unit == "tokens" else None
    return StrategyChunker(strategy, size, overlap, unit, kept, file_names, headers)
