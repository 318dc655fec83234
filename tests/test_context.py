"""Context blocks with numbered citations for generation."""

from __future__ import annotations

from rag_index.search.context import citation, format_chunks, format_context
from rag_index.types import ScoredChunk


def test_citation_names_the_source_and_the_page_when_there_is_one() -> None:
    assert citation({"source": "handbook.pdf", "page": 3}) == "handbook.pdf p.3"
    assert citation({"source": "faq.txt"}) == "faq.txt"
    assert citation({"source": "faq.txt", "page": None}) == "faq.txt"
    assert citation({}) == "unknown source"


def test_format_context_numbers_passages_in_rank_order() -> None:
    text = format_context(
        [
            ("  Hold 250 g of beans.\n", {"source": "handbook.pdf", "page": 1}),
            ("Returns within 30 days.", {"source": "faq.txt"}),
        ]
    )
    assert text == "[1] handbook.pdf p.1\nHold 250 g of beans.\n\n[2] faq.txt\nReturns within 30 days."


def test_format_context_of_nothing_is_empty() -> None:
    assert format_context([]) == ""


def test_format_chunks_uses_text_and_metadata_of_scored_chunks() -> None:
    chunks = [
        ScoredChunk("a", "Clean the burrs monthly.", 0.8, {"source": "handbook.pdf", "page": 3}),
        ScoredChunk("b", "E7 means the hopper is empty.", 0.7, {"source": "handbook.pdf", "page": 4}),
    ]
    assert format_chunks(chunks) == (
        "[1] handbook.pdf p.3\nClean the burrs monthly.\n\n"
        "[2] handbook.pdf p.4\nE7 means the hopper is empty."
    )
