"""Kuaishou: the web live feed push, decoded to JSON by the connector.

``{"commentFeeds": [{"id", "user": {"principalId", "userName"}, "content",
"showType"}], "likeFeeds": [{"id"?, "user"}], "giftFeeds": [{"id", "user",
"giftId", "batchSize", …}], "displayWatchingCount": …}``. The feed names no
room: the connector says which live stream it read (``?room=``). Comments
carry no time; gifts may carry ``time`` (epoch ms). ``showType ==
"FEED_HIDDEN"`` marks a comment Kuaishou hides: it is kept, never shown.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from .record import CommentRecord, Parsed, Rejected, from_epoch

FEEDS = {"commentFeeds": "comment", "likeFeeds": "like", "giftFeeds": "gift"}
HIDDEN = "FEED_HIDDEN"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else (str(value) if isinstance(value, int) and not isinstance(value, bool) else None)


def parse_feed_push(body: Any, *, room: str, received_at: dt.datetime) -> Parsed:
    if not isinstance(room, str) or not room.strip() or len(room.strip()) > 128:
        return Parsed(records=[], rejected=[Rejected(where="room", reason="the Kuaishou live stream id is missing or too long")])
    room = room.strip()
    if not isinstance(body, dict) or not any(isinstance(body.get(key), list) for key in FEEDS):
        return Parsed(
            records=[], rejected=[Rejected(where="body", reason="expected a JSON object with commentFeeds, likeFeeds or giftFeeds lists")]
        )
    records, rejected = [], []
    for key, kind in FEEDS.items():
        feed = body.get(key)
        if feed is None:  # absent or null: nothing of that kind in this push
            continue
        if not isinstance(feed, list):
            rejected.append(Rejected(where=key, reason=f"{key} must be a list"))
            continue
        for i, item in enumerate(feed):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                rejected.append(Rejected(where=where, reason="expected a JSON object"))
                continue
            feed_id = _text(item.get("id")) or None
            content = item.get("content")
            if kind == "comment":
                if not feed_id:
                    rejected.append(Rejected(where=where, reason="id is missing"))
                    continue
                if not isinstance(content, str):
                    rejected.append(Rejected(where=where, reason="content must be a string"))
                    continue
            user = item.get("user") if isinstance(item.get("user"), dict) else {}
            records.append(
                CommentRecord(
                    platform="kuaishou",
                    room=room,
                    message_id=feed_id,
                    user_id=_text(user.get("principalId")),
                    nickname=_text(user.get("userName")),
                    text=content if kind == "comment" else "",
                    type=kind,
                    platform_time=from_epoch(item.get("time")),
                    received_at=received_at,
                    hidden=kind == "comment" and item.get("showType") == HIDDEN,
                    raw=item,
                )
            )
    return Parsed(records=records, rejected=rejected)


def restamp(payload: Mapping[str, Any], *, platform_room: str, suffix: str, now: dt.datetime) -> dict[str, Any]:
    """A copy of a recorded feed push retargeted for replay: every feed ``id`` gets ``suffix``, any ``time`` becomes ``now`` (epoch ms).

    The feed names no room (the replayer sends ``platform_room`` as ``?room=``),
    so ``platform_room`` is accepted for symmetry with the other platforms and
    not used. Parts that cannot be rewritten are left as they are.
    """
    out = copy.deepcopy(dict(payload))
    for key in FEEDS:
        feed = out.get(key)
        if not isinstance(feed, list):
            continue
        for item in feed:
            if not isinstance(item, dict):
                continue
            if "id" in item:
                feed_id = _text(item["id"])
                if feed_id:
                    item["id"] = feed_id + suffix
            if "time" in item:
                item["time"] = int(now.timestamp() * 1000)
    return out
