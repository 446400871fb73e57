"""Douyin: the official live-data push and the widely used local bridge format.

Official push: HTTP POST, headers ``x-roomid``, ``x-msg-type``
(``live_comment`` / ``live_gift`` / ``live_like`` …), ``x-timestamp``,
``x-nonce-str``, ``x-signature``; the body is a list of items with
``msg_id``, ``sec_openid``, ``nickname``, ``content``, ``timestamp``.

Bridge: ``{"Type": 1, "Data": "<JSON string with MsgId, User{Id,Nickname},
Content, RoomId>"}``; Type 1 chat, 2 like, 3 enter, 4 follow, 5 gift.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from .record import CommentRecord, Parsed, Rejected, from_epoch

OFFICIAL_TYPES = {"live_comment": "comment", "live_gift": "gift", "live_like": "like"}
BRIDGE_TYPES = {1: "comment", 2: "like", 3: "enter", 4: "follow", 5: "gift"}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else (str(value) if isinstance(value, int) and not isinstance(value, bool) else None)


def parse_official_push(headers: Mapping[str, str], body: Any, received_at: dt.datetime) -> Parsed:
    h = {k.lower(): v for k, v in headers.items()}
    room = h.get("x-roomid", "").strip()
    if not room:
        return Parsed(records=[], rejected=[Rejected(where="headers", reason="x-roomid header is missing")])
    kind = OFFICIAL_TYPES.get(h.get("x-msg-type", ""), "other")
    if not isinstance(body, list):
        return Parsed(records=[], rejected=[Rejected(where="body", reason="expected a JSON array of messages")])
    records, rejected = [], []
    for i, item in enumerate(body):
        where = f"item {i}"
        if not isinstance(item, dict):
            rejected.append(Rejected(where=where, reason="expected a JSON object"))
            continue
        msg_id = _text(item.get("msg_id"))
        content = item.get("content", "")
        if not msg_id:
            rejected.append(Rejected(where=where, reason="msg_id is missing"))
            continue
        if kind == "comment" and not isinstance(content, str):
            rejected.append(Rejected(where=where, reason="content must be a string"))
            continue
        records.append(
            CommentRecord(
                platform="douyin",
                room=room,
                message_id=msg_id,
                user_id=_text(item.get("sec_openid")),
                nickname=_text(item.get("nickname")),
                text=content if kind == "comment" else "",
                type=kind,
                platform_time=from_epoch(item.get("timestamp")),
                received_at=received_at,
                raw=item,
            )
        )
    return Parsed(records=records, rejected=rejected)


def parse_bridge_message(body: Any, received_at: dt.datetime) -> Parsed:
    if not isinstance(body, dict) or not isinstance(body.get("Type"), int) or not isinstance(body.get("Data"), str):
        return Parsed(records=[], rejected=[Rejected(where="body", reason='expected {"Type": <int>, "Data": "<JSON string>"}')])
    try:
        data = json.loads(body["Data"])
    except json.JSONDecodeError as exc:
        return Parsed(records=[], rejected=[Rejected(where="Data", reason=f"Data is not JSON: {exc.msg}")])
    if not isinstance(data, dict):
        return Parsed(records=[], rejected=[Rejected(where="Data", reason="Data must hold a JSON object")])
    room = _text(data.get("RoomId"))
    msg_id = _text(data.get("MsgId"))
    if not room or not msg_id:
        return Parsed(records=[], rejected=[Rejected(where="Data", reason="RoomId and MsgId are required")])
    kind = BRIDGE_TYPES.get(body["Type"], "other")
    user = data.get("User") if isinstance(data.get("User"), dict) else {}
    content = data.get("Content", "")
    if kind == "comment" and not isinstance(content, str):
        return Parsed(records=[], rejected=[Rejected(where="Data", reason="Content must be a string")])
    record = CommentRecord(
        platform="douyin",
        room=room,
        message_id=msg_id,
        user_id=_text(user.get("Id")),
        nickname=_text(user.get("Nickname")),
        text=content if kind == "comment" else "",
        type=kind,
        platform_time=None,
        received_at=received_at,
        raw={"Type": body["Type"], "Data": data},
    )
    return Parsed(records=[record], rejected=[])
