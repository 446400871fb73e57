"""The overlay (OBS) and control (场控) pages in headless Debian Chromium, driven by Playwright."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from assistant.rooms import Rooms
from assistant.settings import EXAMPLE_ROOMS_FILE

pytestmark = pytest.mark.model

CHROMIUM = "/usr/bin/chromium"
# No background traffic: this machine has no internet and Chromium would keep trying.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROOMS = Rooms.read(EXAMPLE_ROOMS_FILE)
SCRIPT_ANSWERED = "<script>alert(1)</script>小产权房到底有没有可能办下证来？？"
ANSWERED = "出门没带手机也没带医保咔 去医院能刷脸结算吗"
BOLD_SUGGESTED = "<b>粗体</b> 社保卡可以跨省用吗"
SUGGESTED = ["医保卡丢了怎么补办", "异地就医备案怎么办"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index):
    from live import LiveServer, data_dir_with_index

    s = LiveServer(data_dir_with_index(tmp_path_factory.mktemp("pages"), bundled_index[0])).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    # A Content-Security-Policy violation (inline script or style) shows up as a console error.
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None)
    yield pg
    context.close()


def wait_js(page, expression: str, timeout: float = 30000) -> None:
    """Poll a JS expression until it is true. (Playwright's wait_for_function compiles its predicate with
    eval, which the pages' Content-Security-Policy forbids; page.evaluate goes through the debugger.)"""
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:
            # Mid-navigation (a clicked link) the old document is gone and the new one has no
            # body yet, or the context was destroyed: not an answer, ask again.
            if "Execution context was destroyed" not in exc.message and "Cannot read properties of null" not in exc.message:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.1)


_n = iter(range(10**6))


def say(server, room: str, text: str) -> None:
    data = {"MsgId": f"page-{next(_n)}", "User": {"Id": "u", "Nickname": "<i>观众</i>"}, "Content": text, "RoomId": ROOMS.get(room).douyin}
    response = server.post("/push/douyin/bridge", content=json.dumps({"Type": 1, "Data": json.dumps(data, ensure_ascii=False)}).encode(),
                           headers={"authorization": f"Bearer {server.secrets.douyin_bridge_token}", "content-type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_overlay_shows_answers_as_text_and_resumes_after_a_restart(server, page, tmp_path):
    room = "county-8"
    response = page.goto(f"{server.url}/overlay?room={room}&token={server.overlay_token(room)}")  # the read-only overlay token
    assert "default-src 'self'" in response.headers["content-security-policy"]
    wait_js(page, "document.body.dataset.state === 'connected'")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"  # OBS shows the stream through it
    say(server, room, SCRIPT_ANSWERED)
    wait_js(page, "window.govlive.shown !== null", timeout=30000)
    assert page.text_content("#comment").strip().endswith(SCRIPT_ANSWERED)  # the markup is shown, not run
    assert "<i>观众</i>" in page.text_content("#nickname")
    assert page.text_content("#question").strip() and page.text_content("#answer").strip()
    assert page.evaluate("document.querySelectorAll('#comment *, #nickname *').length") == 0
    assert page.dialogs == [] and page.errors == []
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#question')).fontSize)")
    assert size >= 36  # readable from across the studio at 1080p
    page.screenshot(path=str(tmp_path / "overlay.png"))
    first_seq = page.evaluate("window.govlive.lastSeq")

    # The server restarts (an operator at 3 a.m.); the page reconnects and resumes by itself.
    server.stop()
    wait_js(page, "document.body.dataset.state !== 'connected'", timeout=15000)
    server.start()
    wait_js(page, "document.body.dataset.state === 'connected'", timeout=30000)
    say(server, room, ANSWERED)
    wait_js(page, f"window.govlive.lastSeq === {first_seq + 1}", timeout=30000)
    assert page.text_content("#comment").strip().endswith(ANSWERED)
    assert page.evaluate("window.govlive.shown.seq") == first_seq + 1


def test_overlay_page_without_parameters_says_what_is_missing(server, page):
    page.goto(f"{server.url}/overlay")
    assert "缺少" in page.text_content("body")
    page.goto(f"{server.url}/overlay?room=city&token=wrong")
    wait_js(page, "document.body.dataset.state === 'error'", timeout=15000)
    assert "令牌无效" in page.text_content("body")
    page.goto(f"{server.url}/overlay?room=city&token={server.overlay_token('county-1')}")  # another room's overlay token
    wait_js(page, "document.body.dataset.state === 'error'", timeout=15000)
    assert "不能用于该直播间" in page.text_content("body")


def test_control_page_approves_skips_and_files(server, page, browser, tmp_path):
    room = "county-9"
    overlay = browser.new_page()
    overlay.on("console", lambda m: page.errors.append(m.text) if "Content Security Policy" in m.text else None)
    overlay.goto(f"{server.url}/overlay?room={room}&token={server.overlay_token(room)}")
    wait_js(overlay, "document.body.dataset.state === 'connected'")
    page.goto(f"{server.url}/control?room={room}&token={server.token('control')}")
    wait_js(page, "document.body.dataset.state === 'connected'")
    # The token left the address bar (history, screenshots) for sessionStorage; a reload still works.
    assert page.url == f"{server.url}/control?room={room}"
    assert page.evaluate("sessionStorage.getItem('govlive.token.control')") == server.token("control")
    page.reload()
    wait_js(page, "document.body.dataset.state === 'connected'")
    for text in [BOLD_SUGGESTED, *SUGGESTED]:
        say(server, room, text)
    wait_js(page, "document.querySelectorAll('li.pending').length === 3", timeout=30000)
    rows = page.locator("li.pending")
    assert BOLD_SUGGESTED in rows.nth(0).text_content()  # markup as text
    assert page.evaluate("document.querySelectorAll('li.pending b, li.pending script').length") == 0
    assert page.text_content("#pending-count").strip().startswith("3") or "3" in page.text_content("#pending-count")
    page.screenshot(path=str(tmp_path / "control.png"), full_page=True)

    approved_id = int(rows.nth(0).get_attribute("data-comment-id"))
    rows.nth(0).locator("button.approve").click()
    wait_js(page, "document.querySelectorAll('li.pending').length === 2")
    wait_js(overlay, f"window.govlive.shown && window.govlive.shown.comment_id === {approved_id}", timeout=15000)
    assert overlay.text_content("#comment").strip().endswith(BOLD_SUGGESTED)
    page.locator("li.pending").nth(0).locator("button.skip").click()
    wait_js(page, "document.querySelectorAll('li.pending').length === 1")
    page.locator("li.pending").nth(0).locator("button.workorder").click()
    wait_js(page, "document.querySelectorAll('li.pending').length === 0")
    assert page.errors == [] and page.dialogs == []

    # What the page did is what the server recorded.
    assert server.get("/api/control/pending", "control", room=room).json()["items"] == []
    orders = server.get("/api/staff/work_orders", "staff", room=room).json()
    assert [o["source"] for o in orders] == ["control"] and orders[0]["citizen_text"] == SUGGESTED[1]
    spoken = server.get("/api/host/next", "host", room=room, wait=5).json()
    assert spoken["kind"] == "answer" and spoken["comment_id"] == approved_id
    overlay.close()


def test_control_page_needs_a_control_token(server, page):
    response = page.goto(f"{server.url}/control?room=city&token={server.token('host')}")
    assert response.status == 401 and "场控令牌" in page.text_content("body")
    response = page.goto(f"{server.url}/control?room=city&token={server.overlay_token('city')}")
    assert response.status == 401 and "场控令牌" in page.text_content("body")
    page.goto(f"{server.url}/control?room=city")  # no token here or in sessionStorage: the page says so
    assert "缺少" in page.text_content("body") and "token" in page.text_content("body")


@pytest.fixture(autouse=True, scope="module")
def _keep_screenshots(tmp_path_factory):
    """Screenshots land in the test's tmp dir; set GOVLIVE_SCREENSHOTS=DIR to keep copies."""
    yield
    import os

    target = os.environ.get("GOVLIVE_SCREENSHOTS")
    if target:
        for png in Path(tmp_path_factory.getbasetemp()).rglob("*.png"):
            shutil.copy(png, Path(target) / png.name)
