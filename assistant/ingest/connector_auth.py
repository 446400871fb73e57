"""Authentication of pushes from Kuaishou and WeChat Channels connectors.

Neither platform offers an official comment push, so a connector (the
program that reads the room's feed) posts to govlive. It signs each push:
``x-govlive-timestamp`` (Unix seconds) and ``x-govlive-signature``, the hex
HMAC-SHA256 of ``"<timestamp>." + body`` under the platform's configured
secret, the scheme Stripe and GitHub webhooks use. The timestamp bounds
replays; the body is signed as sent (still gzip-compressed if it was).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "x-govlive-timestamp"
SIGNATURE_HEADER = "x-govlive-signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def check(headers: Mapping[str, str], body: bytes, secret: str, *, now: float, max_skew: float) -> str | None:
    """None when the push is authentic, else why not."""
    h = {k.lower(): v for k, v in headers.items()}
    stamp, signature = h.get(TIMESTAMP_HEADER), h.get(SIGNATURE_HEADER)
    if not stamp or not signature:
        return f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required"
    try:
        timestamp = int(stamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - timestamp) > max_skew:
        return f"{TIMESTAMP_HEADER} is more than {int(max_skew)} s away from the server clock"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        return "signature does not match"
    return None
