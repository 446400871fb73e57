"""WeChat Channels (视频号) event batch → common comment records."""

from __future__ import annotations

import datetime as dt

from assistant.ingest.record import SHANGHAI
from assistant.ingest.wechat_channels import parse_batch, restamp

NOW = dt.datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)
ROOM = "1478293604927700000"


def event(seq, kind, content="", **extra):
    d = {"seq": seq, "msg_id": f"m{seq}", "sec_openid": f"o{seq}", "nickname": "王阿姨", "content": content, "decoded_type": kind, "msg_time": 1763811000}
    d.update(extra)
    return d


def test_every_event_of_a_batch_is_read():
    body = {
        "events": [event(1, "enter"), event(2, "comment", "医保卡丢了怎么补办", msg_time=1763811000123), event(3, "gift", "小心心"),
                   event(4, "like"), event(5, "share")],
        "live_info": {"live_id": ROOM, "nickname": "市政务服务", "online_count": 218},
    }
    parsed = parse_batch(body, NOW)
    assert parsed.rejected == []
    assert [r.type for r in parsed.records] == ["enter", "comment", "gift", "like", "other"]
    c = parsed.records[1]
    assert (c.platform, c.room, c.message_id, c.user_id, c.nickname, c.text) == ("wechat_channels", ROOM, "m2", "o2", "王阿姨", "医保卡丢了怎么补办")
    assert c.platform_time == dt.datetime(2025, 11, 22, 19, 30, 0, 123000, tzinfo=SHANGHAI)  # ms
    assert parsed.records[0].platform_time == dt.datetime(2025, 11, 22, 19, 30, tzinfo=SHANGHAI)  # seconds
    assert c.raw == body["events"][1] and c.raw["seq"] == 2 and c.received_at == NOW
    assert all(r.text == "" for r in parsed.records if r.type != "comment")


def test_bad_events_are_rejected_one_by_one():
    no_id = event(2, "comment", "没有 msg_id")
    del no_id["msg_id"]
    enter_no_id = event(5, "enter")
    del enter_no_id["msg_id"]
    body = {"events": [event(1, "comment", "好"), no_id, event(3, "comment", None), "x", enter_no_id, event(6, 42)], "live_info": {"live_id": int(ROOM)}}
    parsed = parse_batch(body, NOW)
    assert [(r.message_id, r.type) for r in parsed.records] == [("m1", "comment"), (None, "enter"), ("m6", "other")]
    assert parsed.records[0].room == ROOM  # a numeric live_id becomes a string
    assert [x.where for x in parsed.rejected] == ["events[1]", "events[2]", "events[3]"]


def test_batch_without_room_or_events_list():
    for body in ({"events": [event(1, "comment", "好")]}, {"events": [], "live_info": {}}, {"events": [], "live_info": {"live_id": True}}):
        parsed = parse_batch(body, NOW)
        assert parsed.records == [] and [x.where for x in parsed.rejected] == ["live_info"]
    assert [x.where for x in parse_batch({"events": None, "live_info": {"live_id": ROOM}}, NOW).rejected] == ["events"]
    assert [x.where for x in parse_batch([], NOW).rejected] == ["body"]


def test_restamp():
    body = {"events": [event(1, "comment", "好"), {"seq": 2}, "x"], "live_info": {"live_id": "old"}}
    out = restamp(body, platform_room=ROOM, suffix="#2", now=NOW)
    assert out["live_info"]["live_id"] == ROOM and out["events"][0]["msg_id"] == "m1#2"
    assert out["events"][0]["msg_time"] == int(NOW.timestamp() * 1000) and out["events"][1:] == [{"seq": 2}, "x"]
    assert body["events"][0]["msg_id"] == "m1" and body["live_info"]["live_id"] == "old"
    assert "live_info" not in restamp({"events": []}, platform_room=ROOM, suffix="s", now=NOW)
    assert parse_batch(out, NOW).records[0].platform_time == NOW
