"""The entries an operator may choose between when approving a suggestion."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from assistant.bank.store import AnswerBank


class Choice(BaseModel):
    entry_id: str
    question: str
    answer: str
    domain: str
    score: float | None  # P(right) for the suggested entry; None for the other candidates


def suggestion_choices(bank: AnswerBank, match: dict[str, Any], today: dt.date) -> list[Choice]:
    """The suggested entry first, then the matcher's other candidates; entries past valid_until are left out."""
    ids = [match.get("entry_id")] + [c["entry_id"] for c in match.get("candidates") or []]
    out = []
    for entry_id in dict.fromkeys(i for i in ids if i):
        entry = bank.get(entry_id)
        if entry is not None and entry.is_valid_on(today):
            score = match.get("score") if entry_id == match.get("entry_id") else None
            out.append(Choice(entry_id=entry.id, question=entry.question, answer=entry.answer, domain=entry.domain, score=score))
    return out
