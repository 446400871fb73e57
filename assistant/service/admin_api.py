"""Operator figures (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from .auth import Principal, require
from .context import Services, get_services

router = APIRouter(prefix="/api")


class ServiceStatus(BaseModel):
    comments: int
    pending: int  # stored, not yet matched: the backlog
    decisions: dict[str, int]
    events_counted: dict[str, int]
    rejected_items: int
    work_orders: int
    host_queued: int
    batches: int  # matcher batches since start
    matched: int  # comments matched since start
    overlay_clients: int
    host_polls_waiting: dict[str, int]  # digital-human long-polls asleep, per room
    rooms: list[str]


@router.get("/admin/status", response_model=ServiceStatus, tags=["admin"])
async def status(services: Services = Depends(get_services), principal: Principal = Depends(require("admin"))) -> ServiceStatus:
    figures: dict[str, Any] = services.store.status()
    return ServiceStatus(
        **figures,
        batches=services.pipeline.batches,
        matched=services.pipeline.matched,
        overlay_clients=services.hub.subscriber_count(),
        host_polls_waiting={room: n for room, n in services.host_queue.waiting.items() if n},
        rooms=[r.id for r in services.rooms.rooms],
    )
