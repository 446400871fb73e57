"""Kuaishou web feed push → common comment records."""

from __future__ import annotations

import datetime as dt

from assistant.ingest.kuaishou import parse_feed_push, restamp
from assistant.ingest.record import SHANGHAI

NOW = dt.datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)
ROOM = "Xf2Qm8LcT0A"


def test_comments_likes_and_gifts_become_records():
    body = {
        "displayWatchingCount": "1,286",
        "commentFeeds": [
            {"id": "c1", "user": {"principalId": "3xabc", "userName": "东北老铁"}, "content": "医保断缴了还能补交吗", "showType": "FEED_SHOW_NORMAL"},
            {"id": "c2", "user": {"principalId": "3xdef", "userName": "赚钱门路"}, "content": "加V看", "showType": "FEED_HIDDEN"},
        ],
        "likeFeeds": [{"user": {"principalId": "3xghi", "userName": "路人甲"}}],
        "giftFeeds": [{"id": "g1", "user": {"principalId": "3xabc", "userName": "东北老铁"}, "giftId": 1, "batchSize": 10, "time": 1763811002113}],
    }
    parsed = parse_feed_push(body, room=ROOM, received_at=NOW)
    assert parsed.rejected == []
    c1, c2, like, gift = parsed.records
    assert (c1.platform, c1.room, c1.message_id, c1.user_id, c1.nickname, c1.text, c1.type, c1.hidden) == (
        "kuaishou", ROOM, "c1", "3xabc", "东北老铁", "医保断缴了还能补交吗", "comment", False)
    assert c1.platform_time is None and c1.received_at == NOW and c1.raw == body["commentFeeds"][0]
    assert c2.hidden and c2.text == "加V看"
    assert (like.type, like.message_id, like.text, like.nickname) == ("like", None, "", "路人甲")
    assert (gift.type, gift.message_id, gift.text) == ("gift", "g1", "")
    assert gift.platform_time == dt.datetime(2025, 11, 22, 19, 30, 2, 113000, tzinfo=SHANGHAI)


def test_bad_comments_are_rejected_alone():
    body = {
        "commentFeeds": [
            {"id": "c1", "content": "好"},
            {"content": "没有 id"},
            {"id": "c3", "content": 666},
            "not an object",
            {"id": "", "content": "空 id"},
        ],
        "likeFeeds": "oops",
    }
    parsed = parse_feed_push(body, room=ROOM, received_at=NOW)
    assert [r.message_id for r in parsed.records] == ["c1"]
    assert parsed.records[0].user_id is None
    assert [x.where for x in parsed.rejected] == ["commentFeeds[1]", "commentFeeds[2]", "commentFeeds[3]", "commentFeeds[4]", "likeFeeds"]


def test_payload_without_feed_lists_is_one_rejection():
    for body in ({"displayWatchingCount": "356"}, [], "text", None, {"commentFeeds": {"id": "x"}}):
        parsed = parse_feed_push(body, room=ROOM, received_at=NOW)
        assert parsed.records == [] and [x.where for x in parsed.rejected] == ["body"]
    # null feeds are simply absent
    parsed = parse_feed_push({"commentFeeds": [{"id": "c", "content": "好"}], "giftFeeds": None}, room=ROOM, received_at=NOW)
    assert len(parsed.records) == 1 and parsed.rejected == []
    assert parse_feed_push({"commentFeeds": []}, room="", received_at=NOW).rejected[0].where == "room"


def test_restamp_suffixes_ids_and_times():
    body = {"commentFeeds": [{"id": "c1", "content": "好"}, {"content": "no id"}], "likeFeeds": [{"user": {}}], "giftFeeds": [{"id": 7, "time": 1}]}
    out = restamp(body, platform_room="ignored", suffix="-r1", now=NOW)
    assert out["commentFeeds"][0]["id"] == "c1-r1" and "id" not in out["commentFeeds"][1]
    assert out["giftFeeds"][0] == {"id": "7-r1", "time": int(NOW.timestamp() * 1000)}
    assert body["commentFeeds"][0]["id"] == "c1" and body["giftFeeds"][0]["time"] == 1  # the original is untouched
    assert restamp({"commentFeeds": "bad"}, platform_room="x", suffix="s", now=NOW) == {"commentFeeds": "bad"}
