"""Unanswered comments for the staff page, grouped so that one question asked 30 times is one row.

Comments are grouped by the bank entry closest to them (the suggested entry,
or for an unanswered question its best candidate), else by their normalised
text: near-identical phrasings of one topic land on the same entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from assistant.bank.domains import DOMAIN_BY_NAME
from assistant.bank.schema import Entry, question_key
from assistant.bank.store import AnswerBank
from assistant.store import StoredComment

COMMENTS_SHOWN = 50


class ReviewComment(BaseModel):
    comment_id: int
    room: str
    platform: str
    nickname: str | None
    display: str
    text: str  # unmasked: this page is for staff only
    contact: list[dict[str, Any]]
    received_at: str


class ReviewGroup(BaseModel):
    key: str
    entry_id: str | None  # the closest bank entry, if any
    question: str | None
    sample: str
    count: int
    rooms: list[str]
    first_at: str
    last_at: str
    decision: str  # suggest | unanswered
    comment_ids: list[int] = Field(exclude=True)
    comments: list[ReviewComment]


class NewAnswer(BaseModel):
    question: str = Field(min_length=2, max_length=60)
    answer: str = Field(min_length=2, max_length=120)
    domain: str
    department: str = Field(min_length=2, max_length=40)
    similar_questions: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        if v not in DOMAIN_BY_NAME:
            raise ValueError(f"unknown domain {v!r}; expected one of: {', '.join(DOMAIN_BY_NAME)}")
        return v


def group_key(match: dict[str, Any]) -> str:
    entry_id = match.get("entry_id") or next((c["entry_id"] for c in match.get("candidates") or []), None)
    if entry_id:
        return f"entry:{entry_id}"
    return "text:" + hashlib.sha1(match.get("normalized", "").encode()).hexdigest()[:16]


def group_unanswered(rows: list[tuple[StoredComment, dict[str, Any]]], bank: AnswerBank) -> list[ReviewGroup]:
    groups: dict[str, list[tuple[StoredComment, dict[str, Any]]]] = {}
    for comment, match in rows:
        groups.setdefault(group_key(match), []).append((comment, match))
    out = []
    for key, members in groups.items():
        members.sort(key=lambda m: m[0].id)
        entry = bank.get(key.removeprefix("entry:")) if key.startswith("entry:") else None
        first, last = members[0][0], members[-1][0]
        out.append(ReviewGroup(
            key=key,
            entry_id=entry.id if entry else None,
            question=entry.question if entry else None,
            sample=members[0][1]["display"],
            count=len(members),
            rooms=sorted({c.room for c, _ in members}),
            first_at=first.received_at,
            last_at=last.received_at,
            decision="suggest" if any(m["decision"] == "suggest" for _, m in members) else "unanswered",
            comment_ids=[c.id for c, _ in members],
            comments=[
                ReviewComment(comment_id=c.id, room=c.room, platform=c.platform, nickname=c.nickname, display=m["display"], text=c.text,
                              contact=m.get("contact", []), received_at=c.received_at)
                for c, m in members[-COMMENTS_SHOWN:]
            ],
        ))
    out.sort(key=lambda g: (-g.count, g.last_at), reverse=False)
    return out


def new_entry(bank: AnswerBank, answer: NewAnswer, *, today: dt.date, extra_phrasings: list[str]) -> Entry:
    """A bank entry from a staff answer; the comments' own words become its similar questions."""
    slug = DOMAIN_BY_NAME[answer.domain].slug
    numbers = [int(m.group(1)) for e in bank.entries if (m := re.fullmatch(rf"{re.escape(slug)}-(\d+)", e.id))]
    phrasings, seen = [], {question_key(answer.question)}
    # The viewers' own words first; generic framings only to reach the bank's minimum of two phrasings.
    framings = ["想问一下" + answer.question, "咨询一下" + answer.question, "我想了解" + answer.question]
    for text in [*answer.similar_questions, *extra_phrasings, *framings]:
        # A viewer's comment may open with formula characters (=cmd|…); a question never needs them.
        text = text.strip().lstrip("=+-@ \t\r")
        if 2 <= len(text) <= 60 and question_key(text) not in seen:
            seen.add(question_key(text))
            phrasings.append(text)
        if len(phrasings) >= 2 and text in framings:
            break
    return Entry(
        id=f"{slug}-{max(numbers, default=0) + 1:04d}",
        domain=answer.domain,
        item="直播间新增问答",
        aspect="常见问题",
        question=answer.question,
        similar_questions=phrasings[:8],
        answer=answer.answer,
        department=answer.department,
        source="直播间工作人员答复（staff 页面）",
        updated_at=today,
        city_specific=True,
    )
