"""Personal numbers in every form, and nicknames, against a real `govlive serve`.

Each form a viewer may type a number in (full-width, grouped, split by emoji
or punctuation, read out in Chinese digits, ID with X, bank card, WeChat and
QQ handles) is pushed as a live comment, in requests that become work orders
and in questions that are answered or suggested, from viewers whose
nicknames carry numbers and bidi controls. Then every surface is read: the
overlay websocket, the control page's pending list, the host's text, the
staff review and work-order APIs, the ledger and its exports (API and
`govlive ledger export`), the server log and the department robot's
messages. No unmasked number is on any of them; the work order alone keeps
the unmasked contact (shown to staff only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import subprocess
import sys
import time
import unicodedata

import pytest
import websockets

from assistant.ingest.record import SHANGHAI

pytestmark = pytest.mark.model

ROOM = "city"
DEPARTMENT = "市社会保险事业管理局"

# Requests (they become work orders) and the contact each must keep, unmasked.
REQUESTS = {
    "帮我查一下社保断缴 我电话１３８１２３４５６７８": {("mobile", "13812345678")},
    "帮我查下我的医保报销进度 电话139-2345-6789": {("mobile", "139-2345-6789")},
    "帮我催一下公积金提取 身份证110101 19900307 123X": {("id_number", "110101 19900307 123X")},
    "帮我查下工伤认定进度 我电话137😀3456😀7890": {("mobile", "13734567890")},
    "帮我查一下低保审核 手机幺三六一二三四五六七八": {("mobile", "13612345678")},
    "帮我查下补贴为什么没到账 卡号6222 0212 3456 7890 电话135.1234.5678": {("bank_card", "6222 0212 3456 7890"), ("mobile", "13512345678")},
    "帮我看一下我的养老金到账没有 座机0731-8765 4321": {("landline", "0731-8765 4321")},
    "帮我查下居住证办好没有 我微信号 li_si2026 电话186，1234，5678": {("wechat", "li_si2026"), ("mobile", "18612345678")},
    "帮我查下失业金审核 qq 246813579 电话+86 152 1234 5678": {("qq", "246813579"), ("mobile", "+86 152 1234 5678")},
}
# Questions the bank answers or suggests; some carry numbers or a bidi override of their own.
QUESTIONS = [
    "出门没带手机也没带医保咔 去医院能刷脸结算吗",
    "医保卡丢了怎么补办",
    "异地就医备案怎么办",
    "医保卡丢了怎么补办\u202e吗",
    "异地就医备案怎么办 我手机１５８１２３４５６７８",
    "社保卡可以跨省用吗 身份证３２０１０２１９８８０５０５２２１Ｘ",
]
NICKNAMES = ["张三15912345678", "\u202e李四\u202c", "王五vx:wangwu2026", "赵六\x07\u2066", "钱七１５０１２３４５６７８", "长" * 300]
# What must never be shown: each number as typed and as bare digits.
NUMBERS = [
    "13812345678", "13923456789", "11010119900307123X", "13734567890", "13612345678", "幺三六一二三四五六七八", "6222021234567890",
    "13512345678", "073187654321", "li_si2026", "18612345678", "246813579", "15212345678", "15812345678", "32010219880505221X",
    "15912345678", "wangwu2026", "15012345678",
]
FORBIDDEN_CHARACTERS = ["\u202e", "\u202c", "\u2066", "\x07"]
# Fields where the unmasked text is allowed: the staff-only citizen text and contact of a work order and of a review comment.
ALLOWED = {"citizen_text", "contact", "text"}


@pytest.fixture(scope="module")
def robot():
    from live import DepartmentRobot

    r = DepartmentRobot(key="masking")
    yield r
    r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index, robot):
    from live import LiveServer, data_dir_with_index

    root = tmp_path_factory.mktemp("masking")
    webhooks = root / "webhooks.json"
    webhooks.write_text(json.dumps({"*": robot.url}), encoding="utf-8")
    s = LiveServer(data_dir_with_index(root / "data", bundled_index[0]), log_level="info", settings={
        "GOVLIVE_DEPARTMENT_WEBHOOKS_FILE": str(webhooks), "GOVLIVE_OUTBOX_BACKOFF_SECONDS": "0.2",
    }).start()
    yield s
    s.stop()


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def _ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def _without_allowed(value):
    """``value`` without the fields where staff may see the unmasked text."""
    if isinstance(value, dict):
        return {k: _without_allowed(v) for k, v in value.items() if k not in ALLOWED}
    if isinstance(value, list):
        return [_without_allowed(v) for v in value]
    return value


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@pytest.fixture(scope="module")
def surfaces(server, robot):
    """Push every form once, act on it as the control desk and staff would, and read every surface: name → what it shows."""
    from live import douyin_push

    now_ms = int(time.time() * 1000)
    texts = [*REQUESTS, *QUESTIONS]
    items = [{"msg_id": f"mask-{i}", "sec_openid": f"viewer-{i}", "nickname": NICKNAMES[i % len(NICKNAMES)], "content": text,
              "timestamp": now_ms} for i, text in enumerate(texts)]
    shown: dict[str, list[str]] = {}
    details: dict[str, object] = {}

    async def follow_the_overlay():
        async with websockets.connect(server.ws_url(ROOM, role="control")) as ws:
            live = [await ws.recv()]
            response = await asyncio.to_thread(douyin_push, server, items)
            assert response.status_code == 200 and response.json()["accepted"] == len(items), response.text
            await asyncio.to_thread(server.wait_processed)
            pending = await asyncio.to_thread(lambda: _ok(server.get("/api/control/pending", "control", room=ROOM)))
            details["pending"] = pending
            # The control desk approves one suggestion and files another as a work order.
            suggestions = pending["items"]
            assert len(suggestions) >= 2, pending
            approved = await asyncio.to_thread(server.post_json, f"/api/control/suggestions/{suggestions[0]['comment_id']}/approve", "control", {})
            filed = await asyncio.to_thread(server.post_json, f"/api/control/suggestions/{suggestions[-1]['comment_id']}/workorder", "control", {})
            details["control_actions"] = [_ok(approved), _ok(filed)]
            try:
                while True:
                    live.append(await asyncio.wait_for(ws.recv(), 3))
            except TimeoutError:
                pass
        replays = []
        for role in ("control", "overlay"):  # the control page's view, and the OBS page's (on-air only)
            async with websockets.connect(server.ws_url(ROOM, since=0, role=role)) as ws:
                replay = [await ws.recv()]
                try:
                    while True:
                        replay.append(await asyncio.wait_for(ws.recv(), 2))
                except TimeoutError:
                    pass
            replays.append(replay)
        return live, *replays

    live, replay, on_air = asyncio.run(follow_the_overlay())
    details["events"] = [json.loads(m) for m in live[1:]]
    details["on_air"] = [json.loads(m) for m in on_air[1:]]
    shown["overlay websocket (live)"] = live + [_text(json.loads(m)) for m in live]
    shown["overlay websocket (replay)"] = replay + [_text(json.loads(m)) for m in replay]
    shown["overlay websocket (OBS page)"] = on_air + [_text(json.loads(m)) for m in on_air]
    shown["control pending"] = [_text(details["pending"]), _text(details["control_actions"])]

    host = []
    for _ in range(40):
        item = _ok(server.get("/api/host/next", "host", room=ROOM, wait=0))
        if item["kind"] == "idle":
            break
        host.append(item)
        _ok(server.post_json("/api/host/ack", "host", {"lease_id": item["lease_id"]}))
    assert host, "nothing reached the host"
    shown["host text"] = [_text(host)]

    # Staff: the review list, then one group filed as a work order, then every order dispatched (→ the robot).
    review = _ok(server.get("/api/staff/review", "staff"))
    details["review"] = review
    with_contact = next((g for g in review["groups"] if any(c["contact"] for c in g["comments"])), None)
    if with_contact is not None:
        _ok(server.post_json(f"/api/staff/review/{with_contact['key']}/workorder", "staff", {}))
    orders = _ok(server.get("/api/staff/work_orders", "staff"))
    for order in orders:
        _ok(server.post_json(f"/api/staff/work_orders/{order['id']}/dispatch", "staff", {"department": DEPARTMENT}))
    _wait_for(lambda: len(robot.received) >= len(orders), 60, "the department robot's messages")
    orders = _ok(server.get("/api/staff/work_orders", "staff"))
    details["orders"] = orders
    shown["staff review"] = [_text(_without_allowed(review))]
    shown["staff work orders"] = [_text(_without_allowed(orders))]
    shown["staff work-order history"] = [_text(_ok(server.get(f"/api/staff/work_orders/{o['id']}/history", "staff"))) for o in orders]
    shown["staff summary"] = [_text(_ok(server.get("/api/staff/summary", "staff")))]
    shown["department robot"] = [_text(m) for m in robot.received]

    from openpyxl import load_workbook

    def cells(xlsx: bytes) -> str:
        book = load_workbook(io.BytesIO(xlsx))
        return "\n".join(str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None)

    today = dt.datetime.now(SHANGHAI).date().isoformat()
    shown["ledger"] = [_text(_ok(server.get("/api/staff/ledger", "staff", date=today)))]
    csv_export = server.get("/api/staff/ledger/export", "staff", date=today, format="csv")
    xlsx_export = server.get("/api/staff/ledger/export", "staff", date=today, format="xlsx")
    assert csv_export.status_code == xlsx_export.status_code == 200
    shown["ledger export (API)"] = [csv_export.content.decode("utf-8-sig"), cells(xlsx_export.content)]
    exported = []
    for fmt in ("csv", "xlsx"):
        out = server.data_dir / f"ledger-export.{fmt}"
        done = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(server.data_dir), "ledger", "export", "--date", today,
                               "--format", fmt, "-o", str(out)], capture_output=True, text=True, env=server.env, timeout=120)
        assert done.returncode == 0, done.stderr
        exported += [done.stdout, done.stderr, out.read_bytes().decode("utf-8-sig") if fmt == "csv" else cells(out.read_bytes())]
    shown["govlive ledger export"] = exported
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "/api/control/pending" in log  # the access log is in it too
    shown["server log"] = [log]
    assert details["on_air"], "nothing went on air"
    return shown, details


def _squeezed(text: str) -> str:
    """The text folded and without the separators a number may be split by, so that 138-1234 5678 is seen as digits."""
    return re.sub(r"[\s\-.,，、😀+:：]", "", unicodedata.normalize("NFKC", text))


SURFACES = ["overlay websocket (live)", "overlay websocket (replay)", "overlay websocket (OBS page)", "control pending", "host text", "staff review", "staff work orders",
            "staff work-order history", "staff summary", "department robot", "ledger", "ledger export (API)", "govlive ledger export",
            "server log"]


@pytest.mark.parametrize("surface", SURFACES)
def test_no_surface_shows_a_personal_number_or_a_bidi_control(surfaces, surface):
    shown, _ = surfaces
    assert any(text.strip() for text in shown[surface]), f"nothing was read from {surface}"
    for text in shown[surface]:
        squeezed = _squeezed(text)
        for number in NUMBERS:
            assert number not in text and _squeezed(number) not in squeezed, f"{number} is shown on {surface}: {text[:3000]}"
        if surface != "server log":  # the log may quote what a platform sent; it is no screen
            for ch in FORBIDDEN_CHARACTERS:
                assert ch not in text, f"{ch!r} is shown on {surface}"


def test_the_surfaces_show_the_comments_masked(surfaces):
    shown, details = surfaces
    comments = {e["comment"] for e in details["events"] if e.get("comment")}
    assert "异地就医备案怎么办 我手机158****5678" in comments | {i["comment"] for i in details["pending"]["items"]}
    notifications = "\n".join(shown["department robot"])
    assert "138****5678" in notifications and "110101********123X" in notifications and "6222********7890" in notifications
    assert "qq 24*****79" in notifications and "我微信号 li*****26" in notifications


def test_the_work_order_keeps_the_unmasked_contact_for_staff(surfaces):
    _, details = surfaces
    orders = {o["citizen_text"]: o for o in details["orders"]}
    for text, contact in REQUESTS.items():
        assert text in orders, f"{text!r} did not become a work order"
        order = orders[text]
        assert {(c["kind"], c["value"]) for c in order["contact"]} == contact
        assert order["display"] != text and order["status"] == "已派单"
    review_contacts = {(c["kind"], c["value"]) for g in details["review"]["groups"] for m in g["comments"] for c in m["contact"]}
    assert ("mobile", "15812345678") in review_contacts or any(
        ("mobile", "15812345678") in {(c["kind"], c["value"]) for c in o["contact"]} for o in details["orders"])


def test_nicknames_are_masked_cleaned_and_bounded_on_screens(surfaces):
    _, details = surfaces
    nicknames = {e["nickname"] for e in details["events"] + details["on_air"] if "nickname" in e}
    nicknames |= {i["nickname"] for i in details["pending"]["items"]}
    nicknames |= {m["nickname"] for g in details["review"]["groups"] for m in g["comments"]}
    assert nicknames, "no nickname was shown"
    assert nicknames <= {"张三159****5678", "李四", "王五vx:wa******26", "赵六", "钱七150****5678", "长" * 23 + "…"}, nicknames
