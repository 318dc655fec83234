"""Word (.docx) to Markdown-shaped text: paragraphs and tables in body order, headings as ATX headers.

Headings become '# Title' lines, so every chunking strategy gives a .docx the same ``header_path``
metadata as a .md file. python-docx reads the package and the styles; the body is walked here because
python-docx's conveniences skip text a reader sees: content controls (``w:sdt``, common in templates) and
tracked insertions (``w:ins``) that are not accepted yet.
"""

from __future__ import annotations

import re
from typing import Any

from rag_index.loaders.base import LoadError, one_line
from rag_index.loaders.ooxml import clean_text, escape_markdown, one_line_text, open_package

# Built-in heading styles are stored under their English names whatever the language of Word.
_HEADING = re.compile(r"heading ([1-6])", re.IGNORECASE)
_TITLE_LEVEL = 1
_MAX_STYLE_DEPTH = 16  # base-style chains are short; a cycle in a broken file must not hang the loader


def _w(tag: str) -> str:
    return "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}" + tag


_P, _TBL, _SDT, _SDT_CONTENT, _R = _w("p"), _w("tbl"), _w("sdt"), _w("sdtContent"), _w("r")
_CUSTOM_XML = _w("customXml")
# Elements inside a paragraph whose runs are visible text. Deleted runs (w:del, w:moveFrom) are not.
_RUN_CONTAINERS = frozenset(
    _w(tag) for tag in ("hyperlink", "ins", "moveTo", "smartTag", "fldSimple", "customXml", "dir", "bdo")
)


def docx_text(data: bytes, headers_footers: bool = False) -> str:
    """The document's text: headings as '#' lines, paragraphs and table rows ('a | b') in body order.

    Page headers and footers are left out unless ``headers_footers`` (they repeat on every page). Raises
    LoadError for an empty, encrypted, corrupt or text-less document.
    """
    import docx

    document = open_package(data, "DOCX", docx.Document)
    try:
        blocks = _blocks(document.element.body, document, markdown=True)
        if headers_footers:
            blocks = (
                _headers_footers(document, footer=False) + blocks + _headers_footers(document, footer=True)
            )
    except LoadError:
        raise
    except Exception as err:  # a part that parsed but does not hold together (a dangling style, ...)
        raise LoadError(f"corrupt DOCX: {type(err).__name__}: {one_line(err)}") from None
    text = "\n\n".join(block for block in blocks if block)
    if not text:
        raise LoadError("no text in document")
    return text


def _blocks(container: Any, parent: Any, markdown: bool) -> list[str]:
    """The text of each paragraph and table directly in container (a body, cell, header), in order."""
    from docx.text.paragraph import Paragraph

    blocks: list[str] = []
    for child in container.iterchildren():
        if child.tag == _P:
            blocks.append(_paragraph(Paragraph(child, parent), markdown))
        elif child.tag == _TBL:
            blocks.append("\n".join(_table_rows(child, parent)))
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                blocks.extend(_blocks(content, parent, markdown))
        elif child.tag == _CUSTOM_XML:
            blocks.extend(_blocks(child, parent, markdown))
    return [block for block in blocks if block]


def _paragraph(paragraph: Any, markdown: bool) -> str:
    text = clean_text(_inline_text(paragraph._p))
    if not text or not markdown:
        return text
    level = _heading_level(paragraph)
    if level:
        return "#" * level + " " + one_line_text(text)
    return escape_markdown(text)


def _inline_text(element: Any) -> str:
    """The visible text of a paragraph's runs, also those in links, insertions and content controls."""
    parts: list[str] = []
    for child in element.iterchildren():
        if child.tag == _R:
            parts.append(child.text)  # python-docx's CT_R.text: w:t, tabs and breaks, not field codes
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                parts.append(_inline_text(content))
        elif child.tag in _RUN_CONTAINERS:
            parts.append(_inline_text(child))
    return "".join(parts)


def _heading_level(paragraph: Any) -> int:
    """1-6 for a paragraph in a Heading 1-6 or Title style, or a style based on one; else 0."""
    style = paragraph.style
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return 0
        name = style.name or ""
        found = _HEADING.fullmatch(name)
        if found:
            return int(found.group(1))
        if name.lower() == "title":
            return _TITLE_LEVEL
        style = style.base_style
    return 0


def _table_rows(table: Any, parent: Any) -> list[str]:
    """One line per row, its non-empty cells joined by ' | ' (a merged cell appears once)."""
    rows: list[str] = []
    for row in table.tr_lst:
        # tc_lst holds each cell once: a horizontally merged cell is one w:tc, and the continuation of a
        # vertically merged one is empty.
        cells = [
            " ".join(one_line_text(b) for b in _blocks(cell, parent, markdown=False)) for cell in row.tc_lst
        ]
        line = " | ".join(cell for cell in cells if cell)
        if line:
            rows.append(escape_markdown(line))
    return rows


def _headers_footers(document: Any, footer: bool) -> list[str]:
    """The distinct texts of the page headers (or footers) that the document shows, section by section."""
    even_pages = document.settings.odd_and_even_pages_header_footer
    texts: list[str] = []
    for section in document.sections:
        parts = [section.footer if footer else section.header]
        if section.different_first_page_header_footer:
            parts.append(section.first_page_footer if footer else section.first_page_header)
        if even_pages:
            parts.append(section.even_page_footer if footer else section.even_page_header)
        for part in parts:
            if part.is_linked_to_previous:  # no definition of its own: the previous section's shows
                continue
            text = "\n\n".join(_blocks(part._element, part, markdown=False))
            if text and text not in texts:
                texts.append(text)
    return texts
