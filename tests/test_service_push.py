"""Platform pushes into a real `govlive serve`: recorded samples, malformed payloads, duplicates, auth."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time

import pytest

from assistant.ingest.record import SHANGHAI
from assistant.ingest.samples import load_samples
from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE
from assistant.simulate import SAMPLE_FILES, build_request
from live import connector_push, douyin_push

pytestmark = pytest.mark.model

ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
CITY = ROOMS.get("city")


def now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def stored(server) -> tuple[int, int]:
    s = server.status()
    return s["comments"], sum(s["events_counted"].values())


@pytest.mark.parametrize("kind", SAMPLE_FILES)
def test_every_recorded_sample_gets_the_expected_answer(live_server, kind):
    comments_before, events_before = stored(live_server)
    samples = load_samples(kind)
    for sample in samples:
        request = build_request(kind, sample, CITY, f"-{kind}-t", live_server.secrets, now=now(), gzip_body=kind == "wechat_channels")
        response = live_server.post(request.path, content=request.body, headers=request.headers)
        assert response.status_code == sample.expect.status, (sample.note, response.text)
        data = response.json()
        if response.status_code == 200:
            assert (data["accepted"], data["counted"], len(data["rejected"])) == (
                sample.expect.comments, sample.expect.events, sample.expect.rejected), sample.note
        else:
            assert data["detail"], sample.note
    comments_after, events_after = stored(live_server)
    assert comments_after - comments_before == sum(s.expect.comments for s in samples)
    assert events_after - events_before == sum(s.expect.events for s in samples if s.expect.status == 200)


def test_every_stored_comment_gets_a_decision(live_server):
    status = live_server.wait_processed()
    assert status["pending"] == 0 and status["comments"] > 0
    assert sum(status["decisions"].values()) == status["comments"]
    assert {"answer", "suggest", "workorder", "ignore"} & set(status["decisions"])
    orders = live_server.get("/api/staff/work_orders", "staff").json()
    assert len(orders) == status["decisions"].get("workorder", 0)
    # The one with a phone number keeps it, unmasked, for the call back; the display masks it.
    with_phone = [o for o in orders if "13912345678" in o["citizen_text"]]
    assert with_phone and all("13912345678" not in o["display"] for o in with_phone)
    assert all(o["status"] == "待派单" for o in orders)


def test_a_retried_push_is_stored_once(live_server):
    items = [{"msg_id": f"retry-{i}", "sec_openid": "u-retry", "nickname": "重试", "content": f"第{i}个问题 社保怎么转移", "timestamp": int(time.time() * 1000)} for i in range(3)]
    first = douyin_push(live_server, items).json()
    again = douyin_push(live_server, items).json()
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    # The same message id in another platform room is another comment.
    other = douyin_push(live_server, items[:1], room=ROOMS.get("county-1").douyin).json()
    assert other["accepted"] == 1


def test_without_a_message_id_the_same_user_and_text_is_one_comment(live_server):
    def bridge(user, text):
        data = {"User": {"Id": user, "Nickname": "无编号"}, "Content": text, "RoomId": CITY.douyin}
        return live_server.post("/push/douyin/bridge", content=json.dumps({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}).encode(),
                                headers={**{"authorization": f"Bearer {live_server.secrets.douyin_bridge_token}"}, "content-type": "application/json"}).json()

    assert bridge("u-noid", "营业执照怎么办")["accepted"] == 1
    assert bridge("u-noid", "营业执照怎么办") == {"accepted": 0, "duplicates": 1, "counted": 0, "rejected": []}
    assert bridge("u-other", "营业执照怎么办")["accepted"] == 1


BOMB = gzip.compress(b"{" + b" " * (10 * 1024 * 1024) + b"}")


def refusals(server):
    """(what, response) for payloads that must be refused with a 4xx and store nothing."""
    s = server.secrets
    wechat = json.dumps({"events": [{"seq": 1, "msg_id": "w-bad", "sec_openid": "o", "nickname": "n", "content": "问", "decoded_type": "comment", "msg_time": 1}],
                         "live_info": {"live_id": CITY.wechat_channels}}).encode()
    kuaishou_body = json.dumps({"commentFeeds": [{"id": "k-bad", "user": {"principalId": "p", "userName": "u"}, "content": "问", "showType": "FEED_SHOW_NORMALLY"}]}).encode()
    bridge_headers = {"authorization": f"Bearer {s.douyin_bridge_token}", "content-type": "application/json"}
    yield "douyin: wrong signature", 401, douyin_push(server, [{"msg_id": "x1", "content": "问"}], secret="not-the-secret")
    yield "douyin: body changed after signing", 401, douyin_push(server, [{"msg_id": "x2", "content": "问"}], tamper=True)
    yield "douyin: unknown room", 404, douyin_push(server, [{"msg_id": "x3", "content": "问"}], room="999")
    yield "douyin: every item bad", 422, douyin_push(server, [{"content": "no id"}, 5])
    yield "douyin: not an array", 422, douyin_push(server, {"msg_id": "x4"})
    yield "bridge: no token", 401, server.post("/push/douyin/bridge", content=b"{}", headers={"content-type": "application/json"})
    yield "bridge: wrong token", 401, server.post("/push/douyin/bridge", content=b"{}", headers={"authorization": "Bearer nope"})
    yield "bridge: invalid JSON", 400, server.post("/push/douyin/bridge", content=b'{"Type": 1, "Data": ', headers=bridge_headers)
    yield "bridge: not UTF-8", 400, server.post("/push/douyin/bridge", content=b'{"Type": 1, "Data": "\xff\xfe"}', headers=bridge_headers)
    yield "bridge: wrong types", 422, server.post("/push/douyin/bridge", content=b'{"Type": "chat", "Data": 5}', headers=bridge_headers)
    yield "bridge: 1 MB body", 413, server.post("/push/douyin/bridge", content=b"[" + b" " * 1024 * 1024 + b"]", headers=bridge_headers)
    yield "bridge: unknown room", 404, server.post("/push/douyin/bridge", headers=bridge_headers, content=json.dumps(
        {"Type": 1, "Data": json.dumps({"MsgId": 5, "Content": "问", "RoomId": "123"})}).encode())
    yield "kuaishou: no room", 422, connector_push(server, "/push/kuaishou", kuaishou_body, s.kuaishou_connector_secret)
    yield "kuaishou: unknown room", 404, connector_push(server, "/push/kuaishou?room=nope", kuaishou_body, s.kuaishou_connector_secret)
    yield "kuaishou: stale timestamp", 401, connector_push(server, f"/push/kuaishou?room={CITY.kuaishou}", kuaishou_body,
                                                         s.kuaishou_connector_secret, stamp=int(time.time()) - 3600)
    yield "kuaishou: another platform's secret", 401, connector_push(server, f"/push/kuaishou?room={CITY.kuaishou}", kuaishou_body,
                                                                    s.wechat_channels_connector_secret)
    yield "wechat: gzip bomb", 413, connector_push(server, "/push/wechat_channels", BOMB, s.wechat_channels_connector_secret, extra={"content-encoding": "gzip"})
    yield "wechat: says gzip, is not", 400, connector_push(server, "/push/wechat_channels", wechat, s.wechat_channels_connector_secret, extra={"content-encoding": "gzip"})
    yield "wechat: brotli", 415, connector_push(server, "/push/wechat_channels", wechat, s.wechat_channels_connector_secret, extra={"content-encoding": "br"})
    yield "wechat: unknown live id", 404, connector_push(server, "/push/wechat_channels", wechat.replace(CITY.wechat_channels.encode(), b"42"),
                                                       s.wechat_channels_connector_secret)
    yield "wechat: no live_info", 422, connector_push(server, "/push/wechat_channels", b'{"events": []}', s.wechat_channels_connector_secret)


def test_malformed_and_unauthenticated_pushes_are_refused_and_store_nothing(live_server):
    live_server.wait_processed()
    before = live_server.status()
    for what, expected, response in refusals(live_server):
        assert response.status_code == expected, (what, response.status_code, response.text)
        assert response.json()["detail"], what
    after = live_server.wait_processed()
    for key in ("comments", "events_counted", "rejected_items", "work_orders", "decisions"):
        assert after[key] == before[key], key


def test_partly_bad_push_keeps_the_good_items_and_logs_the_bad(live_server):
    before = live_server.status()
    response = douyin_push(live_server, [{"msg_id": "partial-1", "sec_openid": "u", "content": "不动产登记要多久"}, {"content": "no id"}])
    data = response.json()
    assert response.status_code == 200 and data["accepted"] == 1
    assert data["rejected"] == [{"where": "item 1", "reason": "msg_id is missing"}]
    after = live_server.status()
    assert (after["comments"], after["rejected_items"]) == (before["comments"] + 1, before["rejected_items"] + 1)


def test_each_role_has_its_own_token(live_server):
    cases = [
        ("/api/host/next", {"room": "city"}, {"host", "admin"}),
        ("/api/control/pending", {"room": "city"}, {"control", "admin"}),
        ("/api/staff/work_orders", {}, {"staff", "admin"}),
        ("/api/admin/status", {}, {"admin"}),
    ]
    for path, params, allowed in cases:
        for role in ("host", "control", "staff", "admin"):
            response = live_server.get(path, role, **params)
            assert response.status_code == (200 if role in allowed else 403), (path, role, response.text)
        anonymous = __import__("httpx").get(f"{live_server.url}{path}", params=params)
        assert anonymous.status_code == 401
        wrong = __import__("httpx").get(f"{live_server.url}{path}", params=params, headers={"authorization": "Bearer guessed"})
        assert wrong.status_code == 401
