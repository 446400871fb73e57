"""Files of comments with gold labels: the eval sets and the intent training set."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from assistant.bank.store import read_jsonl_objects

from .intent import INTENTS


class LabelledComment(BaseModel):
    id: str | None = None
    text: str
    intent: str
    entry_id: str | None = None  # the bank entry that answers it; None for non-questions and out-of-bank questions
    note: str = ""

    @field_validator("intent")
    @classmethod
    def _known_intent(cls, v: str) -> str:
        if v not in INTENTS:
            raise ValueError(f"unknown intent {v!r}; expected one of {', '.join(INTENTS)}")
        return v


class LabelledFileError(ValueError):
    pass


def read_labelled(path: Path) -> list[LabelledComment]:
    """Every row, or :class:`LabelledFileError` naming every bad line."""
    path = Path(path)
    if not path.is_file():
        raise LabelledFileError(f"{path}: no such file")
    try:
        objects, problems = read_jsonl_objects(path)
    except UnicodeDecodeError:
        raise LabelledFileError(f"{path}: not UTF-8 text") from None
    messages = [f"{p.where}: {p.message}" for p in problems]
    rows = []
    for _, where, data in objects:
        try:
            rows.append(LabelledComment.model_validate(data))
        except ValidationError as exc:
            messages.extend(f"{where}: {'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
    if messages:
        raise LabelledFileError("\n".join(messages))
    if not rows:
        raise LabelledFileError(f"{path}: no labelled comments")
    return rows


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
