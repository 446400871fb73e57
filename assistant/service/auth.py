"""Who a request is: ``Authorization: Bearer <token>`` (or ``?token=`` where a header cannot be set:
websockets opened by a browser, an OBS browser-source URL).

Three kinds of token:

* the shared role tokens of ``secrets.json`` (host, control, staff, admin);
  the audit records them as ``"staff (shared token)"``;
* named accounts (``govlive accounts add``, see :mod:`.accounts`): one token per
  person, optionally limited to some rooms; the audit records ``"张敏 (staff)"``;
* overlay tokens, derived per room (:meth:`Secrets.overlay_token`): read-only,
  one room's on-air events on the websocket and nothing else; every API refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from .context import Services, get_services

OVERLAY = "overlay"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # host, control, staff, admin or overlay
    rooms: frozenset[str] | None = None  # None: every room
    shared: bool = True  # a shared role token (or an overlay token), not a person's

    @property
    def actor(self) -> str:
        """What the audit trail records."""
        if self.role == OVERLAY:
            return f"overlay ({', '.join(sorted(self.rooms or ()))})"
        return f"{self.role} (shared token)" if self.shared else f"{self.name} ({self.role})"

    def may_act_in(self, room: str | None) -> bool:
        return self.rooms is None or room in self.rooms

    def check_room(self, room: str | None) -> None:
        if not self.may_act_in(room):
            raise HTTPException(403, f"this token is for room(s) {', '.join(sorted(self.rooms or ()))} only")

    def only_rooms(self) -> None:
        """Refuse room-limited accounts (for views that span every room, such as the ledger)."""
        if self.rooms is not None:
            raise HTTPException(403, "this covers every room; a token limited to some rooms cannot open it")


def token_from(request_headers, query_params) -> str | None:
    header = request_headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return query_params.get("token") or None


class Revoked(Exception):
    pass


def identify(token: str | None, services: Services, prefer: set[str] | frozenset[str] = frozenset()) -> Principal | None:
    """The principal ``token`` stands for, or None. Raises :class:`Revoked` for a revoked account's token.

    A shared token configured for several roles (the same value twice) is taken
    as the first of them in ``prefer``, else the first in alphabetical order.
    """
    if not token:
        return None
    roles = services.secrets.role_of(token)
    if roles:
        role = min(roles & prefer) if roles & prefer else min(roles)
        return Principal(role, role)
    room = services.secrets.overlay_room_of(token)
    if room is not None:
        return Principal(OVERLAY, OVERLAY, frozenset({room}))
    account = services.accounts.lookup(token) if services.accounts is not None else None
    if account is None:
        return None
    if account.revoked:
        raise Revoked(account.name)
    return Principal(account.name, account.role, frozenset(account.rooms) if account.rooms else None, shared=False)


def principal_or_none(token: str | None, services: Services, prefer: set[str] | frozenset[str] = frozenset()) -> Principal | None:
    """Like :func:`identify`, a revoked token being None."""
    try:
        return identify(token, services, prefer)
    except Revoked:
        return None


def require(*roles: str):
    """Dependency: the request carries a token of one of ``roles`` (admin always passes). Returns the :class:`Principal`."""
    allowed = frozenset(roles) | {"admin"}

    def check(request: Request, services: Services = Depends(get_services)) -> Principal:
        token = token_from(request.headers, request.query_params)
        if token is None:
            raise HTTPException(401, "a token is required (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = identify(token, services, allowed)
        except Revoked:
            raise HTTPException(401, "this token was revoked", headers={"WWW-Authenticate": "Bearer"}) from None
        if principal is None:
            raise HTTPException(401, "token not recognised", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in allowed:
            raise HTTPException(403, f"this needs a {' or '.join(sorted(roles))} token")
        return principal

    return check
