"""The one comment record every platform adapter produces."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assistant.normalize.personal import normalize_nickname

Platform = Literal["douyin", "kuaishou", "wechat_channels"]
# Only chat comments are matched; the other kinds are counted.
EventType = Literal["comment", "like", "gift", "enter", "follow", "other"]

SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


class CommentRecord(BaseModel):
    platform: Platform
    room: str = Field(min_length=1, max_length=128)
    message_id: str | None  # None where the platform gives none (deduplicated by user + text instead)
    user_id: str | None
    nickname: str | None
    text: str  # as sent; empty for non-comment events
    type: EventType
    platform_time: dt.datetime | None  # when the platform says it happened; None if it does not say
    received_at: dt.datetime  # when govlive received it (Asia/Shanghai)
    hidden: bool = False  # kept but never displayed (Kuaishou FEED_HIDDEN)
    raw: dict[str, Any]  # the platform's item, kept as received

    @field_validator("nickname")
    @classmethod
    def _safe_nickname(cls, value: str | None) -> str | None:
        # Every screen shows the nickname: personal numbers masked, no bidi or control characters, bounded.
        return normalize_nickname(value)


class Rejected(BaseModel):
    """An item of a payload that could not become a record, and why."""

    where: str
    reason: str


class Parsed(BaseModel):
    records: list[CommentRecord]
    rejected: list[Rejected]


def from_epoch(value: Any) -> dt.datetime | None:
    """Seconds or milliseconds since the epoch → aware datetime in Asia/Shanghai; None if not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number > 1e11:  # milliseconds
        number /= 1000
    if not 0 < number < 4e9:
        return None
    return dt.datetime.fromtimestamp(number, SHANGHAI)
