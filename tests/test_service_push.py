"""Platform pushes into a real `govlive serve`: recorded samples, malformed payloads, duplicates, auth."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

import httpx
import pytest

from assistant.ingest.record import SHANGHAI
from assistant.ingest.samples import load_samples
from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE
from assistant.simulate import SAMPLE_FILES, build_request
from live import connector_headers, connector_push, douyin_headers, douyin_push

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
    assert bridge("u-noid", "营业执照怎么办") == {"accepted": 0, "duplicates": 1, "counted": 0, "rejected": [], "rejected_count": 0}
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


def likes(server) -> int:
    return server.status()["events_counted"].get("like", 0)


def kuaishou_feed(message_id: str) -> bytes:
    return json.dumps({"commentFeeds": [{"id": message_id, "user": {"principalId": "p-sig", "userName": "签名"}, "content": "公积金怎么提取",
                                         "showType": "FEED_SHOW_NORMALLY"}]}, ensure_ascii=False).encode()


def wechat_batch(events: list, live_id: str | None = None) -> bytes:
    return json.dumps({"events": events, "live_info": {"live_id": live_id or CITY.wechat_channels}}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def wechat_comment(message_id: str, text: str = "医保卡丢了怎么补办") -> dict:
    return {"seq": 1, "msg_id": message_id, "sec_openid": f"o-{message_id}", "nickname": "视频号观众", "content": text,
            "decoded_type": "comment", "msg_time": int(time.time())}


def test_the_kuaishou_room_is_in_the_signature(live_server):
    s = live_server.secrets.kuaishou_connector_secret
    county = ROOMS.get("county-1").kuaishou
    city_path, county_path = f"/push/kuaishou?room={CITY.kuaishou}", f"/push/kuaishou?room={county}"
    # A push signed for the city room, replayed into another room (or to another path): refused, nothing stored.
    before = stored(live_server)
    moved = connector_push(live_server, county_path, kuaishou_feed("sig-room-1"), s, signed_path=city_path)
    assert moved.status_code == 401 and "signature" in moved.json()["detail"], moved.text
    other_endpoint = connector_push(live_server, "/push/wechat_channels", wechat_batch([wechat_comment("sig-room-w")]),
                                    live_server.secrets.wechat_channels_connector_secret, signed_path="/push/wechat_channels?x=1")
    assert other_endpoint.status_code == 401
    assert stored(live_server) == before
    # Signed for the room it is sent to: accepted.
    assert connector_push(live_server, county_path, kuaishou_feed("sig-room-1"), s).json()["accepted"] == 1


def test_a_signed_push_is_accepted_once_and_only_while_its_timestamp_is_recent(live_server):
    body = json.dumps([{"msg_id": "replayed-like", "sec_openid": "u-like", "nickname": "点赞", "timestamp": int(time.time() * 1000)}]).encode()
    headers = douyin_headers(live_server, body, msg_type="live_like")
    before = likes(live_server)
    answers = [live_server.post("/push/douyin", content=body, headers=headers) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] + [401] * 19
    assert "already used" in answers[1].json()["detail"]
    assert likes(live_server) == before + 1, "one push, replayed 19 times, is one like"
    # The platform's own retry comes with a new nonce: accepted (the like has no id to deduplicate on).
    assert live_server.post("/push/douyin", content=body, headers=douyin_headers(live_server, body, msg_type="live_like")).status_code == 200
    for stamp in ("2001", "not-a-time", str(int(time.time()) - 3600), str(int(time.time()) + 3600), ""):
        late = live_server.post("/push/douyin", content=body, headers=douyin_headers(live_server, body, msg_type="live_like", timestamp=stamp))
        assert late.status_code == 401 and "x-timestamp" in late.json()["detail"], (stamp, late.text)
    assert likes(live_server) == before + 2
    # The connectors: a push is accepted once; the connector's retry, signed again, is a duplicate.
    s = live_server.secrets
    for path, raw, secret in ((f"/push/kuaishou?room={CITY.kuaishou}", kuaishou_feed("replay-k"), s.kuaishou_connector_secret),
                              ("/push/wechat_channels", wechat_batch([wechat_comment("replay-w")]), s.wechat_channels_connector_secret)):
        signed = connector_headers(live_server, path, raw, secret)
        first, replay = (live_server.post(path, content=raw, headers=signed) for _ in range(2))
        assert (first.status_code, first.json()["accepted"]) == (200, 1), first.text
        assert replay.status_code == 401 and "already used" in replay.json()["detail"], replay.text
        retry = connector_push(live_server, path, raw, secret)
        assert (retry.status_code, retry.json()["accepted"], retry.json()["duplicates"]) == (200, 0, 1)
        no_nonce = {k: v for k, v in connector_headers(live_server, path, raw, secret).items() if k != "x-govlive-nonce"}
        assert live_server.post(path, content=raw, headers=no_nonce).status_code == 401


def database_bytes(server) -> int:
    return sum(f.stat().st_size for f in server.data_dir.glob("govlive.db*"))


def test_a_push_of_thousands_of_bad_items_stores_one_small_row(live_server):
    live_server.wait_processed()
    raw = wechat_batch([1] * 8000 + [wechat_comment("bulk-good")])  # 16 KB: 8,000 events that are not objects, one comment
    assert len(raw) < 17_000
    before, grown_from = live_server.status(), database_bytes(live_server)
    response = connector_push(live_server, "/push/wechat_channels", raw, live_server.secrets.wechat_channels_connector_secret)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["accepted"], data["rejected_count"], len(data["rejected"])) == (1, 8000, 20)
    assert data["rejected"][0] == {"where": "events[0]", "reason": "expected a JSON object"}
    assert len(response.content) < 4096, "the answer is bounded, however many items were bad"
    grown = database_bytes(live_server) - grown_from
    assert grown < 512 * 1024, f"the database grew by {grown} bytes"
    after = live_server.status()
    assert (after["comments"], after["rejected_items"]) == (before["comments"] + 1, before["rejected_items"] + 8000)
    # Refused for having no usable item: the 422's list is bounded too.
    refused = connector_push(live_server, "/push/wechat_channels", wechat_batch([1] * 8000), live_server.secrets.wechat_channels_connector_secret)
    assert refused.status_code == 422 and refused.json()["rejected_count"] == 8000 and len(refused.json()["rejected"]) == 20


def test_a_push_that_fails_to_store_stores_nothing_and_its_retry_is_stored_once_and_answered(live_server):
    live_server.wait_processed()
    before = live_server.status()
    raw = wechat_batch([wechat_comment("disk-full-1", "公积金租房提取需要什么材料"), {"seq": 2, "decoded_type": "comment"}])  # one good, one bad
    secret = live_server.secrets.wechat_channels_connector_secret
    db = sqlite3.connect(live_server.data_dir / "govlive.db", timeout=30)
    try:
        # The disk fills up just as the push's rejected item is written.
        db.execute("CREATE TRIGGER disk_full BEFORE INSERT ON rejected_items BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        db.commit()
        failed = connector_push(live_server, "/push/wechat_channels", raw, secret)
        assert failed.status_code == 500
        time.sleep(0.5)
        during = live_server.status()
        assert (during["comments"], during["pending"], during["rejected_items"]) == (before["comments"], 0, before["rejected_items"]), \
            "a push that failed left part of itself behind"
    finally:
        db.execute("DROP TRIGGER IF EXISTS disk_full")
        db.commit()
        db.close()
    retry = connector_push(live_server, "/push/wechat_channels", raw, secret)  # the connector signs its retry again
    assert retry.status_code == 200 and (retry.json()["accepted"], retry.json()["rejected_count"]) == (1, 1), retry.text
    after = live_server.wait_processed()
    assert (after["comments"], after["rejected_items"]) == (before["comments"] + 1, before["rejected_items"] + 1)
    assert after["pending"] == 0 and sum(after["decisions"].values()) == after["comments"]


PROBE = """
import sys, time, httpx
with httpx.Client(timeout=120) as client:
    client.get(sys.argv[1])
    print("ready", flush=True)
    while True:
        started = time.monotonic()
        client.get(sys.argv[1])
        print(started, time.monotonic() - started, flush=True)
        time.sleep(0.01)
"""


def test_a_large_push_does_not_hold_up_the_event_loop(live_server):
    """While a push of 4,000 comments is decoded, parsed and stored, the server still answers other requests at once.

    A separate process asks for a cheap page over and over; the longest it
    waited during the push is compared with how long the push took (both
    stretch alike on a loaded machine). With the work on the event loop the
    page waits for most of the push; off the loop, a small part of it.
    Runs last in this module: it leaves thousands of comments to match.
    """
    live_server.wait_processed()
    probe = subprocess.Popen([sys.executable, "-c", PROBE, f"{live_server.url}/overlay"], stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    try:
        assert probe.stdout.readline().strip() == "ready"
        reader = threading.Thread(target=lambda: samples.extend(tuple(map(float, line.split())) for line in probe.stdout), daemon=True)
        reader.start()
        ratios, pushes = [], []
        with httpx.Client(timeout=120) as client:
            for n in range(3):
                now = int(time.time() * 1000)
                items = [{"msg_id": f"L{n}-{i}", "sec_openid": f"u{i}", "nickname": "n", "content": f"公积金怎么提取{i}", "timestamp": now}
                         for i in range(4000)]
                body = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
                headers = douyin_headers(live_server, body)
                time.sleep(0.5)
                started = time.monotonic()
                response = client.post(f"{live_server.url}/push/douyin", content=body, headers=headers)
                took = time.monotonic() - started
                assert response.status_code == 200 and response.json()["accepted"] == 4000, response.text[:300]
                time.sleep(0.3)  # the probe's request in flight at the end comes back
                overlapping = [latency for at, latency in list(samples) if at <= started + took and at + latency >= started]
                assert overlapping, "the probe made no request during the push"
                ratios.append(max(overlapping) / took)
                pushes.append(round(took, 3))
    finally:
        probe.terminate()
        probe.wait()
    assert statistics.median(ratios) < 0.5, f"the loop was held for {[round(r, 2) for r in ratios]} of pushes taking {pushes} s"
