"""`govlive simulate` and `govlive demo` against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model


def govlive(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env or os.environ.copy(),
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_simulate_replays_all_three_platforms_into_several_rooms(live_server):
    before = live_server.wait_processed()
    done = govlive("--data-dir", str(live_server.data_dir), "simulate", "--url", live_server.url, "--rate", "200", "--duration", "3",
                   "--rooms", "city,county-1", env=live_server.env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["connection_errors"] == 0 and report["by_status"]["200"] > 0
    assert {"400", "422"} <= set(report["by_status"])  # the recorded malformed payloads are refused, as they should be
    assert report["accepted"] > 0 and report["counted"] > 0
    after = live_server.wait_processed(120)
    assert after["comments"] - before["comments"] == report["accepted"]
    rooms_seen = {o["room"] for o in live_server.get("/api/staff/work_orders", "staff").json()}
    assert {"city", "county-1"} <= rooms_seen


def test_simulate_explains_what_is_missing(tmp_path):
    done = govlive("--data-dir", str(tmp_path), "simulate", "--duration", "1")
    assert done.returncode == 1 and "is not configured" in done.stderr
    done = govlive("--data-dir", str(tmp_path), "simulate", "--rooms", "atlantis")
    assert done.returncode == 1 and "room 'atlantis' is not in" in done.stderr


def test_demo_starts_the_server_replays_and_prints_the_urls(tmp_path, bundled_index):
    from live import data_dir_with_index, free_port

    data_dir = data_dir_with_index(tmp_path / "data", bundled_index[0])
    port = free_port()
    done = govlive("--data-dir", str(data_dir), "demo", "--port", str(port), "--duration", "3", "--rate", "30", "--no-keep-running")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["simulation"]["accepted"] > 0 and out["service"]["pending"] == 0
    assert out["service"]["comments"] == out["simulation"]["accepted"]
    urls = {u["room"]: u for u in out["urls"]}
    assert urls["city"]["overlay"].startswith(f"http://127.0.0.1:{port}/overlay?room=city&token=")
    assert "/control?room=city&token=" in urls["city"]["control"]
    secrets = json.loads((data_dir / "secrets.json").read_text())
    assert urls["city"]["overlay"].endswith(secrets["host_token"]) and oct((data_dir / "secrets.json").stat().st_mode)[-3:] == "600"
