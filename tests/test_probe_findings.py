"""Findings of the hostile probe (issue 15) against a real `govlive serve`: a client
that never reads, a NUL byte in an asset path, an impossible ledger date, tokens in
the access log."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import httpx
import pytest
import websockets

from assistant.settings import Settings
from assistant.store import SqliteStore

pytestmark = pytest.mark.model

SEEDED_EVENTS = 6000  # about 12 MB of replay: far more than the TCP buffers of one connection hold
SEND_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_index):
    from live import LiveServer, data_dir_with_index

    data_dir = data_dir_with_index(tmp_path_factory.mktemp("probe"), bundled_index[0])
    store = SqliteStore(Settings(data_dir=data_dir).database_path)
    padding = "请问这个事情怎么办理" * 50  # 500 characters: a long comment, as viewers write them
    with store.transaction():
        for i in range(SEEDED_EVENTS):
            store.append_event("city", "answer", {
                "comment_id": i + 1, "platform": "douyin", "nickname": "观众", "comment": f"{i} {padding}",
                "entry_id": "yibao-0001", "question": "问题", "answer": "答案" * 60, "domain": "医疗保障",
                "department": "市医疗保障局", "score": 0.99,
            })
    store.close()
    s = LiveServer(data_dir, settings={"GOVLIVE_WS_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT)}, log_level="info").start()
    yield s
    s.stop()


def overlay_clients(server) -> int:
    return server.status()["overlay_clients"]


def open_socket_that_never_reads(server, path: str) -> socket.socket:
    """A websocket handshake on a raw socket with a tiny receive buffer; after it, nothing is ever read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert sock.recv(12) == b"HTTP/1.1 101"  # switched; from here on the socket is left unread
    return sock


def test_a_client_that_never_reads_is_closed_and_a_reading_client_gets_everything(server):
    assert overlay_clients(server) == 0
    stuck = open_socket_that_never_reads(server, f"/ws/overlay/city?since=0&token={server.token('control')}")
    try:
        deadline = time.monotonic() + 5
        while overlay_clients(server) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert overlay_clients(server) == 1  # subscribed, replaying into full buffers
        # The send timeout closes it; without one it would hold its subscription for ever.
        deadline = time.monotonic() + SEND_TIMEOUT + 20
        while overlay_clients(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert overlay_clients(server) == 0, "the server still holds a client that never reads"
    finally:
        stuck.close()

    async def read_all() -> list[int]:
        seqs = []
        async with websockets.connect(server.ws_url("city", since=0, role="control"), max_size=2**20) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hello" and hello["seq"] == SEEDED_EVENTS
            while len(seqs) < SEEDED_EVENTS:
                seqs.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["seq"])
        return seqs

    assert asyncio.run(read_all()) == list(range(1, SEEDED_EVENTS + 1))  # a client that reads is never cut off


@pytest.mark.parametrize("path", ["/overlay_web/overlay.js%00.css", "/overlay_web/%00", "/overlay_web/..%2Fpyproject.toml",
                                  "/overlay_web/overlay.js%00"])
def test_odd_asset_names_are_404_not_500(server, path):
    response = httpx.get(server.url + path, timeout=10)
    assert response.status_code == 404, (path, response.status_code, response.text[:200])
    assert httpx.get(server.url + "/overlay_web/overlay.js", timeout=10).status_code == 200


@pytest.mark.parametrize("date", ["0001-01-01", "0001-01-07", "1999-12-31"])
def test_a_ledger_before_the_first_day_is_a_clear_422(server, date):
    for path in ("/api/staff/ledger", "/api/staff/ledger/export"):
        response = server.get(path, "staff", date=date)
        assert response.status_code == 422, (path, response.text[:200])
        assert "2000-01-01 or later" in response.json()["detail"]
    assert server.get("/api/staff/ledger", "staff", date="2026-12-04").status_code == 200


def test_tokens_never_reach_the_log(server):
    tokens = {role: server.token(role) for role in ("host", "control", "staff", "admin")}

    async def touch_socket():
        async with websockets.connect(server.ws_url("county-1", role="control")) as ws:
            await asyncio.wait_for(ws.recv(), 10)

    asyncio.run(touch_socket())
    for role in ("control", "staff", "admin"):
        httpx.get(f"{server.url}/control?room=city&token={tokens[role]}", timeout=10)
        httpx.get(f"{server.url}/api/admin/status?token={tokens[role]}", timeout=10)
    server.get("/api/admin/status", "admin")  # a Bearer header
    time.sleep(0.5)  # let the access log flush
    log = server.log_path.read_text(errors="replace")
    assert "GET /control?room=city&token=[redacted]" in log  # the access log is there, redacted
    assert "/ws/overlay/county-1?token=[redacted]" in log
    for role, token in tokens.items():
        assert token not in log, f"the {role} token is in the server log"
