"""Stage 4 of the flow: from intent and ranked candidates to answer / suggest / workorder / ignore.

The thresholds are not typed in here: they are fitted on the development set
by :mod:`assistant.match.fit` and stored with the index in ``matcher.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel

from assistant.bank.schema import Entry

from .intent import FOLLOW_UP_INTENTS, IGNORED_INTENTS
from .linear import LinearModel
from .rerank import Ranked

Decision = Literal["answer", "suggest", "workorder", "ignore"]
DECISIONS: tuple[str, ...] = ("answer", "suggest", "workorder", "ignore")

CONFIDENCE_FEATURES = (
    "top_score",  # reranker logit of the best candidate
    "margin",  # its lead over the second candidate
    "top_dense",  # cosine of the best candidate's best phrasing
    "top_lexical_share",  # its BM25 score relative to the best BM25 score
    "comment_covered",  # idf-weighted share of the comment's terms its phrasing has
    "phrasing_covered",  # and of its phrasing's terms the comment has
)


def confidence_features(ranked: Sequence[Ranked]) -> list[float]:
    """Features of a comment's ranking that say how likely its top candidate is right."""
    top = ranked[0]
    s1 = top.score
    s2 = ranked[1].score if len(ranked) > 1 else s1 - 10.0
    dense = [r.candidate.dense for r in ranked if r.candidate.dense is not None]
    lexical = [r.candidate.lexical for r in ranked if r.candidate.lexical is not None]
    best_lexical = max(lexical) if lexical and max(lexical) > 0 else 1.0
    c = top.candidate
    top_dense = c.dense if c.dense is not None else (min(dense) - 0.01 if dense else 0.0)
    return [s1, s1 - s2, top_dense, (c.lexical or 0.0) / best_lexical, top.comment_covered, top.phrasing_covered]


class Thresholds(BaseModel):
    # Confidence (probability that the top candidate is right) at or above
    # which the digital human may speak the answer; None: never, because the
    # matcher could not be calibrated on this bank.
    answer: float | None
    # At or above this the human host sees it as a suggestion; below it the
    # bank cannot answer and the question becomes a work order.
    suggest: float


@dataclass(frozen=True)
class Outcome:
    decision: str
    reason: str
    confidence: float | None  # P(top candidate is right), for questions


def decide(
    intent: str,
    ranked: Sequence[Ranked],
    entries: Sequence[Entry | None],
    *,
    confidence_model: LinearModel | None,
    thresholds: Thresholds,
    today: dt.date,
) -> Outcome:
    """``entries`` are the bank entries of ``ranked``, in the same order (None if gone)."""
    if intent in IGNORED_INTENTS:
        return Outcome("ignore", f"intent {intent}", None)
    confidence = None
    if ranked and confidence_model is not None:
        confidence = float(confidence_model.probability(np.asarray([confidence_features(ranked)]))[0])
    if intent in FOLLOW_UP_INTENTS:
        # A personal case needs a person even when an FAQ entry looks similar;
        # the confidence still says whether that entry's department fits.
        return Outcome("workorder", f"intent {intent}: the citizen needs staff to act", confidence)
    if not ranked or entries[0] is None:
        return Outcome("workorder", "no answer-bank entry matches", None)
    top = entries[0]
    if not top.is_valid_on(today):
        return Outcome("workorder", f"the matching entry {top.id} expired on {top.valid_until}; the bank needs an update", confidence)
    if confidence is None:
        return Outcome("suggest", "matcher not calibrated: the host decides", None)
    if thresholds.answer is not None and confidence >= thresholds.answer:
        return Outcome("answer", "confident match", confidence)
    if confidence >= thresholds.suggest:
        return Outcome("suggest", "likely match: the host decides", confidence)
    return Outcome("workorder", "the bank has no confident answer", confidence)


def routes_by_entry(outcome: Outcome, thresholds: Thresholds) -> bool:
    """Whether a work order should take the top entry's department (the bank knows the topic)."""
    return outcome.decision == "workorder" and outcome.confidence is not None and outcome.confidence >= thresholds.suggest
