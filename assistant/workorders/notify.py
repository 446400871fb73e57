"""Notifications to departments: group-robot messages sent from a persistent outbox.

WeCom (企业微信) and DingTalk (钉钉) group robots both accept
``{"msgtype": "text", "text": {"content": "…"}}`` posted to the robot's
webhook URL and answer ``{"errcode": 0, …}``. Messages carry the masked
comment only: personal numbers stay on the staff page.

The sender retries with exponential backoff (capped) and never gives up:
a receiver that is down for an hour gets every message when it is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import httpx

from assistant.store import SqliteStore, WorkOrder

log = logging.getLogger("govlive.notify")

COMPLEXITY_NAMES = {"ordinary": "一般件，2个工作日", "complex": "复杂件，5个工作日"}
LEVEL_NAMES = {"yellow": "黄色预警", "red": "红色预警：今日到期", "overdue": "已超期"}


class Departments:
    """Department → robot webhook URL, from a JSON file ``{"市医疗保障局": "https://…", "*": "https://…"}``.

    ``"*"`` is the fallback (for instance the 12345 centre's own group).
    """

    def __init__(self, webhooks: dict[str, str] | None = None):
        self.webhooks = dict(webhooks or {})

    @classmethod
    def load(cls, path: Path | None) -> "Departments":
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"department webhooks file not found: {path}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"department webhooks file {path} is not JSON: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.startswith(("http://", "https://"))
                                                 for k, v in data.items()):
            raise ValueError(f"department webhooks file {path} must map department names to http(s) URLs")
        return cls(data)

    def webhook_for(self, department: str | None) -> str | None:
        return self.webhooks.get(department or "", self.webhooks.get("*"))


def _when(iso: str | None) -> str:
    return f"{iso[5:10].replace('-', '月', 1)}日 {iso[11:16]}" if iso else "—"


def robot_text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def dispatch_message(order: WorkOrder) -> dict[str, Any]:
    lines = [
        f"【工单派发】#{order.id} {order.department}",
        f"群众诉求：{order.display}",
        f"来源：{order.room} 直播间（{order.platform}）",
        f"办结时限：{_when(order.resolve_due)}（{COMPLEXITY_NAMES.get(order.complexity, order.complexity)}）",
    ]
    if order.provisional:
        lines.append("注意：时限按暂定日历计算（节假日安排未发布）")
    return robot_text("\n".join(lines))


def warning_message(order: WorkOrder, view) -> dict[str, Any]:
    level = "overdue" if view.overdue else view.colour
    return robot_text("\n".join([
        f"【工单{LEVEL_NAMES.get(level, level)}】#{order.id} {order.department}",
        f"群众诉求：{order.display}",
        f"办结时限：{_when(order.resolve_due)}，剩余 {view.working_days_left} 个工作日",
    ]))


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with ±10 % jitter, so many failed messages do not retry in lockstep."""
    return min(cap, base * 2 ** max(0, attempts)) * random.uniform(0.9, 1.1)


class OutboxSender:
    def __init__(self, store: SqliteStore, *, base_seconds: float = 2.0, cap_seconds: float = 300.0, poll_seconds: float = 1.0,
                 timeout_seconds: float = 5.0):
        self.store = store
        self.base = base_seconds
        self.cap = cap_seconds
        self.poll = poll_seconds
        self.timeout = timeout_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while True:
                try:
                    await self.send_due(client)
                except Exception:  # never let one bad message stop the sender
                    log.exception("outbox pass failed")
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                except TimeoutError:
                    pass

    async def send_due(self, client: httpx.AsyncClient) -> int:
        sent = 0
        for message in self.store.due_notifications(time.time()):
            error = await self._post(client, message["url"], message["payload"])
            if error is None:
                self.store.notification_sent(message["id"])
                sent += 1
            else:
                delay = backoff_seconds(message["attempts"], base=self.base, cap=self.cap)
                log.warning("notification %s failed (%s); retrying in %.0f s", message["id"], error, delay)
                self.store.notification_failed(message["id"], error, time.time() + delay)
        return sent

    @staticmethod
    async def _post(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> str | None:
        try:
            response = await client.post(url, json=payload)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code // 100 != 2:
            return f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            return None
        # WeCom and DingTalk answer 200 with errcode != 0 for a refused message (bad key, rate limit …).
        if isinstance(body, dict) and body.get("errcode", 0) != 0:
            return f"errcode {body.get('errcode')}: {body.get('errmsg', '')}"
        return None
