"""Role tokens and platform secrets.

Each comes from its setting (``GOVLIVE_HOST_TOKEN`` …) when set; otherwise
from ``<data_dir>/secrets.json``, which `govlive serve` creates on first start
with random values (file mode 0600), so a fresh install is never open and
nothing is hard-coded. Roles are separate: a host token cannot approve a
suggestion, a control token cannot pull host items.

Overlay tokens (the OBS page's) are not stored: each is derived from
``overlay_secret`` and one room, ``ovl.<room>.<HMAC-SHA256(overlay_secret, room)>``,
so a token for room A says nothing about room B and grants nothing but
that room's on-air events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as random_secrets
from pathlib import Path

from pydantic import BaseModel

from assistant.settings import Settings

ROLES = ("host", "control", "staff", "admin")  # the roles a person's token may have (shared or named)
ROLE_FIELDS = tuple(f"{role}_token" for role in ROLES)
PLATFORM_FIELDS = ("douyin_push_secret", "douyin_bridge_token", "kuaishou_connector_secret", "wechat_channels_connector_secret")
DERIVING_FIELDS = ("overlay_secret",)  # keys other tokens are derived from
OVERLAY_PREFIX = "ovl."


class Secrets(BaseModel):
    host_token: str
    control_token: str
    staff_token: str
    admin_token: str
    douyin_push_secret: str
    douyin_bridge_token: str
    kuaishou_connector_secret: str
    wechat_channels_connector_secret: str
    overlay_secret: str

    def role_of(self, token: str) -> set[str]:
        return {
            field.removesuffix("_token")
            for field in ROLE_FIELDS
            if hmac.compare_digest(token.encode(), getattr(self, field).encode())
        }

    def overlay_token(self, room: str) -> str:
        """The read-only overlay token of ``room`` (the same on every call: nothing is stored)."""
        mac = hmac.new(self.overlay_secret.encode(), f"overlay:{room}".encode(), hashlib.sha256).digest()
        return f"{OVERLAY_PREFIX}{room}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def overlay_room_of(self, token: str) -> str | None:
        """The room an overlay token was made for, or None if it is not a valid overlay token."""
        if not token.startswith(OVERLAY_PREFIX) or token.count(".") != 2:
            return None
        room = token[len(OVERLAY_PREFIX):].split(".", 1)[0]
        if not room or not hmac.compare_digest(token.encode(), self.overlay_token(room).encode()):
            return None
        return room


def load_secrets(settings: Settings, *, create: bool = True) -> Secrets:
    path: Path = settings.secrets_path
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    values, generated = {}, {}
    for field in ROLE_FIELDS + PLATFORM_FIELDS + DERIVING_FIELDS:
        configured = getattr(settings, field)
        if configured:
            values[field] = configured
        elif stored.get(field):
            values[field] = stored[field]
        elif create:
            values[field] = generated[field] = random_secrets.token_urlsafe(24)
        else:
            raise ValueError(f"{field} is not configured (set GOVLIVE_{field.upper()} or start govlive serve once)")
    if generated:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**stored, **generated}, f, indent=1)
    return Secrets(**values)
