"""Files of comments with gold labels: the eval sets and the intent training set."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator, model_validator

from assistant.bank.store import read_jsonl_objects

from .intent import INTENTS


class LabelledComment(BaseModel):
    id: str | None = None
    text: str
    intent: str
    entry_id: str | None = None  # the bank entry that answers it; None for non-questions and out-of-bank questions
    # Every entry that answers it, where more than one does (the independent sets); entry_id is then the first.
    entry_ids: list[str] = []
    note: str = ""

    @model_validator(mode="after")
    def _one_source_of_gold(self) -> "LabelledComment":
        if self.entry_ids and self.entry_id is None:
            self.entry_id = self.entry_ids[0]
        elif self.entry_id is not None and not self.entry_ids:
            self.entry_ids = [self.entry_id]
        elif self.entry_id is not None and self.entry_id not in self.entry_ids:
            raise ValueError(f"entry_id {self.entry_id!r} is not among entry_ids")
        return self

    @property
    def gold(self) -> frozenset[str]:
        """The acceptable entries (empty: nothing in the bank answers it)."""
        return frozenset(self.entry_ids)

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
