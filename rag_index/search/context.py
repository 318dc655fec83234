"""Retrieved chunks as a context block for a generator, with numbered citations ([1] source p.N)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rag_index.types import ScoredChunk


def citation(metadata: Mapping[str, Any]) -> str:
    """Where a chunk comes from: 'handbook.pdf p.3' for a PDF page, else the source path."""
    source = str(metadata.get("source") or "unknown source")
    page = metadata.get("page")
    return f"{source} p.{page}" if page is not None else source


def format_context(passages: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """Passages (text, metadata) as numbered blocks '[n] source p.N' + text, separated by blank lines.

    The numbers follow the order given (the retriever's rank), so a generator can cite [n] and the
    reader can look the source up; an empty input gives an empty string.
    """
    blocks = [
        f"[{number}] {citation(metadata)}\n{text.strip()}"
        for number, (text, metadata) in enumerate(passages, 1)
    ]
    return "\n\n".join(blocks)


def format_chunks(chunks: Iterable[ScoredChunk]) -> str:
    """Retrieved chunks as a context block (see format_context)."""
    return format_context((chunk.text, chunk.metadata) for chunk in chunks)
