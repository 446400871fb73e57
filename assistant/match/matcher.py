"""The whole matcher: raw comments in, one decision each out.

normalise → embed (one batch) → intent → hybrid retrieval → rerank →
confidence → decision. The model is loaded once; :meth:`Matcher.match` takes
a batch so that a busy stream costs one forward pass per batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from assistant.bank.store import AnswerBank
from assistant.normalize.text import NormalizedComment, normalize_comment

from .decide import decide, routes_by_entry
from .intent import IntentClassifier, decisive_rule
from .model import MatcherModel
from .rerank import Ranked, coverages, rerank
from .retrieve import HybridRetriever

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def today_in_shanghai() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


class CandidateOut(BaseModel):
    entry_id: str
    question: str
    domain: str
    score: float  # reranker logit (RRF score when the matcher has no reranker)
    dense: float | None
    lexical: float | None
    valid: bool  # False when the entry is past its valid_until


class MatchResult(BaseModel):
    """One comment's decision. The JSON shape of ``govlive match``; other tools rely on it."""

    text: str  # as received
    display: str  # safe for screens: personal numbers masked
    normalized: str  # what was matched
    intent: str
    intent_confidence: float
    decision: str  # answer | suggest | workorder | ignore
    reason: str
    entry_id: str | None  # the entry answered or suggested; null for ignore, and for workorder
    question: str | None
    answer: str | None
    domain: str | None
    department: str | None  # who answers; for a work order, where to route it (from the closest entry)
    score: float | None  # P(the entry is right) for questions
    candidates: list[CandidateOut] | None = None
    # Kept for the work order only (never serialised, never on a screen).
    comment: NormalizedComment = Field(exclude=True, repr=False)

    model_config = {"arbitrary_types_allowed": True}


class Matcher:
    def __init__(
        self,
        bank: AnswerBank,
        retriever: HybridRetriever,
        model: MatcherModel,
        *,
        today: Callable[[], dt.date] = today_in_shanghai,
    ):
        self.bank = bank
        self.retriever = retriever
        self.model = model
        self.intents = IntentClassifier(model.intent)
        self.today = today

    @classmethod
    def open(cls, index, bank: AnswerBank, embedder, **kwargs) -> "Matcher":
        """A matcher over an opened :class:`indexer.index.BankIndex` (its build holds ``matcher.json``)."""
        return cls(bank, HybridRetriever(index, embedder), MatcherModel.read(Path(index.directory)), **kwargs)

    @property
    def embedder(self):
        return self.retriever.embedder

    def match(self, texts: Sequence[str], *, top_k: int = 0) -> list[MatchResult]:
        if not texts:
            return []
        comments = [normalize_comment(t) for t in texts]
        # A comment a certain pattern already ignores (a link, strong
        # profanity, 666) needs no vector and no search: a live room sends
        # many, and the model is the costly part of the rest.
        ruled = [decisive_rule(c) for c in comments]
        rest = [i for i, rule in enumerate(ruled) if rule is None]
        out: list[MatchResult | None] = [None] * len(comments)
        if rest:
            vectors = self.embedder.encode_queries([comments[i].for_matching for i in rest])
            for i, result in zip(rest, self.match_normalized([comments[i] for i in rest], vectors, top_k=top_k)):
                out[i] = result
        for i, rule in enumerate(ruled):
            if rule is not None:
                out[i] = self._ignored_by_rule(comments[i], rule, top_k)
        return out  # type: ignore[return-value]

    def _ignored_by_rule(self, comment: NormalizedComment, intent: str, top_k: int) -> MatchResult:
        """What :meth:`match_normalized` decides for a rule-decided comment (ignore), without its search."""
        outcome = decide(intent, [], [], confidence_model=self.model.confidence, thresholds=self.model.thresholds, today=self.today())
        return MatchResult(
            text=comment.original, display=comment.for_display, normalized=comment.for_matching, intent=intent,
            intent_confidence=1.0, decision=outcome.decision, reason=outcome.reason, entry_id=None, question=None,
            answer=None, domain=None, department=None, score=None, candidates=[] if top_k else None, comment=comment,
        )

    def match_normalized(self, comments: Sequence[NormalizedComment], vectors: np.ndarray, *, top_k: int = 0) -> list[MatchResult]:
        """The matcher after embedding; :mod:`assistant.match.evaluate` times and reuses it."""
        intents = self.intents.classify(vectors, comments)
        depth = self.model.candidate_depth
        candidate_lists = self.retriever.retrieve_by_vectors([c.for_matching for c in comments], vectors, depth)
        today = self.today()
        out = []
        for comment, intent, candidates in zip(comments, intents, candidate_lists):
            overlap = coverages(self.retriever.index, self.bank, comment.for_matching, candidates)
            if self.model.reranker is not None:
                ranked = rerank(candidates, overlap, self.model.reranker)
            else:
                ranked = [Ranked(c, c.fused, *o) for c, o in zip(candidates, overlap)]
            entries = [self.bank.get(r.candidate.entry_id) for r in ranked]
            outcome = decide(
                intent.intent,
                ranked,
                entries,
                confidence_model=self.model.confidence,
                thresholds=self.model.thresholds,
                today=today,
            )
            top = entries[0] if entries else None
            shown = top if outcome.decision in ("answer", "suggest") else None
            route = top if routes_by_entry(outcome, self.model.thresholds) else shown
            result = MatchResult(
                text=comment.original,
                display=comment.for_display,
                normalized=comment.for_matching,
                intent=intent.intent,
                intent_confidence=round(intent.confidence, 4),
                decision=outcome.decision,
                reason=outcome.reason,
                entry_id=shown.id if shown else None,
                question=shown.question if shown else None,
                answer=shown.answer if shown else None,
                domain=(route.domain if route else None),
                department=(route.department if route else None),
                score=round(outcome.confidence, 4) if outcome.confidence is not None else None,
                comment=comment,
            )
            if top_k:
                result.candidates = [
                    CandidateOut(
                        entry_id=r.candidate.entry_id,
                        question=e.question,
                        domain=e.domain,
                        score=round(r.score, 4),
                        dense=round(r.candidate.dense, 4) if r.candidate.dense is not None else None,
                        lexical=round(r.candidate.lexical, 3) if r.candidate.lexical is not None else None,
                        valid=e.is_valid_on(today),
                    )
                    for r, e in list(zip(ranked, entries))[:top_k]
                    if e is not None
                ]
            out.append(result)
        return out
