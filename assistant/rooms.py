"""The configured live rooms ("1+9": a city room and its county rooms).

One govlive room streams on several platforms at once, each with its own
room id there; comments from all of them reach the same overlay. A push for
a platform room that is not configured is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from assistant.ingest.record import Platform

PLATFORMS: tuple[Platform, ...] = ("douyin", "kuaishou", "wechat_channels")


class Room(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(min_length=1, max_length=64)
    douyin: str | None = None
    kuaishou: str | None = None
    wechat_channels: str | None = None

    def platform_room(self, platform: Platform) -> str | None:
        return getattr(self, platform)


class RoomsError(ValueError):
    pass


class Rooms(BaseModel):
    rooms: list[Room] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Rooms":
        ids = [r.id for r in self.rooms]
        if len(set(ids)) != len(ids):
            raise ValueError("room ids must be unique")
        for platform in PLATFORMS:
            seen = [r.platform_room(platform) for r in self.rooms if r.platform_room(platform)]
            if len(set(seen)) != len(seen):
                raise ValueError(f"two rooms share a {platform} room id")
        return self

    @classmethod
    def read(cls, path: Path) -> "Rooms":
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise RoomsError(f"rooms file not found: {path}") from None
        except (json.JSONDecodeError, ValidationError) as exc:
            raise RoomsError(f"rooms file {path} is not valid: {exc}") from None

    def get(self, room_id: str) -> Room | None:
        return next((r for r in self.rooms if r.id == room_id), None)

    def for_platform_room(self, platform: Platform, platform_room: str) -> Room | None:
        return next((r for r in self.rooms if r.platform_room(platform) == platform_room), None)
