"""The staff pages (/staff review and board, /staff/ledger) in headless Debian Chromium against a real server."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.rooms import Rooms
from assistant.settings import BUNDLED_BANK_DIR, EXAMPLE_ROOMS_FILE
from test_pages import CHROMIUM_ARGS, wait_js

pytestmark = pytest.mark.model

ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
MARKUP_QUESTION = '<img src=x onerror="alert(1)">城市书房几点关门'


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index):
    from live import LiveServer, data_dir_with_index

    root = tmp_path_factory.mktemp("staff-pages")
    shutil.copytree(BUNDLED_BANK_DIR, root / "bank")
    s = LiveServer(data_dir_with_index(root / "data", bundled_index[0]), settings={"GOVLIVE_BANK_DIR": str(root / "bank")}).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1366, "height": 768})
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None)
        pg.on("dialog", lambda d: (pg.errors.append("dialog " + d.message), d.dismiss()))
        yield pg
        browser.close()


_n = iter(range(10**6))


def say(server, text: str, room: str = "city") -> None:
    data = {"MsgId": f"sp-{next(_n)}", "User": {"Id": f"u{next(_n)}", "Nickname": "观众"}, "Content": text, "RoomId": ROOMS.get(room).douyin}
    response = server.post("/push/douyin/bridge", content=json.dumps({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}).encode(),
                           headers={"authorization": f"Bearer {server.secrets.douyin_bridge_token}", "content-type": "application/json"})
    assert response.status_code == 200


def test_review_tab_groups_and_acts(server, page, tmp_path):
    for text in ["医保卡丢了怎么补办", "医保卡丢了怎么补办？", MARKUP_QUESTION, "帮我查下我的社保为什么断缴了 电话13912345678"]:
        say(server, text)
    server.wait_processed()
    page.goto(f"{server.url}/staff?token={server.token('staff')}")
    wait_js(page, "document.body.dataset.state === 'ready'")
    groups = page.locator("li.group")
    assert groups.count() == 2
    same = page.locator("li.group[data-key='entry:yibao-0164']")
    assert same.locator(".count").text_content().strip().startswith("2")
    markup = page.locator("li.group", has_text="城市书房几点关门")
    assert MARKUP_QUESTION in markup.locator(".sample").text_content()
    assert page.evaluate("document.querySelectorAll('li.group img').length") == 0  # shown as text, not an element
    page.screenshot(path=str(tmp_path / "staff-review.png"), full_page=True)

    markup.locator("button.dismiss").click()
    wait_js(page, "window.govlive.reviewKeys.length === 1")
    same.locator("button.answer").click()
    form = same.locator("form.answer-form")
    form.locator("[name=answer]").fill("可以到本市社保卡服务网点或合作银行网点补办，带上本人身份证件，部分网点可以当场领卡。")
    form.locator("button.submit").click()
    try:
        wait_js(page, "window.govlive.reviewKeys.length === 0")
    except AssertionError:
        raise AssertionError(f"form error: {form.locator('.form-error').text_content()!r}, {page.evaluate('window.govlive.lastError')!r}")
    assert page.errors == []
    assert server.get("/api/staff/summary", "staff").json()["reindex"]["builds"] + 1 >= 1  # a rebuild was started
    assert server.get("/api/staff/review", "staff").json()["groups"] == []


def test_board_tab_dispatches_and_shows_history(server, page, tmp_path):
    page.goto(f"{server.url}/staff?token={server.token('staff')}")
    wait_js(page, "document.body.dataset.state === 'ready' && window.govlive.orderIds.length >= 1")
    page.click("#tab-board")
    row = page.locator("tr.order", has_text="13912345678")  # the unmasked contact is shown to staff
    assert row.get_attribute("data-status") == "待派单"
    assert row.locator(".light").count() == 1
    row.locator("button.dispatch").click()
    form = row.locator("form.dispatch-form")
    form.locator("[name=department]").fill("市社会保险事业管理局")
    form.locator("button.submit").click()
    wait_js(page, "document.querySelector('tr.order[data-status=\"已派单\"]') !== null")
    row = page.locator("tr.order[data-status='已派单']")
    row.locator("button.history").click()
    wait_js(page, "document.querySelector('tr.history-row ol.history-list li') !== null")
    history = server.get(f"/api/staff/work_orders/{row.get_attribute('data-id')}/history", "staff").json()
    assert page.locator("tr.history-row ol.history-list li").count() == len(history)
    assert page.locator("tr.history-row .history-actor").all_text_contents() == [h["actor"] for h in history]
    # Who did it, not just a role: the pipeline filed it, the shared staff token dispatched it (deadline
    # warnings by "system" may fall between, depending on the wall clock).
    assert [(h["action"], h["actor"]) for h in history if h["action"] != "warning"] == [("file", "system"), ("dispatch", "staff (shared token)")]
    page.screenshot(path=str(tmp_path / "staff-board.png"), full_page=True)
    assert page.errors == []
    (order,) = [o for o in server.get("/api/staff/work_orders", "staff").json() if o["status"] == "已派单"]
    assert order["department"] == "市社会保险事业管理局"


def test_ledger_page_draws_the_rooms_and_links_the_exports(server, page, tmp_path):
    token = server.token("staff")
    requests = []
    page.on("request", lambda r: requests.append((r.url, r.headers.get("authorization"))))
    # Opened from the staff page's link, which carries no token: the token travels in sessionStorage.
    page.goto(f"{server.url}/staff?token={token}")
    wait_js(page, "document.body.dataset.state === 'ready'")
    assert page.url.split("#")[0] == f"{server.url}/staff" and page.get_attribute("#ledger-link", "href") == "/staff/ledger"
    page.click("#ledger-link")
    page.wait_for_url(f"{server.url}/staff/ledger")
    wait_js(page, "document.body.dataset.state === 'ready' && window.govlive.ledger !== null")
    assert page.locator("#overview-svg g.bar-group").count() == len(ROOMS.rooms)
    assert page.locator("table#ledger-rows tr.ledger-row").count() >= 1
    assert page.evaluate("window.govlive.ledger.totals.comments") == server.status()["comments"]
    href = page.get_attribute("a#export-xlsx", "href")
    assert "format=xlsx" in href and "/api/staff/ledger/export" in href
    links = page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    assert links and not any(token in link or "token=" in link for link in links)  # no long-lived token in a generated URL
    assert token not in page.url and "token=" not in page.url
    page.screenshot(path=str(tmp_path / "ledger.png"), full_page=True)

    # The export still downloads: fetched with the Authorization header, saved from an object URL.
    with page.expect_download() as download:
        page.click("a#export-csv")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("govlive-ledger-") and saved.suffix == ".csv"
    assert saved.read_bytes().decode("utf-8-sig").splitlines()[0].startswith("日期,直播间")
    exports = [(url, auth) for url, auth in requests if "/api/staff/ledger/export" in url]
    assert exports and all(auth == f"Bearer {token}" and "token" not in url for url, auth in exports)
    assert requests[0][0] == f"{server.url}/staff?token={token}"
    assert not any(token in url for url, _ in requests[1:])  # after the page that was opened with it, no request puts it in a URL
    assert page.errors == []
    page.goto(f"{server.url}/staff/ledger?token={server.token('host')}")
    assert "工作人员令牌" in page.text_content("body")
