"""Douyin payloads → common comment records (adapters only; the push endpoint comes with `govlive serve`)."""

from __future__ import annotations

import datetime as dt
import json

from assistant.ingest.douyin import parse_bridge_message, parse_official_push
from assistant.ingest.record import SHANGHAI

NOW = dt.datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)


def test_official_push_reads_every_item_and_rejects_bad_ones():
    headers = {"X-RoomId": "7300000000000000001", "x-msg-type": "live_comment", "x-timestamp": "1763812800000"}
    body = [
        {"msg_id": "m1", "sec_openid": "u1", "nickname": "张三", "content": "医保卡丢了怎么补办", "timestamp": 1763812800123},
        {"msg_id": "m2", "sec_openid": "u2", "nickname": "李四", "content": 666, "timestamp": 1763812801},
        {"sec_openid": "u3", "content": "没有 msg_id"},
        "not an object",
    ]
    parsed = parse_official_push(headers, body, NOW)
    assert [r.message_id for r in parsed.records] == ["m1"]
    r = parsed.records[0]
    assert (r.platform, r.room, r.user_id, r.nickname, r.text, r.type) == ("douyin", "7300000000000000001", "u1", "张三", "医保卡丢了怎么补办", "comment")
    assert r.platform_time == dt.datetime(2025, 11, 22, 20, 0, 0, 123000, tzinfo=SHANGHAI)  # epoch ms → Shanghai time
    assert r.raw == body[0] and r.received_at == NOW
    assert [x.where for x in parsed.rejected] == ["item 1", "item 2", "item 3"]


def test_official_gifts_and_likes_are_records_without_text():
    parsed = parse_official_push({"x-roomid": "r", "x-msg-type": "live_gift"}, [{"msg_id": "g1", "content": "小心心", "timestamp": 1}], NOW)
    assert parsed.records[0].type == "gift" and parsed.records[0].text == ""
    assert parse_official_push({}, [], NOW).rejected[0].reason == "x-roomid header is missing"
    assert parse_official_push({"x-roomid": "r"}, {"msg_id": "x"}, NOW).rejected[0].where == "body"


def test_bridge_format_with_json_string_data():
    data = {"MsgId": 99, "User": {"Id": 123, "Nickname": "王五"}, "Content": "公積金可以取出來付房租嗎", "RoomId": "7300000000000000002"}
    parsed = parse_bridge_message({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}, NOW)
    r = parsed.records[0]
    assert (r.message_id, r.user_id, r.nickname, r.text, r.type, r.room) == ("99", "123", "王五", "公積金可以取出來付房租嗎", "comment", "7300000000000000002")
    like = parse_bridge_message({"Type": 2, "Data": json.dumps({"MsgId": 1, "RoomId": "r", "Content": "点赞了"})}, NOW)
    assert like.records[0].type == "like" and like.records[0].text == ""
    for bad in ({"Type": 1, "Data": "{not json"}, {"Type": "1", "Data": "{}"}, {"Type": 1, "Data": "[]"}, {"Type": 1, "Data": json.dumps({"MsgId": 1})}):
        out = parse_bridge_message(bad, NOW)
        assert not out.records and out.rejected
