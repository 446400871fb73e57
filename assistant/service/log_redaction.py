"""Keep credentials out of logs.

Browsers cannot set headers on a websocket or an OBS browser-source URL, so
tokens sometimes travel as ``?token=``; uvicorn's access log writes whole
request lines, and a log is kept, shipped and read by more people than a
token should be. :class:`RedactSecrets` rewrites every record's arguments and
message before any handler formats it: query parameters that carry a
credential and ``Bearer`` headers become ``[redacted]``.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

REDACTED = "[redacted]"
# token=…, access_token=…, sig=…, signature=…, key=… in a query string or a logged URL.
_QUERY_SECRET = re.compile(r"(?i)(?<![A-Za-z0-9_])((?:access_)?token|sig|signature|key|secret)=([^&\s\"'#]+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """A filter for handlers: redacts ``record.msg`` and each string in ``record.args``.

    Arguments are rewritten in place of formatting them, because uvicorn's
    AccessFormatter unpacks ``record.args`` itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with :class:`RedactSecrets` on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    return config


def redact_root_handlers() -> None:
    """The same filter on the root logger's handlers (govlive's own log lines)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
