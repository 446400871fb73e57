"""A real ``govlive serve`` in a subprocess on 127.0.0.1, with known secrets, for the benchmarks."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from assistant.service.secrets import Secrets

SECRET_FIELDS = ("host_token", "control_token", "staff_token", "admin_token", "douyin_push_secret", "douyin_bridge_token",
                 "kuaishou_connector_secret", "wechat_channels_connector_secret", "overlay_secret")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """``govlive serve`` on a free loopback port; the same data dir and secrets across restarts."""

    def __init__(self, data_dir: Path, *, settings: dict[str, str] | None = None):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        values = {name: secrets.token_urlsafe(16) for name in SECRET_FIELDS}
        self.secrets = Secrets(**values)
        self.env = {**os.environ, **{f"GOVLIVE_{k.upper()}": v for k, v in values.items()}, **(settings or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir / "serve.log"

    @property
    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.secrets.admin_token}"}

    def ws_url(self, room: str, since: int | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/ws/overlay/{room}?token={self.secrets.host_token}"
        return url if since is None else f"{url}&since={since}"

    def start(self, timeout: float = 300) -> float:
        """Start and wait until it answers; returns the seconds it took."""
        started = time.monotonic()
        command = [sys.executable, "-m", "assistant.cli", "--data-dir", str(self.data_dir), "serve", "--port", str(self.port),
                   "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log_path.open("ab"))
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"govlive serve exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/admin/status", headers=self.admin, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout:
                self.stop()
                raise RuntimeError(f"govlive serve did not come up in {timeout} s")
            time.sleep(0.2)

    def status(self) -> dict:
        response = httpx.get(f"{self.url}/api/admin/status", headers=self.admin, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_drained(self, timeout: float = 300) -> float:
        """Seconds until nothing is pending."""
        started = time.monotonic()
        while self.status()["pending"]:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"backlog not drained in {timeout} s")
            time.sleep(0.2)
        return time.monotonic() - started

    def rss_mb(self) -> float:
        """Resident memory of the server process (and any children), MiB."""
        assert self.process is not None
        proc = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
