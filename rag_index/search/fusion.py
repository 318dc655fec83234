"""Fusing a dense and a lexical ranking into one: reciprocal rank fusion, or a convex mix of scaled scores.

Scaling for the mix: ``convex`` maps each side's scores min..max to 0..1 per query; ``dbsf``
(distribution-based score fusion, as Qdrant's) maps mean - 3 sd .. mean + 3 sd to 0..1, so one outlying
score does not squeeze the others together.

The mixes can also weigh each hit's document as a whole (``documents``: the query's BM25 over every
chunk of the document), so the chunks of the file a question is about rise even when they do not repeat
its words; a memory or any other one-chunk document is scored by its chunk alone, on the same scale.

Each fused hit keeps why it came where it did: ``dense_score``, ``dense_rank``, ``lexical_score``,
``lexical_rank``, ``document_score`` and ``document_share`` (the share of the fused score its document
decided) in its metadata (absent where a side did not return it); its score is the fused score, higher is
better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag_index.storage.base import DocumentScore, document_of
from rag_index.types import ScoredChunk

FUSIONS = ("rrf", "convex", "dbsf")


def _min_max(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores min-max scaled to [0, 1] per query (all 1.0 when equal), so the two sides are comparable."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {key: (score - low) / span if span > 0 else 1.0 for key, score in scores.items()}


def _distribution(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores scaled from mean - 3 sd .. mean + 3 sd to [0, 1] per query (distribution-based fusion)."""
    if not scores:
        return {}
    mean = sum(scores.values()) / len(scores)
    sd = (sum((x - mean) ** 2 for x in scores.values()) / len(scores)) ** 0.5
    if sd == 0:
        return dict.fromkeys(scores, 1.0)
    return {key: (score - (mean - 3 * sd)) / (6 * sd) for key, score in scores.items()}


def lexical_weight(alpha: float, chunks: int, ramp: int) -> float:
    """The lexical side's weight in an index of this many chunks: alpha * chunks / (chunks + ramp).

    BM25 weighs a term by how few chunks hold it, which means little in a handful of chunks: in the
    sample corpus with twelve memories (27 chunks) one shared word ("back", "shop") outweighed what the
    dense side understood. From a few thousand chunks on the weight is close to alpha.
    """
    return alpha * chunks / (chunks + ramp) if ramp else alpha


def fuse(
    dense: Sequence[ScoredChunk],
    lexical: Sequence[ScoredChunk],
    fusion: str = "rrf",
    rrf_k: int = 60,
    alpha: float = 0.5,
    documents: Mapping[str, DocumentScore] | None = None,
    document_weight: float = 0.0,
) -> list[ScoredChunk]:
    """Both rankings as one, best first.

    rrf: sum of 1 / (rrf_k + rank) over the sides that returned a hit (Cormack et al. 2009).
    convex, dbsf: alpha * lexical + (1 - alpha) * dense, each side scaled per query (see above); a side
    that did not return a hit counts 0 there (Bruch et al. 2023 found a tuned convex mix beats RRF).
    documents (convex, dbsf): each candidate's document -> the BM25 of the query over the whole
    document and its chunk count (rag_index.storage.base.document_of says what a chunk's document is).
    Scaled the same way over the candidates' documents, it makes a share of each chunk's score that
    grows with the document's chunks: document_weight * (1 - 1 / chunks). A document of one chunk (a
    memory, an abstract, a note) holds nothing its chunk does not, so its chunk's score is the mix
    alone; a filing of 200 chunks lends its chunks nearly document_weight of its own evidence.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion {fusion!r} is not one of {', '.join(FUSIONS)}")
    sides = {"dense": dense, "lexical": lexical}
    hits: dict[str, ScoredChunk] = {}
    provenance: dict[str, dict[str, float | int]] = {}
    for side, ranking in sides.items():
        for rank, hit in enumerate(ranking, 1):
            hits.setdefault(hit.id, hit)
            provenance.setdefault(hit.id, {}).update({f"{side}_score": hit.score, f"{side}_rank": rank})
    if fusion == "rrf":
        fused = {
            id_: sum(1.0 / (rrf_k + int(seen[f"{side}_rank"])) for side in sides if f"{side}_rank" in seen)
            for id_, seen in provenance.items()
        }
    else:
        scale = _min_max if fusion == "convex" else _distribution
        scaled_dense = scale({h.id: h.score for h in dense})
        scaled_lexical = scale({h.id: h.score for h in lexical})
        fused = {
            id_: alpha * scaled_lexical.get(id_, 0.0) + (1.0 - alpha) * scaled_dense.get(id_, 0.0)
            for id_ in provenance
        }
        if documents and document_weight:
            scaled_documents = scale({document: score.bm25 for document, score in documents.items()})
            for id_, hit in hits.items():
                document = document_of(hit.metadata)
                if document is None or document not in documents:
                    continue
                score = documents[document]
                share = document_weight * (1.0 - 1.0 / max(score.chunks, 1))
                provenance[id_].update(document_score=score.bm25, document_share=round(share, 6))
                fused[id_] = (1.0 - share) * fused[id_] + share * scaled_documents[document]

    def order(id_: str) -> tuple[float, float, str]:
        # Ties go to the better dense rank, then the id: the same query always gives the same order.
        return (-fused[id_], float(provenance[id_].get("dense_rank", float("inf"))), id_)

    return [
        ScoredChunk(id_, hits[id_].text, fused[id_], {**hits[id_].metadata, **provenance[id_]})
        for id_ in sorted(fused, key=order)
    ]
