"""`govlive simulate` and `govlive demo` against real servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
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
    assert oct((data_dir / "secrets.json").stat().st_mode)[-3:] == "600"
    # The overlay URL (for OBS) carries the room's read-only overlay token, never a role token.
    from assistant.service.secrets import Secrets

    assert urls["city"]["overlay"].endswith("&token=" + Secrets(**secrets).overlay_token("city"))
    assert not any(secrets[f"{role}_token"] in urls["city"]["overlay"] for role in ("host", "control", "staff", "admin"))
    assert urls["city"]["control"].endswith("&token=" + secrets["control_token"])  # the demo is interactive: printed once, to the terminal
    assert secrets["control_token"] not in done.stderr and secrets["host_token"] not in done.stderr


def test_accounts_add_list_revoke_and_tokens(tmp_path):
    data_dir = str(tmp_path / "data")
    added = govlive("--data-dir", data_dir, "accounts", "add", "张敏", "--role", "staff", "--rooms", "city,county-1")
    assert added.returncode == 0, added.stderr
    account = json.loads(added.stdout)
    token = account.pop("token")
    assert account == {"name": "张敏", "role": "staff", "rooms": ["city", "county-1"]} and len(token) > 40
    assert "only this once" in added.stderr
    stored = tmp_path / "data" / "accounts.json"
    assert oct(stored.stat().st_mode)[-3:] == "600"
    assert token not in stored.read_text() and hashlib.sha256(token.encode()).hexdigest() in stored.read_text()
    assert govlive("--data-dir", data_dir, "accounts", "add", "李强", "--role", "control").returncode == 0

    again = govlive("--data-dir", data_dir, "accounts", "add", "张敏", "--role", "staff")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert govlive("--data-dir", data_dir, "accounts", "add", "王", "--role", "overlay").returncode == 2  # not a role an account can hold
    bad_room = govlive("--data-dir", data_dir, "accounts", "add", "王", "--role", "host", "--rooms", "atlantis")
    assert bad_room.returncode == 1 and "atlantis" in bad_room.stderr

    listed = [json.loads(line) for line in govlive("--data-dir", data_dir, "accounts", "list").stdout.splitlines()]
    assert [(a["name"], a["role"], a["rooms"], a["revoked"]) for a in listed] == [("张敏", "staff", ["city", "county-1"], False),
                                                                                 ("李强", "control", None, False)]
    assert all(token not in json.dumps(a) and "token_sha256" not in a for a in listed)
    assert govlive("--data-dir", data_dir, "accounts", "revoke", "张敏").returncode == 0
    assert govlive("--data-dir", data_dir, "accounts", "revoke", "张敏").returncode == 1  # nothing left to revoke
    listed = [json.loads(line) for line in govlive("--data-dir", data_dir, "accounts", "list").stdout.splitlines()]
    assert {a["name"]: a["revoked"] for a in listed} == {"张敏": True, "李强": False}

    # `govlive tokens` prints the shared tokens on demand (serve does not print them).
    assert govlive("--data-dir", data_dir, "tokens").returncode == 1  # nothing configured yet
    env = {**os.environ, **{f"GOVLIVE_{k.upper()}": f"{k}-value" for k in (
        "host_token", "control_token", "staff_token", "admin_token", "douyin_push_secret", "douyin_bridge_token",
        "kuaishou_connector_secret", "wechat_channels_connector_secret", "overlay_secret")}}
    printed = govlive("--data-dir", data_dir, "tokens", "--url", "https://live.example.cn", env=env)
    assert printed.returncode == 0, printed.stderr
    out = json.loads(printed.stdout)
    assert out["tokens"] == {"host": "host_token-value", "control": "control_token-value", "staff": "staff_token-value", "admin": "admin_token-value"}
    city = next(r for r in out["rooms"] if r["room"] == "city")
    assert city["overlay"].startswith("https://live.example.cn/overlay?room=city&token=ovl.city.")
    assert city["control"] == "https://live.example.cn/control?room=city&token=control_token-value"
