"""Text the digital-human host can say aloud.

Bank answers are checked to be speakable when the bank is loaded (no URLs,
tables, long digit runs); this is the last guard for anything else that
reaches the host (answers added on the staff page, a viewer's words).
"""

from __future__ import annotations

import re

from assistant.normalize.text import normalize_comment

_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+;=%]"  # ASCII only: a Chinese comma ends a URL
_URL = re.compile(rf"(?:https?://|www\.){_URL_CHARS}+|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/{_URL_CHARS}*", re.IGNORECASE)
_MARKUP = re.compile(r"<[^>]{0,200}>")
_SPACES = re.compile(r"\s+")


def speakable(text: str) -> str:
    """No URLs or markup, personal numbers masked, one line."""
    masked = normalize_comment(text).for_display  # masks phone and ID numbers
    masked = _URL.sub("", masked)
    masked = _MARKUP.sub("", masked)
    return _SPACES.sub(" ", masked).strip()


def host_speech(question: str, answer: str) -> str:
    return speakable(f"有网友问：{question} {answer}")


def idle_speech(question: str, answer: str) -> str:
    return speakable(f"政策小贴士。{question} {answer}")
