"""The matchers govlive is measured against in ``govlive eval``.

Each returns, per comment, a ranked list of entry ids and whether it would
answer with the first one. They run on the same index and the same
normalised text as govlive, so the comparison measures the matching only.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BaselineOutput:
    ranked: list[str]  # entry ids, best first
    answers: bool  # whether the top one would be given as the answer


def lexical_only(index, texts: Sequence[str], threshold: float, k: int = 5) -> list[BaselineOutput]:
    """jieba + BM25 top-1, answered when its score clears one threshold."""
    out = []
    for text in texts:
        hits = index.search_lexical(text, k) if text else []
        out.append(BaselineOutput([e for e, _ in hits], bool(hits) and hits[0][1] >= threshold))
    return out


def dense_only(index, vectors: np.ndarray, threshold: float, k: int = 5) -> list[BaselineOutput]:
    """FAISS top-1, answered when its cosine clears one threshold."""
    return [BaselineOutput([h.entry_id for h in hits], bool(hits) and hits[0].score >= threshold) for hits in index.search_dense(vectors, k)]


def difflib_ratio(index, texts: Sequence[str], threshold: float = 0.8, k: int = 5) -> list[BaselineOutput]:
    """What popular livestream bots do: ``SequenceMatcher`` ratio against every known question."""
    out = []
    for text in texts:
        best: dict[str, float] = {}
        heap: list[tuple[float, str]] = []  # the k best (ratio, entry id) so far
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(text)  # seq2 is analysed once and cached
        for entry_id, question in zip(index.row_entry_ids, index.row_texts):
            matcher.set_seq1(question)
            floor = heap[0][0] if len(heap) >= k else 0.0
            # The cheap upper bounds skip most questions, as difflib.get_close_matches does.
            if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
                continue
            r = matcher.ratio()
            if r > best.get(entry_id, 0.0):
                best[entry_id] = r
                heap = heapq.nlargest(k, [(s, e) for e, s in best.items()])
                heapq.heapify(heap)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        out.append(BaselineOutput([e for e, _ in ranked], bool(ranked) and ranked[0][1] >= threshold))
    return out
