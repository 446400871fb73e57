"""Role tokens: ``Authorization: Bearer <token>`` (or ``?token=`` where a header cannot be set:
websockets opened by a browser, an OBS browser-source URL)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from .context import Services, get_services

ROLES = ("host", "control", "staff", "admin")


def token_from(request_headers, query_params) -> str | None:
    header = request_headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return query_params.get("token") or None


def roles_for(token: str | None, services: Services) -> set[str]:
    return services.secrets.role_of(token) if token else set()


def require(*roles: str):
    """Dependency: the request carries a token of one of ``roles`` (admin always passes). Returns the role."""
    allowed = set(roles) | {"admin"}

    def check(request: Request, services: Services = Depends(get_services)) -> str:
        token = token_from(request.headers, request.query_params)
        if token is None:
            raise HTTPException(401, "a token is required (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        held = roles_for(token, services)
        if not held:
            raise HTTPException(401, "token not recognised", headers={"WWW-Authenticate": "Bearer"})
        granted = held & allowed
        if not granted:
            raise HTTPException(403, f"this needs a {' or '.join(sorted(roles))} token")
        return sorted(granted)[0]

    return check
