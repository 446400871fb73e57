"""Operator figures (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

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
