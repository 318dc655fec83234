"""PDF outlines (bookmarks) as heading paths: the entry that covers each page, with its ancestors.

A page's path is that of the nearest entry at or before it: the last entry pointing at the page, else the
path of the page before. Entries are read in outline order, which is the reading order readers show.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rag_index.types import HEADER_SEPARATOR as SEPARATOR

MAX_ENTRIES = (
    10_000  # of one outline: a real table of contents has hundreds; more is a broken or hostile file
)
MAX_DEPTH = 16  # nesting read from a pypdf outline (pypdfium2 stops at 15 on its own)


class OutlineEntry(NamedTuple):
    """One bookmark: its nesting level (0 outermost), title and the page it points to (from 1, or None)."""

    level: int
    title: str
    page: int | None


def page_paths(entries: list[OutlineEntry], pages: int) -> list[str]:
    """The heading path of each page 1..pages ("" before the first entry), from the outline's entries."""
    stack: list[tuple[int, str]] = []
    at_page: dict[int, str] = {}
    for entry in entries[:MAX_ENTRIES]:
        stack = [(level, title) for level, title in stack if level < entry.level]
        stack.append((entry.level, " ".join(entry.title.split())))
        if entry.page is not None and 1 <= entry.page <= pages:
            at_page[entry.page] = SEPARATOR.join(title for _, title in stack if title)
    paths, current = [], ""
    for page in range(1, pages + 1):
        current = at_page.get(page, current)
        paths.append(current)
    return paths


def pdfium_outline(pdf: Any) -> list[OutlineEntry]:
    """The outline of an open pypdfium2 PdfDocument."""
    entries = []
    for bookmark in pdf.get_toc(max_depth=MAX_DEPTH - 1):
        dest = bookmark.get_dest()
        index = dest.get_index() if dest is not None else None
        entries.append(
            OutlineEntry(bookmark.level, bookmark.get_title(), None if index is None else index + 1)
        )
        if len(entries) >= MAX_ENTRIES:
            break
    return entries


def pypdf_outline(reader: Any) -> list[OutlineEntry]:
    """The outline of a pypdf PdfReader: its nested lists flattened, children after their parent."""
    entries: list[OutlineEntry] = []
    stack: list[tuple[list[Any], int]] = [(list(reader.outline), 0)]
    while stack and len(entries) < MAX_ENTRIES:
        items, level = stack.pop()
        for i, item in enumerate(items):
            if isinstance(item, list):  # the children of the entry before it
                if level + 1 < MAX_DEPTH:
                    stack.append((items[i + 1 :], level))  # its siblings after the children
                    stack.append((item, level + 1))
                    break
                continue
            index = reader.get_destination_page_number(item)
            page = index + 1 if isinstance(index, int) and index >= 0 else None
            entries.append(OutlineEntry(level, str(item.title or ""), page))
    return entries
