"""Neighbour expansion: each hit's text widened to the chunks around it in its document, overlaps given once.

A chunk has a place in its document when its metadata holds ``doc_id`` and an integer ``chunk_index``
(every file's chunk does; a text added through the API does only if its caller gave both). A hit with a
place gets the chunks ``chunk_index - n .. chunk_index + n`` of its document, joined in document order,
each character once (chunks overlap by ``chunking.overlap``: plain concatenation would repeat it). A PDF
page is its own document (offsets and chunk indexes count within the page), so a passage never crosses a
page and its citation "file p.N" stays true.

Hits of one document whose windows overlap or touch (touching chunks share their overlap) become one
passage, at the rank of the best of them; the others leave the list and are named in its ``merged_ids``.
Ranks and scores are the hits': nothing is re-ranked, and no hit from further down is brought in to make up
the count, so the passages hold exactly the chunks the top k found plus their neighbours. Each passage's
metadata says what it holds (CONTEXT_KEYS).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag_index.types import Chunk, ScoredChunk

GAP = "\n"  # between chunks that do not touch: the chunker trimmed whitespace there, its kind is not stored
CONTEXT_IDS = "context_ids"  # every chunk whose text the passage holds, in document order (the hit's own too)
CONTEXT_START, CONTEXT_END = "context_start", "context_end"  # the passage's character span in its document
MERGED_IDS = "merged_ids"  # hits further down the list that this passage holds (only when there are some)
CONTEXT_KEYS = (CONTEXT_IDS, CONTEXT_START, CONTEXT_END, MERGED_IDS)

Fetch = Callable[[dict[str, Any]], list[Chunk]]  # a Chroma `where` filter -> the chunks it selects


def place(metadata: dict[str, Any]) -> tuple[str, int] | None:
    """A chunk's (doc_id, chunk_index), or None when it has no place in a document (a memory, say)."""
    doc_id, index = metadata.get("doc_id"), metadata.get("chunk_index")
    if doc_id is None or not isinstance(index, int) or isinstance(index, bool):
        return None
    return str(doc_id), index


@dataclass
class Passage:
    """Hits of one document whose windows overlap or touch: the chunk range they cover, and the hits."""

    doc_id: str
    low: int
    high: int
    hits: list[int]  # positions in the hit list, best first


def passages(hits: Sequence[ScoredChunk], n: int) -> list[Passage]:
    """The passages of the hits that have a place, each window chunk_index +- n, touching windows merged."""
    by_doc: dict[str, list[Passage]] = {}
    for rank, hit in enumerate(hits):
        where = place(hit.metadata)
        if where is None:
            continue
        doc_id, index = where
        new = Passage(doc_id, index - n, index + n, [rank])
        kept = []
        for old in by_doc.get(doc_id, []):
            if old.low <= new.high + 1 and new.low <= old.high + 1:  # overlap or touch: one passage
                new = Passage(
                    doc_id, min(old.low, new.low), max(old.high, new.high), sorted(old.hits + new.hits)
                )
            else:
                kept.append(old)
        by_doc[doc_id] = [*kept, new]
    return sorted((p for group in by_doc.values() for p in group), key=lambda p: p.hits[0])


def window_filter(found: Sequence[Passage], where: dict[str, Any] | None) -> dict[str, Any]:
    """One Chroma filter for every passage's chunk range, ANDed with the query's own metadata filter."""
    ranges: list[dict[str, Any]] = [
        {"$and": [{"doc_id": p.doc_id}, {"chunk_index": {"$gte": p.low}}, {"chunk_index": {"$lte": p.high}}]}
        for p in found
    ]
    either = ranges[0] if len(ranges) == 1 else {"$or": ranges}
    return {"$and": [where, either]} if where else either


def join(chunks: Sequence[Chunk]) -> tuple[str, int | None, int | None]:
    """The text of chunks of one document (in document order), each character once, and its span.

    Without stored offsets (a caller's texts that name a document and an index) the texts are only
    separated, and the span is unknown (None).
    """
    if not all(_offset(chunk.metadata.get("start")) for chunk in chunks):
        return GAP.join(chunk.text for chunk in chunks), None, None
    text, end = chunks[0].text, chunks[0].end
    for chunk in chunks[1:]:
        if chunk.end <= end:  # inside what is already there
            continue
        text += chunk.text[end - chunk.start :] if chunk.start < end else GAP + chunk.text
        end = chunk.end
    return text, chunks[0].start, end


def _offset(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expand(
    hits: Sequence[ScoredChunk], n: int, fetch: Fetch, where: dict[str, Any] | None = None
) -> list[ScoredChunk]:
    """The hits, each widened by up to n chunks on each side (see the module); n 0 returns them as they are.

    where: the query's metadata filter, which neighbours obey too (a namespace confines them).
    """
    found = passages(hits, n) if n > 0 else []
    if not found:
        return list(hits)
    chunks: dict[str, list[Chunk]] = {}
    for chunk in fetch(window_filter(found, where)):
        chunks.setdefault(chunk.doc_id, []).append(chunk)
    widened: dict[int, ScoredChunk] = {}
    dropped: set[int] = set()
    for passage in found:
        lead = hits[passage.hits[0]]
        members = {hits[i].id for i in passage.hits}
        inside = sorted(
            (
                c
                for c in chunks.get(passage.doc_id, [])
                if passage.low <= c.metadata["chunk_index"] <= passage.high
            ),
            key=lambda c: c.metadata["chunk_index"],
        )
        if not members <= {chunk.id for chunk in inside}:
            continue  # a hit missing from the store (deleted since): left as it came
        text, start, end = join(inside)
        added: dict[str, Any] = {CONTEXT_IDS: [c.id for c in inside]}
        if start is not None:
            added.update({CONTEXT_START: start, CONTEXT_END: end})
        if len(passage.hits) > 1:
            added[MERGED_IDS] = [hits[i].id for i in passage.hits[1:]]
            dropped.update(passage.hits[1:])
        widened[passage.hits[0]] = dataclasses.replace(lead, text=text, metadata={**lead.metadata, **added})
    return [widened.get(rank, hit) for rank, hit in enumerate(hits) if rank not in dropped]
