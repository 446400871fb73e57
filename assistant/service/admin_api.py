"""Operator figures (admin) and the pending work orders (staff; issue 5 builds the rest)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from assistant.store import WorkOrder

from .auth import require
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
    rooms: list[str]


@router.get("/admin/status", response_model=ServiceStatus, tags=["admin"])
async def status(services: Services = Depends(get_services), role: str = Depends(require("admin"))) -> ServiceStatus:
    figures: dict[str, Any] = services.store.status()
    return ServiceStatus(
        **figures,
        batches=services.pipeline.batches,
        matched=services.pipeline.matched,
        overlay_clients=services.hub.subscriber_count(),
        rooms=[r.id for r in services.rooms.rooms],
    )


@router.get("/staff/work_orders", response_model=list[WorkOrder], tags=["staff"])
async def work_orders(
    room: str | None = Query(default=None, max_length=64),
    services: Services = Depends(get_services),
    role: str = Depends(require("staff")),
) -> list[WorkOrder]:
    return services.store.work_orders(room)
