"""Heading paths: which headings a chunk sits under ("Guide > Install > Linux"), for metadata and embedding.

Markdown-shaped text (the md, docx, pptx and html loaders write headings as ATX '#' lines) is read for its
headings; other documents keep the ``header_path`` their loader gave them (a PDF page: its outline entry).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable

from rag_index.types import HEADER_SEPARATOR as SEPARATOR
from rag_index.types import Document

HEADER_CHARS = 96  # of a heading path embedded with its chunk: a couple of dozen tokens of the model's input
# Formats whose loaders write headings as '#' lines and escape lines that only look like one. Plain text is
# not read for headings: a '#' line there is as often a comment as a heading.
MARKDOWN_FORMATS = frozenset({"md", "docx", "pptx", "html"})

_ATX_HEADER = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def markdown_sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, header path) of each section; a section starts at its ATX header line."""
    sections: list[tuple[int, str]] = [(0, "")]
    path: list[tuple[int, str]] = []
    fence, pos = "", 0
    for line in text.split("\n"):  # not splitlines(): a form feed or U+2028 does not end a markdown line
        content = line.rstrip()
        opening = _FENCE.match(content)
        header = _ATX_HEADER.fullmatch(content)
        if fence:  # '#' inside a fenced code block is code (a comment, a shell prompt), not a header
            marker = opening.group(1) if opening else ""
            if marker[:1] == fence[0] and len(marker) >= len(fence) and content.strip() == marker:
                fence = ""
        elif opening:
            fence = opening.group(1)
        elif header:
            level = len(header.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, _CLOSING_HASHES.sub("", header.group(2) or "").strip()))
            if sections[-1][0] == pos:
                sections.pop()
            sections.append((pos, SEPARATOR.join(title for _, title in path)))
        pos += len(line) + 1
    ends = [start for start, _ in sections[1:]] + [len(text)]
    return [(start, end, header_path) for (start, header_path), end in zip(sections, ends, strict=True)]


def header_paths(document: Document, markdown: bool = False) -> Callable[[int], str]:
    """The heading path in force at each offset of document ("" where none).

    Its Markdown headings when its format is Markdown-shaped (any format with ``markdown``; a document
    without one, made by hand, too), else, and where no heading precedes the offset, the ``header_path``
    its loader gave it.
    """
    own = str(document.metadata.get("header_path") or "")
    fmt = document.metadata.get("format")
    if not (markdown or fmt is None or fmt in MARKDOWN_FORMATS):
        return lambda offset: own
    sections = markdown_sections(document.text)
    starts = [start for start, _, _ in sections]
    return lambda offset: sections[max(bisect_right(starts, offset) - 1, 0)][2] or own


def shortened(path: str, limit: int = HEADER_CHARS) -> str:
    """path within limit characters: its outermost headings dropped first, then the innermost one cut."""
    parts = path.split(SEPARATOR)
    while len(parts) > 1 and len(SEPARATOR.join(parts)) > limit:
        parts.pop(0)
    return SEPARATOR.join(parts)[:limit]
