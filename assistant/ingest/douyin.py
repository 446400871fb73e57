"""Douyin: the official live-data push and the widely used local bridge format.

Official push: HTTP POST, headers ``x-roomid``, ``x-msg-type``
(``live_comment`` / ``live_gift`` / ``live_like`` …), ``x-timestamp``,
``x-nonce-str``, ``x-signature``; the body is a list of items with
``msg_id``, ``sec_openid``, ``nickname``, ``content``, ``timestamp``.

Bridge: ``{"Type": 1, "Data": "<JSON string with MsgId, User{Id,Nickname},
Content, RoomId>"}``; Type 1 chat, 2 like, 3 enter, 4 follow, 5 gift.

Also here: the official push signature (``signature`` / ``verify_signature``),
its replay window (``check_fresh``: ``x-timestamp`` recent, ``x-nonce-str``
present; the service refuses a nonce it has seen within the window) and ``restamp_official`` / ``restamp_bridge``, which retarget a recorded
payload for replay (room, message ids, timestamps).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from . import json_limits
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
        data = json_limits.loads(body["Data"])
    except json.JSONDecodeError as exc:
        return Parsed(records=[], rejected=[Rejected(where="Data", reason=f"Data is not JSON: {exc.msg}")])
    except json_limits.TooDeep as exc:
        return Parsed(records=[], rejected=[Rejected(where="Data", reason=f"Data: {exc}")])
    if not isinstance(data, dict):
        return Parsed(records=[], rejected=[Rejected(where="Data", reason="Data must hold a JSON object")])
    room = _text(data.get("RoomId"))
    msg_id = _text(data.get("MsgId"))
    if not room:
        return Parsed(records=[], rejected=[Rejected(where="Data", reason="RoomId is required")])
    # Some bridge builds do not forward MsgId; such comments are deduplicated
    # by user and text within a few seconds instead (see the store).
    msg_id = msg_id if msg_id not in (None, "", "0") else None
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


# -- official push signature ---------------------------------------------------------
SIGNED_HEADERS = ("x-msg-type", "x-nonce-str", "x-roomid", "x-timestamp")


def signature(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """Douyin's live-data push signature.

    The headers x-msg-type, x-nonce-str, x-roomid, x-timestamp (names
    case-insensitive; a missing one counts as empty) sorted by name and joined
    as ``key=value&key=value``, then the raw body, then the secret; md5,
    standard base64.
    """
    h = {k.lower(): v for k, v in headers.items()}
    params = "&".join(f"{key}={h.get(key, '')}" for key in sorted(SIGNED_HEADERS))
    # Bytes throughout, so a body that is not UTF-8 still gets a signature (and fails to match).
    digest = hashlib.md5(params.encode("utf-8") + body + secret.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


TIMESTAMP_HEADER = "x-timestamp"
NONCE_HEADER = "x-nonce-str"
MAX_NONCE_LENGTH = 128


def check_fresh(headers: Mapping[str, str], *, now: float, max_skew: float) -> str | None:
    """None when ``x-timestamp`` (Unix seconds) is within ``max_skew`` of ``now`` and ``x-nonce-str`` is usable, else why not.

    Both are signed, so together they bound a replay: a push is accepted only
    while its timestamp is recent, and (the store's part) only once per nonce
    in that time.
    """
    h = {k.lower(): v for k, v in headers.items()}
    stamp, nonce = h.get(TIMESTAMP_HEADER, "").strip(), h.get(NONCE_HEADER, "")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - int(stamp)) > max_skew:
        return f"{TIMESTAMP_HEADER} is more than {int(max_skew)} s away from the server clock"
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        return f"{NONCE_HEADER} is required (at most {MAX_NONCE_LENGTH} characters)"
    return None


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """True when ``x-signature`` matches; False when it is missing or wrong."""
    h = {k.lower(): v for k, v in headers.items()}
    sent = h.get("x-signature")
    if not sent:
        return False
    return hmac.compare_digest(sent.strip().encode("utf-8"), signature(h, body, secret).encode("utf-8"))


# -- replay -----------------------------------------------------------------------------
def _suffixed(value: Any, suffix: str) -> Any:
    """An id with the suffix appended; anything that is not an id is left as it is."""
    text = _text(value)
    return text + suffix if text else value


def _epoch_ms(now: dt.datetime) -> int:
    return int(now.timestamp() * 1000)


def restamp_official(sample: Mapping[str, Any], *, platform_room: str, suffix: str, now: dt.datetime) -> dict[str, Any]:
    """A copy of an official-push sample line (``{"headers": …, "body": …}``) retargeted for replay.

    ``x-roomid`` becomes ``platform_room`` (where the sample has one: a sample
    without it stays without it), ``x-timestamp`` becomes ``now`` in seconds,
    every item's ``msg_id`` gets ``suffix`` and its ``timestamp`` becomes
    ``now`` in epoch ms. Parts that cannot be rewritten are left as they are.
    """
    out = copy.deepcopy(dict(sample))
    headers = out.get("headers")
    if isinstance(headers, dict):
        for key in list(headers):
            name = key.lower() if isinstance(key, str) else key
            if name == "x-roomid":
                headers[key] = platform_room
            elif name == "x-timestamp":
                del headers[key]  # one x-timestamp, whatever case the recording used
        headers["x-timestamp"] = str(int(now.timestamp()))
    body = out.get("body")
    if isinstance(body, list):
        for item in body:
            if not isinstance(item, dict):
                continue
            if "msg_id" in item:
                item["msg_id"] = _suffixed(item["msg_id"], suffix)
            if "timestamp" in item:
                item["timestamp"] = _epoch_ms(now)
    return out


def restamp_bridge(message: Mapping[str, Any], *, platform_room: str, suffix: str, now: dt.datetime) -> dict[str, Any]:
    """A copy of a bridge message (``{"Type", "Data"}``) retargeted for replay.

    Data (a JSON string) is decoded, its ``RoomId`` set to ``platform_room``
    (where present) and ``MsgId`` suffixed, and re-encoded. The bridge carries
    no platform time, so ``now`` is unused. Data that is not a JSON object is
    left as it is.
    """
    out = copy.deepcopy(dict(message))
    raw = out.get("Data")
    if not isinstance(raw, str):
        return out
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return out
    if not isinstance(data, dict):
        return out
    if "RoomId" in data:
        data["RoomId"] = platform_room
    if "MsgId" in data:
        data["MsgId"] = _suffixed(data["MsgId"], suffix)
    out["Data"] = json.dumps(data, ensure_ascii=False)
    return out
