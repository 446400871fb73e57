"""Hostile and broken input to every push endpoint and API of a real `govlive serve`.

Each case gets a clear 4xx with a JSON ``detail`` (or, for text a viewer may
really type, is stored exactly as sent and shown as text, never as markup),
the server keeps serving, and what was accepted before is byte-for-byte the
same afterwards.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import time

import httpx
import pytest
import websockets

from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE
from live import connector_push, douyin_push, douyin_signed

pytestmark = pytest.mark.model

CITY = Rooms.read(EXAMPLE_ROOMS_FILE).get("city")
MB = 1024 * 1024
# Compresses to about 50 KB, inflates to 50 MB: far over the push limit.
GZIP_BOMB = gzip.compress(b"[" + b" " * (50 * MB) + b"]", compresslevel=9)

GOOD = [
    ("bi-good-1", "医保卡丢了怎么补办"),
    ("bi-good-2", "公积金租房提取需要什么材料"),
    ("bi-good-3", "帮我查下我的社保为什么断缴了 电话13912345678"),  # a work order
    ("bi-good-4", "666"),
]
# Text a viewer can really type: stored exactly as sent, never interpreted.
ODD_TEXTS = {
    "sql": "'; DROP TABLE comments; -- 医保怎么报销",
    "sql-union": "1' UNION SELECT token FROM secrets --",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)>异地就医备案怎么办",
    "emoji-only": "😀😀😂🙏🙏👍",
    "control": "医保\u0007卡\u001b[31m丢了\u200b怎么\u202e补办",
    "null-byte": "社保\u0000断缴怎么办",
    "long": "请问异地就医备案怎么办" * 1000,  # 11,000 characters
}


def comments_item(message_id: str, text: str) -> dict:
    return {"msg_id": message_id, "sec_openid": f"u-{message_id}", "nickname": "观众", "content": text, "timestamp": int(time.time() * 1000)}


def snapshot(server) -> dict[str, list[tuple]]:
    """Every row accepted so far (read-only connection), without the columns the deadline watcher updates."""
    db = sqlite3.connect(f"file:{server.data_dir / 'govlive.db'}?mode=ro", uri=True)
    try:
        order_columns = [r[1] for r in db.execute("PRAGMA table_info(work_orders)") if r[1] not in ("last_colour", "updated_at")]
        return {
            "comments": db.execute("SELECT * FROM comments ORDER BY id").fetchall(),
            "room_events": db.execute("SELECT * FROM room_events ORDER BY seq, room").fetchall(),
            "work_orders": db.execute(f"SELECT {', '.join(order_columns)} FROM work_orders ORDER BY id").fetchall(),
            "rejected_items": db.execute("SELECT * FROM rejected_items ORDER BY id").fetchall(),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index):
    from live import LiveServer, data_dir_with_index

    live = LiveServer(data_dir_with_index(tmp_path_factory.mktemp("bad-input"), bundled_index[0])).start()
    response = douyin_push(live, [comments_item(i, t) for i, t in GOOD])
    assert response.status_code == 200 and response.json()["accepted"] == len(GOOD)
    live.wait_processed()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def accepted(server):
    """What was stored before any hostile input; compared again at the end."""
    return snapshot(server)


def bodies(server):
    """(what, expected status, response) for each hostile request."""
    s = server.secrets
    kuaishou = f"/push/kuaishou?room={CITY.kuaishou}"
    wechat_ok = json.dumps({"events": [{"seq": 1, "msg_id": "w-bi", "sec_openid": "o", "nickname": "n", "content": "问",
                                        "decoded_type": "comment", "msg_time": 1}], "live_info": {"live_id": CITY.wechat_channels}}).encode()
    bridge = {"authorization": f"Bearer {s.douyin_bridge_token}", "content-type": "application/json"}
    pushes = {
        "douyin": lambda raw, **kw: douyin_signed(server, raw, **kw),
        "bridge": lambda raw, extra=None: server.post("/push/douyin/bridge", content=raw, headers={**bridge, **(extra or {})}),
        "kuaishou": lambda raw, extra=None: connector_push(server, kuaishou, raw, s.kuaishou_connector_secret, extra=extra),
        "wechat": lambda raw, extra=None: connector_push(server, "/push/wechat_channels", raw, s.wechat_channels_connector_secret, extra=extra),
    }
    for name, push in pushes.items():
        yield f"{name}: 1 MB body", 413, push(b"[" + b" " * MB + b"]")
        yield f"{name}: 10 MB body", 413, push(b"[" + b" " * (10 * MB) + b"]")
        yield f"{name}: gzip bomb", 413, push(GZIP_BOMB, extra={"content-encoding": "gzip"})
        yield f"{name}: invalid JSON", 400, push(b'{"a": [1, 2,')
        yield f"{name}: null bytes outside strings", 400, push(b'{"a": 1}\x00\x00')
        yield f"{name}: not UTF-8", 400, push(b'["\xff\xfe\xfa"]')
        yield f"{name}: unknown Content-Encoding", 415, push(b"[]", extra={"content-encoding": "zstd"})
    # 10 MB without a Content-Length: the limit is counted while reading.
    stream = (b" " * (256 * 1024) for _ in range(40))
    yield "bridge: 10 MB streamed without Content-Length", 413, httpx.post(
        f"{server.url}/push/douyin/bridge", content=stream, headers=bridge, timeout=30)
    # Wrong types, every item unusable.
    yield "douyin: wrong types", 422, douyin_signed(server, json.dumps([{"msg_id": {"a": 1}, "content": 5}, None, "x"]).encode())
    yield "bridge: wrong types", 422, pushes["bridge"](b'{"Type": [], "Data": {"Content": 5}}')
    yield "kuaishou: wrong types", 422, pushes["kuaishou"](b'{"commentFeeds": "not a list"}')
    yield "wechat: wrong types", 422, pushes["wechat"](b'{"events": {"seq": "x"}, "live_info": {"live_id": 5}}')
    yield "wechat: JSON null", 422, pushes["wechat"](b"null")
    # Bad signatures and tokens.
    yield "douyin: wrong secret", 401, douyin_signed(server, b"[]", secret="guessed")
    yield "douyin: no signature", 401, server.post("/push/douyin", content=b"[]", headers={"x-roomid": CITY.douyin})
    yield "bridge: wrong token", 401, server.post("/push/douyin/bridge", content=b"[]", headers={"authorization": "Bearer guessed"})
    yield "kuaishou: signed with the WeChat secret", 401, connector_push(server, kuaishou, b"{}", s.wechat_channels_connector_secret)
    yield "wechat: signature for another body", 401, server.post("/push/wechat_channels", content=wechat_ok + b" ", headers={
        **__import__("assistant.ingest.connector_auth", fromlist=["x"]).signed_headers(s.wechat_channels_connector_secret, int(time.time()), wechat_ok,
                                                                                  target="/push/wechat_channels")})
    # Unknown platforms and rooms.
    yield "unknown platform", 404, server.post("/push/tiktok", content=b"[]", headers={"content-type": "application/json"})
    yield "douyin: unknown room", 404, douyin_signed(server, json.dumps([comments_item("bi-room", "问")]).encode(), room="000")
    yield "kuaishou: unknown room", 404, connector_push(server, "/push/kuaishou?room=000", b'{"commentFeeds": []}', s.kuaishou_connector_secret)
    yield "kuaishou: room id of 10,000 characters", 422, connector_push(server, "/push/kuaishou?room=" + "9" * 10000, b"{}",
                                                                        s.kuaishou_connector_secret)
    yield "wechat: unknown live id", 404, pushes["wechat"](wechat_ok.replace(CITY.wechat_channels.encode(), b"000"))


def api_calls(server):
    """(what, expected status, response) for the staff, control, host and admin APIs."""
    def post(path, role, raw: bytes | None = None, body=None, **params):
        headers = {**server.auth(role), "content-type": "application/json"} if role else {"content-type": "application/json"}
        content = raw if raw is not None else json.dumps(body).encode()
        return httpx.post(f"{server.url}{path}", content=content, headers=headers, params=params, timeout=30)

    def get(path, role, **params):
        return httpx.get(f"{server.url}{path}", headers=server.auth(role) if role else {}, params=params, timeout=30)

    missing = 999_999  # no such order or comment: a well-formed body reaches the lookup and gets 404
    for path in (f"/api/staff/work_orders/{missing}/dispatch", f"/api/control/suggestions/{missing}/approve", "/api/host/ack"):
        role = "staff" if "staff" in path else "control" if "control" in path else "host"
        yield f"{path}: 1 MB body", 413, post(path, role, raw=b"{" + b" " * MB + b"}")
        yield f"{path}: 10 MB body", 413, post(path, role, raw=b"{" + b" " * (10 * MB) + b"}")
        yield f"{path}: invalid JSON", 422, post(path, role, raw=b'{"department": ')
        yield f"{path}: a JSON array", 422, post(path, role, body=[1, 2])
        yield f"{path}: no token", 401, post(path, None, body={})
        yield f"{path}: a guessed token", 401, httpx.post(f"{server.url}{path}", json={}, headers={"authorization": "Bearer guessed"})
    yield "staff API with the host token", 403, post(f"/api/staff/work_orders/{missing}/accept", "host", body={})
    yield "admin status with the staff token", 403, get("/api/admin/status", "staff")
    yield "dispatch: department of the wrong type", 422, post(f"/api/staff/work_orders/{missing}/dispatch", "staff", body={"department": 5})
    yield "dispatch: complexity not in the list", 422, post(f"/api/staff/work_orders/{missing}/dispatch", "staff",
                                                            body={"department": "市医保局", "complexity": "urgent"})
    yield "dispatch: 10,000-character department", 422, post(f"/api/staff/work_orders/{missing}/dispatch", "staff",
                                                             body={"department": "局" * 10000})
    yield "dispatch: SQL in the department, no such order", 404, post(f"/api/staff/work_orders/{missing}/dispatch", "staff",
                                                                     body={"department": "x'; DELETE FROM work_orders; --"})
    yield "dispatch: null bytes, no such order", 404, post(f"/api/staff/work_orders/{missing}/dispatch", "staff",
                                                          body={"department": "市医保局\u0000\u0000"})
    yield "order id that is not a number", 422, post("/api/staff/work_orders/1%20OR%201=1/accept", "staff", body={})
    yield "revisit: satisfied is not a boolean", 422, post(f"/api/staff/work_orders/{missing}/revisit", "staff", body={"satisfied": "maybe"})
    yield "close: empty resolution", 422, post(f"/api/staff/work_orders/{missing}/close", "staff", body={"resolution": ""})
    yield "review answer: unknown group", 404, post("/api/staff/review/no-such-group/answer", "staff", body={
        "question": "医保卡丢了怎么补办", "answer": "到医保窗口补办。", "domain": "医疗保障", "department": "市医疗保障局"})
    yield "review dismiss: unknown group", 404, post("/api/staff/review/no-such-group/dismiss", "staff", body={})
    yield "ledger: a date that is not one", 422, get("/api/staff/ledger", "staff", date="2026-13-45")
    yield "ledger export: unknown format", 422, get("/api/staff/ledger/export", "staff", format="pdf")
    yield "work orders: colour not in the list", 422, get("/api/staff/work_orders", "staff", colour="purple")
    yield "work orders: 10,000-character room filter", 422, get("/api/staff/work_orders", "staff", room="x" * 10000)
    yield "host next: unknown room", 404, get("/api/host/next", "host", room="nope")
    yield "control pending: unknown room", 404, get("/api/control/pending", "control", room="nope")
    yield "host ack: wrong types", 422, post("/api/host/ack", "host", body={"lease_id": 5})


def test_every_hostile_request_gets_a_clear_4xx(server, accepted):
    failures = []
    for what, expected, response in [*bodies(server), *api_calls(server)]:
        if response.status_code != expected:
            failures.append(f"{what}: expected {expected}, got {response.status_code} {response.text[:200]}")
            continue
        detail = response.json().get("detail")
        if not detail:
            failures.append(f"{what}: no detail in {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert server.process.poll() is None, "the server died"


def push_senders(server):
    """name → send(raw bytes): each push endpoint, authenticated as its platform would."""
    s = server.secrets
    bridge = {"authorization": f"Bearer {s.douyin_bridge_token}", "content-type": "application/json"}
    return {
        "douyin": lambda raw: douyin_signed(server, raw),
        "bridge": lambda raw: server.post("/push/douyin/bridge", content=raw, headers=bridge),
        "kuaishou": lambda raw: connector_push(server, f"/push/kuaishou?room={CITY.kuaishou}", raw, s.kuaishou_connector_secret),
        "wechat": lambda raw: connector_push(server, "/push/wechat_channels", raw, s.wechat_channels_connector_secret),
    }


def test_deeply_nested_json_is_refused_on_every_endpoint(server):
    failures = []
    inside = {  # a usable payload with one field nested 1,000 levels deep
        "douyin": lambda deep: [{**comments_item("bi-deep", "问"), "extra": deep}],
        "bridge": lambda deep: {"Type": 1, "Data": "{}", "extra": deep},
        "kuaishou": lambda deep: {"commentFeeds": [{"id": "bi-deep", "user": {"principalId": "p"}, "content": "问", "extra": deep}]},
        "wechat": lambda deep: {"events": [{"seq": 1, "msg_id": "bi-deep", "decoded_type": "comment", "content": "问", "extra": deep}],
                                "live_info": {"live_id": CITY.wechat_channels}},
    }
    for name, push in push_senders(server).items():
        cases = [(f"{depth:,} levels", b"[" * depth + b"]" * depth) for depth in (1_000, 100_000)]
        cases.append(("a field 1,000 levels deep", json.dumps(inside[name]("__DEEP__")).replace('"__DEEP__"', "[" * 1000 + "]" * 1000).encode()))
        cases.append(("objects 5,000 levels deep", b'{"a":' * 5000 + b"1" + b"}" * 5000))
        for what, raw in cases:
            response = push(raw)
            detail = response.json().get("detail", "") if response.headers.get("content-type", "").startswith("application/json") else ""
            if response.status_code != 400 or "nested too deeply" not in detail:
                failures.append(f"{name}, {what}: {response.status_code} {response.text[:200]}")
    # The bridge's Data is JSON in a string, decoded on its own: a message whose Data is nested too deeply is rejected.
    data = "[" * 1000 + "]" * 1000
    response = push_senders(server)["bridge"](json.dumps({"Type": 1, "Data": data}).encode())
    if response.status_code != 422 or "nested too deeply" not in response.text:
        failures.append(f"bridge, Data 1,000 levels deep: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)
    assert server.process.poll() is None, "the server died"


def test_websocket_refuses_bad_rooms_tokens_and_sequence_numbers(server):
    async def refused(url: str) -> int:
        try:
            async with websockets.connect(url) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.InvalidStatus as exc:
            return exc.response.status_code
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else -1
        return 0

    base = f"ws://127.0.0.1:{server.port}/ws/overlay"
    token = server.token("host")
    codes = {
        "unknown room": asyncio.run(refused(f"{base}/nope?token={token}")),
        "no token": asyncio.run(refused(f"{base}/city")),
        "guessed token": asyncio.run(refused(f"{base}/city?token=guessed")),
        "since is not a number": asyncio.run(refused(f"{base}/city?token={token}&since=abc")),
        "since is negative": asyncio.run(refused(f"{base}/city?token={token}&since=-5")),
    }
    assert codes == {"unknown room": 4404, "no token": 4401, "guessed token": 4401, "since is not a number": 4400,
                     "since is negative": 4400}, codes
    assert server.process.poll() is None


@pytest.mark.parametrize("kind", list(ODD_TEXTS))
def test_odd_text_is_stored_exactly_and_shown_as_text(server, kind):
    text = ODD_TEXTS[kind]
    message_id = f"bi-odd-{kind}"
    response = douyin_push(server, [comments_item(message_id, text)])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    server.wait_processed()
    db = sqlite3.connect(f"file:{server.data_dir / 'govlive.db'}?mode=ro", uri=True)
    try:
        stored, decision, display = db.execute("SELECT text, decision, display FROM comments WHERE message_id = ?", (message_id,)).fetchone()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert stored == text, "stored exactly as sent"
    assert decision in ("answer", "suggest", "workorder", "ignore")
    assert {"comments", "work_orders", "room_events"} <= tables
    # What screens get has no control characters; markup stays as typed (every
    # page escapes it: see the browser test below) and nothing else is altered.
    assert not any(ord(c) < 32 and c not in "\n\t" for c in display)
    if kind in ("sql", "sql-union", "html"):
        assert display == text


def test_html_text_reaches_the_overlay_as_text_not_markup(server, tmp_path):
    """A question with markup in it, in a real browser: the overlay shows words, runs no script."""
    from playwright.sync_api import sync_playwright

    question = "<b>加粗</b><img src=x onerror=\"document.title='pwned'\">出门没带手机也没带医保卡 去医院能刷脸结算吗"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{server.url}/overlay?room=city&token={server.token('host')}")
            page.wait_for_timeout(1500)
            before = page.locator("body").inner_text()
            assert douyin_push(server, [comments_item("bi-overlay-html", question)]).status_code == 200
            server.wait_processed()
            page.wait_for_timeout(1500)
            html = page.content()
            assert page.title() != "pwned" and not dialogs
            assert "onerror" not in html.split("</head>", 1)[-1] or "&lt;" in html, "markup from a viewer became elements"
            assert page.locator("img[src=x]").count() == 0 and page.locator("b", has_text="加粗").count() == 0
            shown = page.locator("body").inner_text()
            assert shown != before, "the overlay showed something for the question"
        finally:
            browser.close()


def test_afterwards_the_server_serves_and_nothing_accepted_changed(server, accepted):
    # Runs last in this module (pytest keeps file order): after every hostile request above.
    good = douyin_push(server, [comments_item("bi-after", "新生儿落户需要带什么材料")])
    assert good.status_code == 200 and good.json()["accepted"] == 1
    server.wait_processed()
    now = snapshot(server)
    for table, rows in accepted.items():
        assert now[table][: len(rows)] == rows, f"{table}: rows accepted before the hostile input changed"
    assert len(now["comments"]) == len(accepted["comments"]) + len(ODD_TEXTS) + 2  # the odd texts, the overlay one, this one
    # Refused pushes stored nothing: the rejected-items log only grows from accepted pushes with bad items, and none were sent.
    assert len(now["rejected_items"]) == len(accepted["rejected_items"])
