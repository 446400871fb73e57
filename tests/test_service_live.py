"""The overlay websocket (resume by sequence number), the digital-human host API and the control API,
against a real `govlive serve` and real websocket clients."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
import websockets

from assistant.deliver.speech import host_speech, speakable
from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE

pytestmark = pytest.mark.model

ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
# Comments whose decision the fitted matcher makes with a wide margin (see `govlive match`).
ANSWERED = [
    "出门没带手机也没带医保咔 去医院能刷脸结算吗",
    "老师 带押过户到底是个什么意思 没听懂",
    "小产权房到底有没有可能办下证来？？",
    "同样买房子 用公积金贷和商贷 哪个利息更少一点",
    "现在户口本上还分农业户口和非农业户口吗",
    "我名字里有个生僻字 办身份正的时候电脑打不出来咋办",
]
SUGGESTED = ["医保卡丢了怎么补办", "异地就医备案怎么办", "<b>粗体</b> 社保卡可以跨省用吗"]
WORK_ORDER = "帮我查下我的社保为什么断缴了 电话13912345678"


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index):
    from live import LiveServer, data_dir_with_index

    s = LiveServer(data_dir_with_index(tmp_path_factory.mktemp("live"), bundled_index[0])).start()
    yield s
    s.stop()


_counter = iter(range(10**6))


def say(server, room: str, *texts: str, user: str = "viewer") -> list[str]:
    """Push chat comments through the Douyin bridge; returns their message ids."""
    ids = []
    for text in texts:
        msg_id = f"live-{next(_counter)}"
        data = {"MsgId": msg_id, "User": {"Id": user, "Nickname": "观众"}, "Content": text, "RoomId": ROOMS.get(room).douyin}
        response = server.post("/push/douyin/bridge", content=json.dumps({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}).encode(),
                               headers={"authorization": f"Bearer {server.secrets.douyin_bridge_token}", "content-type": "application/json"})
        assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
        ids.append(msg_id)
    return ids


async def receive(ws, count: int, timeout: float = 30) -> list[dict]:
    out = []
    while len(out) < count:
        out.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return out


async def nothing_more(ws, seconds: float = 1.0) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


def test_overlay_resumes_by_sequence_number_exactly_once(server):
    room = "county-3"

    async def scenario():
        async with websockets.connect(server.ws_url(room)) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello" and hello["seq"] == 0 and hello["latest"] is None and hello["room_name"]
            say(server, room, *ANSWERED[:3])
            first = await receive(ws, 3)
        assert [e["seq"] for e in first] == [1, 2, 3] and all(e["kind"] == "answer" for e in first)
        # While the overlay is away, more comments are answered.
        say(server, room, *ANSWERED[3:])
        server.wait_processed()
        async with websockets.connect(server.ws_url(room, since=first[-1]["seq"])) as ws:
            hello = json.loads(await ws.recv())
            assert hello["seq"] == 6 and hello["latest"] is None  # resuming: no "latest", the replay follows
            missed = await receive(ws, 3)
            assert [e["seq"] for e in missed] == [4, 5, 6]
            assert await nothing_more(ws)
            say(server, room, ANSWERED[0])
            live = await receive(ws, 1)
            assert live[0]["seq"] == 7
            assert await nothing_more(ws)
        # A fresh overlay (no since) is shown the latest answer at once, and replays nothing.
        async with websockets.connect(server.ws_url(room)) as ws:
            hello = json.loads(await ws.recv())
            assert hello["latest"]["seq"] == 7 and hello["latest"]["question"]
            assert await nothing_more(ws)
        # since=0 replays the whole room, in order, once.
        async with websockets.connect(server.ws_url(room, since=0)) as ws:
            await ws.recv()
            everything = await receive(ws, 7)
            assert [e["seq"] for e in everything] == list(range(1, 8))
            assert await nothing_more(ws)
        return first + missed + live

    events = asyncio.run(scenario())
    assert [e["comment"] for e in events] == ANSWERED + ANSWERED[:1]
    assert all(e["answer"] and e["entry_id"] and e["room"] == room for e in events)


def test_overlay_socket_refuses_bad_tokens_rooms_and_since(server):
    async def close_code(url: str) -> int:
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    base = f"ws://127.0.0.1:{server.port}/ws/overlay"
    assert asyncio.run(close_code(f"{base}/city?token=wrong")) == 4401
    assert asyncio.run(close_code(f"{base}/city")) == 4401
    assert asyncio.run(close_code(f"{base}/nowhere?token={server.token('host')}")) == 4404
    assert asyncio.run(close_code(f"{base}/city?token={server.token('host')}&since=-1")) == 4400


def test_host_gets_answers_with_a_lease_and_acknowledges_them(server):
    """Over HTTP. Leases that run out are tested on an injected clock in test_host_queue.py."""
    room = "county-4"
    say(server, room, ANSWERED[1])
    server.wait_processed()
    first = server.get("/api/host/next", "host", room=room, wait=5).json()
    assert first["kind"] == "answer" and first["deliveries"] == 1 and first["lease_id"]
    assert first["text"].startswith("有网友问：") and "http" not in first["text"]
    # Leased: not handed out again while the lease runs.
    assert server.get("/api/host/next", "host", room=room, wait=0).json()["kind"] == "idle"
    assert server.post_json("/api/host/ack", "host", {"lease_id": "no-such-lease"}).status_code == 409
    assert server.post_json("/api/host/ack", "host", {"lease_id": first["lease_id"]}).json() == {"status": "spoken"}
    assert server.post_json("/api/host/ack", "host", {"lease_id": first["lease_id"]}).json() == {"status": "already"}
    assert server.get("/api/host/next", "host", room=room, wait=0).json()["kind"] == "idle"  # spoken items never come back
    assert server.post_json("/api/host/ack", "host", {"lease_id": ""}).status_code == 422


def test_host_long_poll_returns_when_an_answer_arrives(server):
    room = "county-5"
    result = {}

    def poll():
        result["item"] = server.get("/api/host/next", "host", room=room, wait=120).json()

    thread = threading.Thread(target=poll)
    thread.start()
    # The poll is asleep in the server before the answer exists: no race with the comment.
    deadline = time.monotonic() + 30
    while server.status()["host_polls_waiting"].get(room) != 1:
        assert time.monotonic() < deadline, "the long-poll never started waiting"
        time.sleep(0.05)
    assert "item" not in result
    say(server, room, ANSWERED[2])
    thread.join(60)  # half the poll's own wait: only the answer can have ended it
    assert not thread.is_alive()
    assert result["item"]["kind"] == "answer" and result["item"]["question"]
    assert server.status()["host_polls_waiting"].get(room) is None


def test_idle_items_rotate_through_policy_highlights_when_nothing_is_queued(server):
    items = [server.get("/api/host/next", "host", room="county-9", wait=0).json() for _ in range(3)]
    assert all(i["kind"] == "idle" and i["lease_id"] is None and i["text"] for i in items)
    assert len({i["entry_id"] for i in items}) == 3
    assert server.get("/api/host/next", "host", room="nowhere", wait=0).status_code == 404
    assert server.get("/api/host/next", "host", room="city", wait=-1).status_code == 422


def test_control_approves_skips_and_files_suggestions(server):
    room = "county-6"

    async def scenario():
        async with websockets.connect(server.ws_url(room, role="control")) as ws:
            await ws.recv()
            say(server, room, *SUGGESTED)
            suggestions = await receive(ws, 3)
            assert [e["kind"] for e in suggestions] == ["suggest"] * 3
            pending = server.get("/api/control/pending", "control", room=room).json()
            items = {i["comment_id"]: i for i in pending["items"]}
            assert list(items) == [e["comment_id"] for e in suggestions]
            first, second, third = suggestions
            choice = items[first["comment_id"]]["candidates"][-1]["entry_id"]  # the operator picks another candidate
            base = "/api/control/suggestions"
            assert server.post_json(f"{base}/{first['comment_id']}/approve", "host", {}).status_code == 403
            assert server.post_json(f"{base}/{first['comment_id']}/approve", "control", {"entry_id": "jiaoguan-0001"}).status_code == 422
            approved = server.post_json(f"{base}/{first['comment_id']}/approve", "control", {"entry_id": choice})
            assert approved.status_code == 200 and approved.json()["event"]["entry_id"] == choice
            assert server.post_json(f"{base}/{first['comment_id']}/skip", "control", {}).status_code == 409
            assert server.post_json(f"{base}/{second['comment_id']}/skip", "control", {}).status_code == 200
            filed = server.post_json(f"{base}/{third['comment_id']}/workorder", "control", {}).json()
            assert filed["work_order_id"]
            outcomes = await receive(ws, 3)
            assert [(e["kind"], e["comment_id"]) for e in outcomes] == [
                ("approved", first["comment_id"]), ("skipped", second["comment_id"]), ("filed", third["comment_id"])]
            assert outcomes[0]["question"] and outcomes[0]["entry_id"] == choice
            return choice, filed["work_order_id"]

    choice, order_id = asyncio.run(scenario())
    assert server.get("/api/control/pending", "control", room=room).json()["items"] == []
    spoken = server.get("/api/host/next", "host", room=room, wait=5).json()
    assert (spoken["kind"], spoken["entry_id"]) == ("answer", choice)
    orders = {o["id"]: o for o in server.get("/api/staff/work_orders", "staff", room=room).json()}
    assert orders[order_id]["source"] == "control" and orders[order_id]["status"] == "待派单"


def test_requests_become_pending_work_orders_with_the_contact_kept(server):
    room = "county-7"
    say(server, room, WORK_ORDER)
    server.wait_processed()
    (order,) = server.get("/api/staff/work_orders", "staff", room=room).json()
    assert order["citizen_text"] == WORK_ORDER and "139****5678" in order["display"]
    assert order["contact"] == [{"kind": "mobile", "value": "13912345678"}]
    assert order["intent"] == "request" and order["source"] == "pipeline"


def test_host_text_is_speakable():
    assert speakable("详见 https://example.gov.cn/a?b=1 或 www.gov.cn，电话13912345678") == "详见 或 ，电话139****5678"
    assert speakable("<b>加粗</b>\n两行") == "加粗 两行"
    assert host_speech("问？", "答。") == "有网友问：问？ 答。"


def test_unknown_room_in_control_and_httpx_client_sanity(server):
    assert server.get("/api/control/pending", "control", room="nowhere").status_code == 404
    assert httpx.get(f"{server.url}/overlay").status_code == 200  # the OBS page itself is public
    # Without a token the page opens (it holds no data; its script reads the token from sessionStorage);
    # a token in the URL that is not a control one is refused at once.
    assert httpx.get(f"{server.url}/control?room=city").status_code == 200
    assert httpx.get(f"{server.url}/control?room=city&token={server.token('host')}").status_code == 401
    assert httpx.get(f"{server.url}/control?room=city&token=wrong").status_code == 401
    assert httpx.get(f"{server.url}/control?room=city&token={server.token('control')}").status_code == 200
    assert httpx.get(f"{server.url}/overlay_web/..%2Fpyproject.toml").status_code == 404


def test_hidden_kuaishou_comments_are_kept_and_matched_but_never_shown_or_spoken(server):
    from assistant.ingest import connector_auth

    room = ROOMS.get("county-2")
    feed = {"commentFeeds": [{"id": f"hidden-{next(_counter)}", "user": {"principalId": "p1", "userName": "隐藏"}, "content": ANSWERED[0],
                              "showType": "FEED_HIDDEN"}]}
    raw = json.dumps(feed, ensure_ascii=False).encode()
    path = f"/push/kuaishou?room={room.kuaishou}"
    headers = {**connector_auth.signed_headers(server.secrets.kuaishou_connector_secret, int(time.time()), raw, target=path),
               "content-type": "application/json"}
    response = server.post(path, content=raw, headers=headers)
    assert response.status_code == 200 and response.json()["accepted"] == 1
    status = server.wait_processed()
    assert status["pending"] == 0

    async def events():
        async with websockets.connect(server.ws_url(room.id, since=0)) as ws:
            hello = json.loads(await ws.recv())
            return hello["seq"]

    assert asyncio.run(events()) == 0  # answered with confidence, yet nothing went to the overlay
    assert server.get("/api/host/next", "host", room=room.id, wait=0).json()["kind"] == "idle"


def close_code(url: str) -> int | None:
    """The close code the server sends right after the handshake, or None if it sends a hello instead."""
    async def run():
        async with websockets.connect(url) as ws:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code
            assert message["type"] == "hello"
            return None

    return asyncio.run(run())


def test_the_overlay_token_sees_only_what_is_on_air_and_can_do_nothing_else(server):
    """The OBS page's token: its room's answer and approved events only, no candidates, and every API refuses it."""
    room = "county-1"
    overlay_token = server.overlay_token(room)
    assert overlay_token not in {server.token(r) for r in ("host", "control", "staff", "admin")}

    async def scenario():
        async with websockets.connect(server.ws_url(room, role="overlay")) as overlay, \
                websockets.connect(server.ws_url(room, role="control")) as control:
            assert json.loads(await overlay.recv())["latest"] is None
            await control.recv()
            say(server, room, ANSWERED[0])
            say(server, room, SUGGESTED[0], SUGGESTED[1])
            everything = await receive(control, 3)
            assert [e["kind"] for e in everything] == ["answer", "suggest", "suggest"] and everything[1]["candidates"]
            on_air = await receive(overlay, 1)
            assert on_air[0]["kind"] == "answer" and on_air[0]["seq"] == everything[0]["seq"]
            assert await nothing_more(overlay)  # the suggestions (with their candidate answers) never reach it
            # The operator approves one: now it is on air.
            suggestion = everything[1]["comment_id"]
            approved = server.post_json(f"/api/control/suggestions/{suggestion}/approve", "control", {})
            assert approved.status_code == 200, approved.text
            on_air += await receive(overlay, 1)
            assert (on_air[1]["kind"], on_air[1]["comment_id"]) == ("approved", suggestion)
            assert await nothing_more(overlay, 0.5)
            return everything, on_air

    everything, on_air = asyncio.run(scenario())
    assert all("candidates" not in e and "score" not in e for e in on_air)
    assert all(e["answer"] and e["question"] for e in on_air)

    async def resume(since: int | None) -> tuple[dict, list[dict]]:
        async with websockets.connect(server.ws_url(room, role="overlay", since=since)) as ws:
            hello = json.loads(await ws.recv())
            replayed = []
            while not await nothing_more_into(ws, replayed):
                pass
            return hello, replayed

    # A replay from the start filters the same way.
    hello, replayed = asyncio.run(resume(0))
    assert [(e["kind"], e["seq"]) for e in replayed] == [(e["kind"], e["seq"]) for e in on_air]
    assert all("candidates" not in e and "score" not in e for e in replayed)
    # A new suggestion arrives last: a fresh overlay's hello still shows the approved answer, never the suggestion.
    say(server, room, SUGGESTED[2])
    server.wait_processed()
    hello, replayed = asyncio.run(resume(None))
    assert replayed == [] and hello["latest"]["kind"] == "approved" and hello["latest"]["comment_id"] == on_air[1]["comment_id"]
    assert "candidates" not in hello["latest"] and "score" not in hello["latest"]
    hello, replayed = asyncio.run(resume(on_air[1]["seq"]))
    assert replayed == [] and hello["seq"] > on_air[1]["seq"]  # the suggestion after it is not replayed

    # Good for its own room only; a forged or altered token is no token.
    base = f"ws://127.0.0.1:{server.port}/ws/overlay"
    assert close_code(f"{base}/city?token={overlay_token}") == 4403
    assert close_code(f"{base}/city?token={overlay_token.replace(room, 'city', 1)}") == 4401
    assert close_code(f"{base}/{room}?token={overlay_token[:-2]}") == 4401
    assert close_code(f"{base}/city?token={server.overlay_token('city')}") is None

    # Read-only: every API refuses it (403, recognised but not allowed), and so do the operator pages.
    bearer = {"authorization": f"Bearer {overlay_token}"}
    refused = {
        "host next": httpx.get(f"{server.url}/api/host/next", params={"room": room}, headers=bearer),
        "host ack": httpx.post(f"{server.url}/api/host/ack", json={"lease_id": "x"}, headers=bearer),
        "control pending": httpx.get(f"{server.url}/api/control/pending", params={"room": room}, headers=bearer),
        "control approve": httpx.post(f"{server.url}/api/control/suggestions/{everything[2]['comment_id']}/approve", json={}, headers=bearer),
        "staff review": httpx.get(f"{server.url}/api/staff/review", headers=bearer),
        "staff orders": httpx.get(f"{server.url}/api/staff/work_orders", headers=bearer),
        "ledger export": httpx.get(f"{server.url}/api/staff/ledger/export", headers=bearer),
        "admin status": httpx.get(f"{server.url}/api/admin/status", headers=bearer),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert httpx.get(f"{server.url}/control?room={room}&token={overlay_token}").status_code == 401
    assert httpx.get(f"{server.url}/staff?token={overlay_token}").status_code == 401
    # The suggestions are still waiting for the operator: the overlay token changed nothing.
    assert len(server.get("/api/control/pending", "control", room=room).json()["items"]) == 2


async def nothing_more_into(ws, into: list, seconds: float = 1.0) -> bool:
    try:
        into.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    except TimeoutError:
        return True
    return False


def test_start_up_prints_overlay_urls_but_no_other_token(server):
    printed = server.log_path.read_text(errors="replace")
    assert f"/overlay?room=city&token={server.overlay_token('city')}" in printed
    for role in ("host", "control", "staff", "admin"):
        assert server.token(role) not in printed, role
    assert "govlive tokens" in printed and "secrets.json" in printed


def test_room_scoped_named_accounts_act_only_in_their_rooms_and_are_audited_by_name(server):
    import sqlite3

    host = server.add_account("县四数字人", "host", rooms="county-2")
    operator = server.add_account("王芳", "control", rooms="county-2")
    bearer = lambda token: {"authorization": f"Bearer {token}"}  # noqa: E731
    # The digital human of one room cannot drain another room's queue.
    assert httpx.get(f"{server.url}/api/host/next", params={"room": "city", "wait": 0}, headers=bearer(host)).status_code == 403
    assert httpx.get(f"{server.url}/api/host/next", params={"room": "county-2", "wait": 0}, headers=bearer(host)).json()["kind"] == "idle"
    assert httpx.get(f"{server.url}/api/control/pending", params={"room": "county-2"}, headers=bearer(host)).status_code == 403
    # The operator sees and acts in county-2 only, on the API and on the websocket.
    base = f"ws://127.0.0.1:{server.port}/ws/overlay"
    assert close_code(f"{base}/city?token={operator}") == 4403
    assert close_code(f"{base}/county-2?token={operator}") is None
    assert httpx.get(f"{server.url}/api/control/pending", params={"room": "city"}, headers=bearer(operator)).status_code == 403
    say(server, "city", SUGGESTED[0])
    say(server, "county-2", SUGGESTED[1])
    server.wait_processed()
    (elsewhere,) = server.get("/api/control/pending", "control", room="city").json()["items"]
    assert httpx.post(f"{server.url}/api/control/suggestions/{elsewhere['comment_id']}/skip", json={},
                      headers=bearer(operator)).status_code == 403
    (mine,) = httpx.get(f"{server.url}/api/control/pending", params={"room": "county-2"}, headers=bearer(operator)).json()["items"]
    done = httpx.post(f"{server.url}/api/control/suggestions/{mine['comment_id']}/skip", json={}, headers=bearer(operator))
    assert done.status_code == 200, done.text
    assert server.post_json(f"/api/control/suggestions/{elsewhere['comment_id']}/skip", "control", {}).status_code == 200
    db = sqlite3.connect(server.data_dir / "govlive.db")
    actors = dict(db.execute("SELECT target, actor FROM audit WHERE action = 'skip'").fetchall())
    db.close()
    assert actors[f"comment:{mine['comment_id']}"] == "王芳 (control)"
    assert actors[f"comment:{elsewhere['comment_id']}"] == "control (shared token)"

    # Revoked: refused from the next request on, without a restart.
    listed = [json.loads(line) for line in server.accounts("list").stdout.splitlines()]
    assert {a["name"]: a["revoked"] for a in listed} == {"县四数字人": False, "王芳": False}
    assert all("token" not in a and "token_sha256" not in a for a in listed)
    assert server.accounts("revoke", "王芳").returncode == 0
    assert httpx.get(f"{server.url}/api/control/pending", params={"room": "county-2"}, headers=bearer(operator)).status_code == 401
    assert close_code(f"{base}/county-2?token={operator}") == 4401
    assert httpx.get(f"{server.url}/api/host/next", params={"room": "county-2", "wait": 0}, headers=bearer(host)).status_code == 200
