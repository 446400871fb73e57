"""WeChat Channels (视频号): the event batch a connector pushes.

``{"events": [{"seq", "msg_id", "sec_openid", "nickname", "content",
"decoded_type": "comment" | "enter" | "gift" | "like", "msg_time"}],
"live_info": {"live_id", "nickname", "online_count", …}}``. The room is
``live_info.live_id``; ``msg_time`` is epoch seconds or milliseconds. Every
event of a batch is read; a bad one is rejected on its own. (gzip is undone
by the HTTP layer before this.)
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from .record import CommentRecord, EventType, Parsed, Rejected, from_epoch

TYPES: dict[str, EventType] = {"comment": "comment", "enter": "enter", "gift": "gift", "like": "like"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else (str(value) if isinstance(value, int) and not isinstance(value, bool) else None)


def parse_batch(body: Any, received_at: dt.datetime) -> Parsed:
    if not isinstance(body, dict):
        return Parsed(records=[], rejected=[Rejected(where="body", reason='expected a JSON object with "events" and "live_info"')])
    live_info = body.get("live_info")
    room = _text(live_info.get("live_id")) if isinstance(live_info, dict) else None
    room = room.strip() if room else None
    if not room or len(room) > 128:
        return Parsed(records=[], rejected=[Rejected(where="live_info", reason="live_info.live_id is missing")])
    events = body.get("events")
    if not isinstance(events, list):
        return Parsed(records=[], rejected=[Rejected(where="events", reason="events must be a list")])
    records, rejected = [], []
    for i, event in enumerate(events):
        where = f"events[{i}]"
        if not isinstance(event, dict):
            rejected.append(Rejected(where=where, reason="expected a JSON object"))
            continue
        kind = TYPES.get(event.get("decoded_type"), "other") if isinstance(event.get("decoded_type"), str) else "other"
        msg_id = _text(event.get("msg_id")) or None
        content = event.get("content")
        if kind == "comment":
            if not msg_id:
                rejected.append(Rejected(where=where, reason="msg_id is missing"))
                continue
            if not isinstance(content, str):
                rejected.append(Rejected(where=where, reason="content must be a string"))
                continue
        records.append(
            CommentRecord(
                platform="wechat_channels",
                room=room,
                message_id=msg_id,
                user_id=_text(event.get("sec_openid")),
                nickname=_text(event.get("nickname")),
                text=content if kind == "comment" else "",
                type=kind,
                platform_time=from_epoch(event.get("msg_time")),
                received_at=received_at,
                raw=event,
            )
        )
    return Parsed(records=records, rejected=rejected)


def restamp(payload: Mapping[str, Any], *, platform_room: str, suffix: str, now: dt.datetime) -> dict[str, Any]:
    """A copy of a recorded batch retargeted for replay.

    ``live_info.live_id`` becomes ``platform_room`` (a batch without
    live_info stays without it), every ``msg_id`` gets ``suffix``, every
    ``msg_time`` becomes ``now`` in epoch ms. Parts that cannot be rewritten
    are left as they are.
    """
    out = copy.deepcopy(dict(payload))
    live_info = out.get("live_info")
    if isinstance(live_info, dict) and "live_id" in live_info:
        live_info["live_id"] = platform_room
    events = out.get("events")
    if isinstance(events, list):
        for event in events:
            if not isinstance(event, dict):
                continue
            if "msg_id" in event:
                msg_id = _text(event["msg_id"])
                if msg_id:
                    event["msg_id"] = msg_id + suffix
            if "msg_time" in event:
                event["msg_time"] = int(now.timestamp() * 1000)
    return out
