"""Authentication of pushes from Kuaishou and WeChat Channels connectors.

Neither platform offers an official comment push, so a connector (the
program that reads the room's feed) posts to govlive. It signs each push
with three headers:

- ``x-govlive-timestamp``: Unix seconds when it signed;
- ``x-govlive-nonce``: 8 to 128 characters of ``A-Z a-z 0-9 _ -``, new for
  every push (16 random bytes in hex will do);
- ``x-govlive-signature``: the hex HMAC-SHA256, under the platform's
  configured secret, of the bytes
  ``"<timestamp>.<nonce>.<METHOD>.<target>." + body``, where ``METHOD`` is
  the HTTP method in capitals, ``target`` the request target exactly as sent
  (path and query string, percent-encoded as on the wire, e.g.
  ``/push/kuaishou?room=Xf2Qm8LcT0A``) and ``body`` the body as sent (still
  gzip-compressed if it was).

This is the scheme of Stripe's and GitHub's webhooks with the method and the
target added, so a captured push cannot be replayed into another room (the
Kuaishou room is in the query) or to another endpoint. The timestamp bounds
replays in time (``push_clock_skew_seconds``, 300 s by default) and the
service refuses a nonce it has already accepted within that window, even
across a restart (it keeps them in the database). A connector that retries a
push therefore signs it again, with a new timestamp and nonce; the comments'
message ids make the retry a duplicate, not a second comment.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

TIMESTAMP_HEADER = "x-govlive-timestamp"
NONCE_HEADER = "x-govlive-nonce"
SIGNATURE_HEADER = "x-govlive-signature"
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signing_bytes(timestamp: int | str, nonce: str, method: str, target: str, body: bytes) -> bytes:
    return f"{timestamp}.{nonce}.{method.upper()}.{target}.".encode() + body


def sign(secret: str, timestamp: int | str, body: bytes, *, method: str, target: str, nonce: str) -> str:
    return hmac.new(secret.encode(), signing_bytes(timestamp, nonce, method, target, body), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(secret: str, timestamp: int, body: bytes, *, method: str = "POST", target: str, nonce: str | None = None) -> dict[str, str]:
    """The three headers for a push of ``body`` to ``target`` (path and query as sent), with a new nonce unless given."""
    nonce = nonce or new_nonce()
    return {
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, timestamp, body, method=method, target=target, nonce=nonce),
    }


def check(headers: Mapping[str, str], body: bytes, secret: str, *, method: str, target: str, now: float, max_skew: float) -> str | None:
    """None when the push is authentic and recent, else why not (whether the nonce was seen before is the store's to say)."""
    h = {k.lower(): v for k, v in headers.items()}
    stamp, nonce, signature = h.get(TIMESTAMP_HEADER), h.get(NONCE_HEADER), h.get(SIGNATURE_HEADER)
    if not stamp or not nonce or not signature:
        return f"{TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} headers are required"
    if not _TIMESTAMP.fullmatch(stamp):
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - int(stamp)) > max_skew:
        return f"{TIMESTAMP_HEADER} is more than {int(max_skew)} s away from the server clock"
    if not _NONCE.fullmatch(nonce):
        return f"{NONCE_HEADER} must be 8 to 128 characters of A-Z, a-z, 0-9, _ and -"
    expected = sign(secret, stamp, body, method=method, target=target, nonce=nonce)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        return "signature does not match (it covers timestamp, nonce, method, path with query, and body)"
    return None
