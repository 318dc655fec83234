"""PowerPoint (.pptx) to text, one string per slide: title, text frames, tables and speaker notes.

Each slide becomes its own Document with ``page`` = slide number, so a citation reads "deck.pptx p.7". The
title is a '# ' line (so its chunks get ``header_path`` = the slide title).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag_index.loaders.base import LoadError, one_line
from rag_index.loaders.ooxml import clean_text, escape_markdown, one_line_text, open_package


def pptx_slides(data: bytes, notes: bool = True) -> list[tuple[int, str]]:
    """``(slide number from 1, text)`` for each slide with text; speaker notes included when ``notes``.

    Raises LoadError for an empty, encrypted or corrupt presentation, or one without any text.
    """
    from pptx import Presentation

    presentation = open_package(data, "PPTX", Presentation)
    try:
        texts = [_slide_text(slide, notes) for slide in presentation.slides]
    except Exception as err:  # a slide part that parsed but does not hold together
        raise LoadError(f"corrupt PPTX: {type(err).__name__}: {one_line(err)}") from None
    if not texts:
        raise LoadError("presentation has no slides")
    slides = [(number, text) for number, text in enumerate(texts, start=1) if text]
    if not slides:
        raise LoadError("no text in presentation")
    return slides


def _slide_text(slide: Any, notes: bool) -> str:
    title = slide.shapes.title
    blocks: list[str] = []
    if title is not None and (heading := one_line_text(title.text_frame.text)):
        blocks.append("# " + heading)
    for shape in _shapes(slide.shapes):
        if title is not None and shape.shape_id == title.shape_id:
            continue
        if shape.has_text_frame:
            blocks.append(escape_markdown(clean_text(shape.text_frame.text)))
        elif shape.has_table:
            blocks.append("\n".join(_table_rows(shape.table)))
    if notes and slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        if frame is not None:
            blocks.append(escape_markdown(clean_text(frame.text)))
    return "\n\n".join(block for block in blocks if block)


def _shapes(shapes: Any) -> Iterator[Any]:
    """Shapes in order, group members in place of their group; no slide-number, date or footer placeholder."""
    from pptx.enum.shapes import PP_PLACEHOLDER
    from pptx.shapes.group import GroupShape

    # These repeat on every slide, like a document's page headers: noise for retrieval.
    repeated = {PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER}
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        elif not (shape.is_placeholder and shape.placeholder_format.type in repeated):
            yield shape


def _table_rows(table: Any) -> list[str]:
    """One line per row, its non-empty cells joined by ' | ' (cells covered by a merge are skipped)."""
    rows: list[str] = []
    for row in table.rows:
        cells = [one_line_text(cell.text_frame.text) for cell in row.cells if not cell.is_spanned]
        line = " | ".join(cell for cell in cells if cell)
        if line:
            rows.append(escape_markdown(line))
    return rows
