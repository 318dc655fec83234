"""Fusing a dense and a lexical ranking into one: reciprocal rank fusion, or a convex mix of scaled scores.

Scaling for the mix: ``convex`` maps each side's scores min..max to 0..1 per query; ``dbsf``
(distribution-based score fusion, as Qdrant's) maps mean - 3 sd .. mean + 3 sd to 0..1, so one outlying
score does not squeeze the others together.

The mixes can also weigh each hit's file as a whole (``files``: the query's BM25 over every chunk of the
file), so the chunks of the file a question is about rise even when they do not repeat its words.

Each fused hit keeps why it came where it did: ``dense_score``, ``dense_rank``, ``lexical_score``,
``lexical_rank`` and ``file_score`` in its metadata (absent on a side that did not return it); its score
is the fused score, higher is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def fuse(
    dense: Sequence[ScoredChunk],
    lexical: Sequence[ScoredChunk],
    fusion: str = "rrf",
    rrf_k: int = 60,
    alpha: float = 0.5,
    files: Mapping[str, float] | None = None,
    file_weight: float = 0.0,
) -> list[ScoredChunk]:
    """Both rankings as one, best first.

    rrf: sum of 1 / (rrf_k + rank) over the sides that returned a hit (Cormack et al. 2009).
    convex, dbsf: alpha * lexical + (1 - alpha) * dense, each side scaled per query (see above); a side
    that did not return a hit counts 0 there (Bruch et al. 2023 found a tuned convex mix beats RRF).
    files (convex, dbsf): source -> the BM25 of the query over that whole file; scaled the same way over
    the candidates' files, it makes file_weight of each chunk's score (the rest is the mix above).
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
        if files and file_weight:
            scaled_files = scale(files)
            for id_, hit in hits.items():
                source = str(hit.metadata.get("source"))
                if source in files:
                    provenance[id_]["file_score"] = files[source]
                fused[id_] = (1.0 - file_weight) * fused[id_] + file_weight * scaled_files.get(source, 0.0)

    def order(id_: str) -> tuple[float, float, str]:
        # Ties go to the better dense rank, then the id: the same query always gives the same order.
        return (-fused[id_], float(provenance[id_].get("dense_rank", float("inf"))), id_)

    return [
        ScoredChunk(id_, hits[id_].text, fused[id_], {**hits[id_].metadata, **provenance[id_]})
        for id_ in sorted(fused, key=order)
    ]
