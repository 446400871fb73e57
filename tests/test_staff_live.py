"""The staff desk against a real `govlive serve`: review groups, answering into the bank without a restart,
the work-order board and its notifications, and the daily ledger with its exports."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import time

import pytest

from assistant.ingest.record import SHANGHAI
from assistant.rooms import Rooms
from assistant.settings import BUNDLED_BANK_DIR, EXAMPLE_ROOMS_FILE

pytestmark = pytest.mark.model

ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
SAME_QUESTION = ["医保卡丢了怎么补办", "医保卡丢了怎么补办？", "医保卡丢了怎么补办啊"]
NOT_IN_BANK = "城市书房几点关门"
REQUEST = "帮我查下我的社保为什么断缴了 电话13912345678"


@pytest.fixture(scope="module")
def robot():
    from live import DepartmentRobot

    robot = DepartmentRobot([(503, {"error": "restarting"})])  # the first delivery fails and is retried
    yield robot, robot.url
    robot.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index, robot):
    from live import LiveServer, data_dir_with_index

    root = tmp_path_factory.mktemp("staff")
    bank = root / "bank"
    shutil.copytree(BUNDLED_BANK_DIR, bank)  # staff answers are written into the bank: a copy, not the repository's
    webhooks = root / "webhooks.json"
    webhooks.write_text(json.dumps({"*": robot[1]}), encoding="utf-8")
    s = LiveServer(data_dir_with_index(root / "data", bundled_index[0]), settings={
        "GOVLIVE_BANK_DIR": str(bank), "GOVLIVE_DEPARTMENT_WEBHOOKS_FILE": str(webhooks), "GOVLIVE_OUTBOX_BACKOFF_SECONDS": "0.2",
    }).start()
    s.bank_dir = bank
    yield s
    s.stop()


_n = iter(range(10**6))


def say(server, room: str, text: str, user: str | None = None) -> None:
    data = {"MsgId": f"staff-{next(_n)}", "User": {"Id": user or f"u{next(_n)}", "Nickname": "观众"}, "Content": text, "RoomId": ROOMS.get(room).douyin}
    response = server.post("/push/douyin/bridge", content=json.dumps({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}).encode(),
                           headers={"authorization": f"Bearer {server.secrets.douyin_bridge_token}", "content-type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_review_groups_the_same_question_and_shows_the_contact_only_here(server):
    for i, text in enumerate(SAME_QUESTION):
        say(server, "city" if i else "county-1", text)
    say(server, "city", NOT_IN_BANK)
    say(server, "city", REQUEST)
    server.wait_processed()
    groups = server.get("/api/staff/review", "staff").json()["groups"]
    by_sample = {g["sample"]: g for g in groups}
    same = next(g for g in groups if g["entry_id"] == "yibao-0164")
    assert same["count"] == 3 and same["rooms"] == ["city", "county-1"] and same["decision"] == "suggest"
    assert by_sample[NOT_IN_BANK]["decision"] == "unanswered" and by_sample[NOT_IN_BANK]["count"] == 1
    assert REQUEST not in by_sample  # requests are work orders already, not questions to answer
    assert server.get("/api/staff/review", "control").status_code == 403
    assert server.get("/api/staff/review", "staff", room="county-1").json()["groups"][0]["count"] == 1


def test_filing_and_dismissing_a_group(server):
    groups = {g["sample"]: g for g in server.get("/api/staff/review", "staff").json()["groups"]}
    same = next(g for g in groups.values() if g["entry_id"] == "yibao-0164")
    filed = server.post_json(f"/api/staff/review/{same['key']}/workorder", "staff", {})
    assert filed.status_code == 200 and len(filed.json()["work_order_ids"]) == 3
    orders = {o["id"]: o for o in server.get("/api/staff/work_orders", "staff").json()}
    assert all(orders[i]["source"] == "staff" and orders[i]["status"] == "待派单" for i in filed.json()["work_order_ids"])
    assert server.post_json(f"/api/staff/review/{same['key']}/dismiss", "staff", {}).status_code == 404  # handled: gone from the list
    say(server, "county-2", "直播间的抽奖什么时候开奖")
    server.wait_processed()
    lottery = next(g for g in server.get("/api/staff/review", "staff").json()["groups"] if g["sample"] == "直播间的抽奖什么时候开奖")
    assert server.post_json(f"/api/staff/review/{lottery['key']}/dismiss", "staff", {}).json() == {"dismissed": 1}


def test_an_answer_added_on_the_staff_page_is_matched_without_a_restart(server):
    group = next(g for g in server.get("/api/staff/review", "staff").json()["groups"] if g["sample"] == NOT_IN_BANK)
    bad = server.post_json(f"/api/staff/review/{group['key']}/answer", "staff",
                           {"question": "城市书房几点关门？", "answer": "详见 https://example.cn", "domain": "政务服务综合", "department": "市图书馆"})
    assert bad.status_code == 422 and "speakable" in bad.text  # the bank's own rules apply
    answered = server.post_json(f"/api/staff/review/{group['key']}/answer", "staff", {
        "question": "城市书房几点关门？", "answer": "本市城市书房每天上午九点开门，晚上九点关门，节假日照常开放。",
        "domain": "政务服务综合", "department": "市图书馆", "similar_questions": ["城市书房开放时间是几点到几点"],
    })
    assert answered.status_code == 200, answered.text
    entry_id = answered.json()["entry_id"]
    assert entry_id.startswith("zonghe-") and answered.json()["reindex"] in ("started", "queued")
    saved = [json.loads(line) for line in (server.bank_dir / "zonghe.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(e["id"] == entry_id and e["city_specific"] for e in saved)
    wait_for(lambda: server.get("/api/staff/summary", "staff").json()["reindex"]["builds"] >= 1, 240, "the index rebuild")
    assert server.get("/api/staff/summary", "staff").json()["reindex"]["last_error"] is None
    say(server, "city", "城市书房几点关门呀")
    server.wait_processed()
    db = __import__("sqlite3").connect(server.data_dir / "govlive.db")
    decision, matched = db.execute("SELECT decision, entry_id FROM comments ORDER BY id DESC LIMIT 1").fetchone()
    assert (decision, matched) in {("answer", entry_id), ("suggest", entry_id)}


def test_board_dispatch_notifies_through_the_outbox_and_illegal_moves_are_refused(server, robot):
    Robot, _ = robot
    order = next(o for o in server.get("/api/staff/work_orders", "staff", status="待派单").json() if o["citizen_text"] == REQUEST)
    assert order["contact"] == [{"kind": "mobile", "value": "13912345678"}] and order["colour"] in ("green", "yellow", "red")
    assert server.post_json(f"/api/staff/work_orders/{order['id']}/close", "staff", {"resolution": "x"}).status_code == 409
    assert server.post_json(f"/api/staff/work_orders/{order['id']}/dispatch", "staff", {"department": ""}).status_code == 422
    dispatched = server.post_json(f"/api/staff/work_orders/{order['id']}/dispatch", "staff", {"department": "市社会保险事业管理局"})
    assert dispatched.status_code == 200 and dispatched.json()["status"] == "已派单"
    wait_for(lambda: server.get("/api/staff/summary", "staff").json()["outbox"].get("delivered"), 30, "the notification")
    assert any(f"#{order['id']}" in m["text"]["content"] for m in Robot.received)
    assert len(Robot.received) >= 2  # the robot's first answer was a 503: retried, not lost
    assert server.post_json(f"/api/staff/work_orders/{order['id']}/accept", "staff", {}).json()["status"] == "办理中"
    assert server.post_json(f"/api/staff/work_orders/{order['id']}/close", "staff", {"resolution": "已补缴"}).json()["status"] == "已办结"
    reopened = server.post_json(f"/api/staff/work_orders/{order['id']}/revisit", "staff", {"satisfied": False, "note": "仍未到账"}).json()
    assert reopened["status"] == "重办" and reopened["reopen_count"] == 1
    history = server.get(f"/api/staff/work_orders/{order['id']}/history", "staff").json()
    # Deadline warnings (actor "system") may fall between the people's steps, depending on the wall clock: the
    # colours themselves are tested on a fixed clock in test_workorder_lifecycle.py.
    assert [h["action"] for h in history if h["action"] != "warning"] == ["file", "dispatch", "accept", "close", "revisit"]
    assert server.get("/api/staff/work_orders", "staff", colour="purple").status_code == 422
    assert server.get("/api/staff/work_orders/99999/history", "staff").status_code == 404


def test_the_daily_ledger_and_its_exports(server):
    from openpyxl import load_workbook

    today = dt.datetime.now(SHANGHAI).date().isoformat()
    ledger = server.get("/api/staff/ledger", "staff", date=today).json()
    status = server.status()
    assert ledger["totals"]["comments"] == status["comments"]
    assert ledger["totals"]["work_orders_opened"] == len(server.get("/api/staff/work_orders", "staff").json())
    assert [r["room"] for r in ledger["rooms"]] == [r.id for r in ROOMS.rooms]  # all 1+9 rooms, silent ones as zeros
    city = next(r for r in ledger["rooms"] if r["room"] == "city")
    assert city["questions"] >= 4 and 0 <= (city["answer_rate"] or 0) <= 1
    assert any(t["topic"] and len(t["trend"]) == 7 for t in ledger["top_topics"])
    assert server.get("/api/staff/ledger", "staff", date="22/11/2026").status_code == 422

    xlsx = server.get("/api/staff/ledger/export", "staff", date=today, format="xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["台账", "热点问题"] and book["台账"]["A1"].value == "日期"
    csv_bytes = server.get("/api/staff/ledger/export", "staff", date=today, format="csv").content
    csv_text = csv_bytes.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("日期,直播间") and "全部直播间" in csv_text

    out = server.data_dir / "ledger.csv"
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(server.data_dir), "ledger", "export", "--date", today,
                           "--format", "csv", "-o", str(out)], capture_output=True, text=True, env=server.env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["comments"] == status["comments"] and out.read_bytes() == csv_bytes
    bad = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(server.data_dir), "ledger", "export", "--date", "yesterday"],
                         capture_output=True, text=True, env=server.env, timeout=120)
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr


def test_a_named_account_is_written_to_the_history_and_a_revoked_one_is_refused(server):
    import httpx

    token = server.add_account("张敏", "staff")
    county9 = server.add_account("赵县九", "staff", rooms="county-9")
    bearer = lambda t: {"authorization": f"Bearer {t}"}  # noqa: E731
    order = next(o for o in server.get("/api/staff/work_orders", "staff", status="待派单").json() if o["room"] == "city" and o["source"] == "staff")
    dispatched = httpx.post(f"{server.url}/api/staff/work_orders/{order['id']}/dispatch", json={"department": "市医疗保障局"},
                            headers=bearer(token), timeout=30)
    assert dispatched.status_code == 200, dispatched.text
    history = server.get(f"/api/staff/work_orders/{order['id']}/history", "staff").json()
    assert [(h["action"], h["actor"]) for h in history if h["action"] != "warning"] == [("file", "staff (shared token)"), ("dispatch", "张敏 (staff)")]

    # An account limited to county-9 sees nothing of the city and cannot act on it; the ledger spans every room.
    assert httpx.get(f"{server.url}/api/staff/work_orders", headers=bearer(county9), timeout=30).json() == []
    assert httpx.get(f"{server.url}/api/staff/work_orders", params={"room": "city"}, headers=bearer(county9), timeout=30).status_code == 403
    assert httpx.post(f"{server.url}/api/staff/work_orders/{order['id']}/accept", json={}, headers=bearer(county9), timeout=30).status_code == 403
    assert httpx.get(f"{server.url}/api/staff/work_orders/{order['id']}/history", headers=bearer(county9), timeout=30).status_code == 403
    assert httpx.get(f"{server.url}/api/staff/review", headers=bearer(county9), timeout=30).json()["groups"] == []
    assert httpx.get(f"{server.url}/api/staff/ledger", headers=bearer(county9), timeout=30).status_code == 403

    assert server.accounts("revoke", "张敏").returncode == 0
    refused = httpx.post(f"{server.url}/api/staff/work_orders/{order['id']}/accept", json={}, headers=bearer(token), timeout=30)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert httpx.get(f"{server.url}/staff?token={token}", timeout=30).status_code == 401
    assert server.get(f"/api/staff/work_orders/{order['id']}/history", "staff").json()[-1]["action"] == "dispatch"  # nothing more happened
