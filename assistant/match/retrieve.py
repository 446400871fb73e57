"""Hybrid retrieval: dense (FAISS) and lexical (jieba + BM25) fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) needs no score calibration
between the two sides, whose scores live on unrelated scales (cosine in a
narrow 0.8-0.97 band, BM25 unbounded). Each candidate keeps both raw scores
so that the decision stage can fit thresholds on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.index import BankIndex

RRF_K = 60  # the constant from the RRF paper; damps the weight of the very top ranks
DEPTH = 50  # how deep each side is read before fusing


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    fused: float  # reciprocal-rank-fusion score
    dense: float | None  # cosine of the entry's best phrasing, if the dense side found it
    lexical: float | None  # BM25 score, if the lexical side found it
    dense_rank: int | None
    lexical_rank: int | None
    matched_text: str | None  # the phrasing the dense side matched


def fuse(dense: Sequence[tuple[str, float, str]], lexical: Sequence[tuple[str, float]], k: int) -> list[Candidate]:
    """Fuse two ranked lists of (entry id, score[, text]) into the top ``k`` candidates."""
    scores: dict[str, float] = {}
    for rank, (eid, _, _) in enumerate(dense):
        scores[eid] = scores.get(eid, 0.0) + 1.0 / (RRF_K + rank + 1)
    for rank, (eid, _) in enumerate(lexical):
        scores[eid] = scores.get(eid, 0.0) + 1.0 / (RRF_K + rank + 1)
    d_at = {eid: (rank, score, text) for rank, (eid, score, text) in enumerate(dense)}
    l_at = {eid: (rank, score) for rank, (eid, score) in enumerate(lexical)}
    # Ties (same fused score) go to the better dense rank, then the id, so results are stable.
    order = sorted(scores, key=lambda e: (-scores[e], d_at.get(e, (DEPTH,))[0], e))[:k]
    out = []
    for eid in order:
        d = d_at.get(eid)
        lx = l_at.get(eid)
        out.append(
            Candidate(
                entry_id=eid,
                fused=scores[eid],
                dense=d[1] if d else None,
                lexical=lx[1] if lx else None,
                dense_rank=d[0] + 1 if d else None,
                lexical_rank=lx[0] + 1 if lx else None,
                matched_text=d[2] if d else None,
            )
        )
    return out


class HybridRetriever:
    """Retrieves candidates for a batch of normalised comments; the model sees one batch."""

    def __init__(self, index: BankIndex, embedder):
        self.index = index
        self.embedder = embedder

    def retrieve(self, texts: Sequence[str], k: int = 5) -> list[list[Candidate]]:
        if not texts:
            return []
        return self.retrieve_by_vectors(texts, self.embedder.encode_queries(list(texts)), k)

    def retrieve_by_vectors(self, texts: Sequence[str], vectors, k: int = 5) -> list[list[Candidate]]:
        """As :meth:`retrieve`, for callers that already embedded the texts (the intent classifier uses the same vectors)."""
        if not texts:
            return []
        dense_hits = self.index.search_dense(vectors, DEPTH)
        results = []
        for text, hits in zip(texts, dense_hits):
            dense = [(h.entry_id, h.score, h.text) for h in hits]
            lexical = self.index.search_lexical(text, DEPTH) if text else []
            results.append(fuse(dense, lexical, k))
        return results
