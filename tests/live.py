"""A real `govlive serve` in a subprocess on 127.0.0.1, for the service tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from assistant.service.secrets import Secrets

ROLES = ("host", "control", "staff", "admin")
PLATFORM_SECRETS = ("douyin_push_secret", "douyin_bridge_token", "kuaishou_connector_secret", "wechat_channels_connector_secret")
DERIVING_SECRETS = ("overlay_secret",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def data_dir_with_index(directory: Path, built_data_dir: Path) -> Path:
    """A fresh data dir (own database and secrets) sharing an already built index."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index").symlink_to((built_data_dir / "index").resolve())
    return directory


class LiveServer:
    def __init__(self, data_dir: Path, *, settings: dict[str, str] | None = None, log_level: str = "warning"):
        self.data_dir = data_dir
        self.log_level = log_level  # "info" adds uvicorn's access log (stdout) to the log file
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        values = {f: secrets.token_urlsafe(16) for f in [f"{r}_token" for r in ROLES] + list(PLATFORM_SECRETS) + list(DERIVING_SECRETS)}
        self.secrets = Secrets(**values)
        self.env = {**os.environ, **{f"GOVLIVE_{k.upper()}": v for k, v in values.items()}, **(settings or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir / f"server-{self.port}.log"

    def token(self, role: str) -> str:
        return getattr(self.secrets, f"{role}_token")

    def overlay_token(self, room: str) -> str:
        """The room's read-only overlay token (derived from the overlay secret, as the server derives it)."""
        return self.secrets.overlay_token(room)

    def auth(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role)}"}

    def ws_url(self, room: str, *, since: int | None = None, role: str = "host", token: str | None = None) -> str:
        """role="overlay": the room's overlay token; ``token``: any token (a named account's)."""
        token = token or (self.overlay_token(room) if role == "overlay" else self.token(role))
        url = f"ws://127.0.0.1:{self.port}/ws/overlay/{room}?token={token}"
        return url if since is None else f"{url}&since={since}"

    def accounts(self, *args: str) -> subprocess.CompletedProcess:
        """``govlive accounts ARGS`` on this server's data dir."""
        return subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(self.data_dir), "accounts", *args],
                              capture_output=True, text=True, env=self.env, timeout=120, stdin=subprocess.DEVNULL)

    def add_account(self, name: str, role: str, rooms: str | None = None) -> str:
        """A named account's token (``govlive accounts add``)."""
        done = self.accounts("add", name, "--role", role, *(["--rooms", rooms] if rooms else []))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["token"]

    def start(self, timeout: float = 180) -> "LiveServer":
        command = [sys.executable, "-m", "assistant.cli", "--data-dir", str(self.data_dir), "serve", "--port", str(self.port), "--log-level", self.log_level]
        log = self.log_path.open("ab")
        stdout = log if self.log_level in ("info", "debug") else subprocess.DEVNULL
        self.process = subprocess.Popen(command, env=self.env, stdout=stdout, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"govlive serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/admin/status", headers=self.auth("admin"), timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"govlive serve did not come up in {timeout} s:\n{self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def status(self) -> dict:
        response = httpx.get(f"{self.url}/api/admin/status", headers=self.auth("admin"), timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_processed(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["pending"] == 0:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"{status['pending']} comments still pending after {timeout} s")
            time.sleep(0.1)

    def post(self, path: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=content, headers=headers, timeout=30)

    def get(self, path: str, role: str, **params) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.auth(role), timeout=60)

    def post_json(self, path: str, role: str, body: dict) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.auth(role), timeout=30)


def city_room():
    from assistant.rooms import Rooms
    from assistant.settings import EXAMPLE_ROOMS_FILE

    return Rooms.read(EXAMPLE_ROOMS_FILE).get("city")


def douyin_headers(server, body: bytes, *, room: str | None = None, msg_type: str = "live_comment", secret: str | None = None,
                   timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers Douyin sends with ``body``, signed the way Douyin signs (a new random nonce unless ``nonce``)."""
    from assistant.ingest import douyin

    headers = {"x-roomid": room or city_room().douyin, "x-msg-type": msg_type, "x-timestamp": str(int(time.time())) if timestamp is None else timestamp,
               "x-nonce-str": nonce or secrets.token_hex(8)}
    headers["x-signature"] = douyin.signature(headers, body, secret or server.secrets.douyin_push_secret)
    return {**headers, "content-type": "application/json"}


def douyin_signed(server, body: bytes, *, room: str | None = None, msg_type: str = "live_comment", secret: str | None = None,
                  extra: dict[str, str] | None = None) -> httpx.Response:
    """POST ``body`` (bytes as they are) to /push/douyin, signed."""
    headers = douyin_headers(server, body, room=room, msg_type=msg_type, secret=secret)
    return server.post("/push/douyin", content=body, headers={**headers, **(extra or {})})


def douyin_push(server, items, *, room: str | None = None, msg_type="live_comment", secret=None, tamper=False) -> httpx.Response:
    """Douyin's official push of ``items``; ``tamper`` changes the body after signing."""
    body = json.dumps(items, ensure_ascii=False).encode()
    headers = douyin_headers(server, body, room=room, msg_type=msg_type, secret=secret)
    return server.post("/push/douyin", content=body + (b" " if tamper else b""), headers=headers)


def connector_headers(server, path, raw: bytes, secret: str, *, stamp: int | None = None, nonce: str | None = None,
                      method: str = "POST") -> dict[str, str]:
    """The headers a Kuaishou or WeChat Channels connector signs a push of ``raw`` to ``path`` (with its query) with."""
    from assistant.ingest import connector_auth

    target = httpx.URL(f"{server.url}{path}").raw_path.decode("ascii")  # the path and query as httpx sends them
    return {**connector_auth.signed_headers(secret, stamp or int(time.time()), raw, method=method, target=target, nonce=nonce),
            "content-type": "application/json"}


def connector_push(server, path, raw: bytes, secret: str, *, stamp: int | None = None, extra=None, nonce: str | None = None,
                   signed_path: str | None = None) -> httpx.Response:
    """A Kuaishou or WeChat Channels connector push, signed with ``secret`` (for ``signed_path`` if given, else ``path``)."""
    headers = {**connector_headers(server, signed_path or path, raw, secret, stamp=stamp, nonce=nonce), **(extra or {})}
    return server.post(path, content=raw, headers=headers)


class DepartmentRobot:
    """A WeCom-style department group robot on 127.0.0.1.

    It records every message it is sent and answers each with the next of
    ``replies`` (status, JSON), then with errcode 0, so a test can make it be
    down, rate-limit and recover. ``close()`` stops it.
    """

    def __init__(self, replies: list[tuple[int, dict]] | None = None, *, port: int = 0, key: str = "test"):
        self.received: list[dict] = []
        self.replies = list(replies or [])
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                robot.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                status, reply = robot.replies.pop(0) if robot.replies else (200, {"errcode": 0, "errmsg": "ok"})
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/cgi-bin/webhook/send?key={key}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
