"""Recorded-style sample payloads for each platform (``samples/*.jsonl``), for tests and replay.

One JSON object a line: what the payload is (``note``), what govlive should
make of it (``expect``), the request parts (``headers`` for the Douyin
official push, ``query`` for Kuaishou) and the payload itself: ``body``
(decoded JSON) or ``body_text`` (raw text that is not JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
PLATFORM_FILES = ("douyin_official", "douyin_bridge", "kuaishou", "wechat_channels")


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[200, 400, 422]
    comments: int = Field(ge=0)  # new chat comments stored (duplicates excluded, hidden ones included)
    events: int = Field(ge=0)  # non-comment records in the payload (likes, gifts, enters, follows, other)
    rejected: int = Field(ge=0)  # Rejected entries the parser returns


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str
    expect: Expect
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    body: Any = None
    body_text: str | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> Sample:
        has_body = "body" in self.model_fields_set
        if has_body == (self.body_text is not None):
            raise ValueError("a sample has either body (JSON) or body_text (not JSON), not both and not neither")
        return self


def load_samples(platform_file: str) -> list[Sample]:
    """The samples of one file: "douyin_official", "douyin_bridge", "kuaishou" or "wechat_channels"."""
    if platform_file not in PLATFORM_FILES:
        raise ValueError(f"unknown sample file {platform_file!r}; expected one of {', '.join(PLATFORM_FILES)}")
    path = SAMPLES_DIR / f"{platform_file}.jsonl"
    samples = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                samples.append(Sample.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise ValueError(f"{path.name} line {lineno}: {exc}") from None
    return samples
