"""The answer-bank entry and the rules every entry and every bank must satisfy.

An entry is what the digital-human host speaks (``answer``) and what the
human host reads on the overlay (``answer_detail`` when present). The rules
here are the only place that says what a valid entry is; importers, the
bundled-bank test and the CLI all call :func:`validate_entry` and
:func:`check_bank`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .domains import ASPECTS, COMPLEXITIES, DOMAIN_BY_NAME

ANSWER_MAX_CHARS = 120
QUESTION_MAX_CHARS = 90  # catalogue item names run to 70 characters
ITEM_MAX_CHARS = 80
MIN_SIMILAR_QUESTIONS = 2

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# What a text-to-speech voice cannot read well. Each rule says why it fails.
_SPEAKABILITY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https?://|www\.|\.(?:com|cn|net|org)\b", re.I), "contains a URL, which cannot be spoken"),
    (re.compile(r"[|\t\r\n]"), "contains table or line-break characters"),
    (re.compile(r"\d\s*[-~～—–]\s*\d"), "writes a number range with a dash or tilde; write 到 (e.g. 3到5个工作日)"),
    (re.compile(r"\d{5,}"), "has a run of 5 or more digits; write phone numbers and codes in Chinese digits or round the amount (2万元)"),
    (re.compile(r"/"), "contains '/', which is read out as a symbol; write 每 or 或"),
    (re.compile(r"[\u2460-\u24ff\u2776-\u2793]"), "uses circled numbers; write 一是、二是 or 第一、第二"),
    (re.compile(r"[*#>`]"), "contains markup characters"),
)


def speakability_problems(text: str) -> list[str]:
    """Reasons why ``text`` would not read aloud well; empty when it is fine."""
    return [why for pattern, why in _SPEAKABILITY_RULES if pattern.search(text)]


class Entry(BaseModel):
    """One policy Q&A entry of the answer bank."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    domain: str
    item: str = Field(min_length=1, max_length=ITEM_MAX_CHARS)
    aspect: str
    question: str = Field(min_length=2, max_length=QUESTION_MAX_CHARS)
    similar_questions: list[str]
    answer: str = Field(min_length=2, max_length=ANSWER_MAX_CHARS)
    answer_detail: str = ""
    department: str = Field(min_length=2, max_length=40)
    complexity: Literal["ordinary", "complex"] = "ordinary"
    source: str = Field(min_length=2, max_length=200)
    updated_at: dt.date
    valid_until: dt.date | None = None
    # True when the answer states local facts (fees, addresses, phone
    # numbers, local ratios) that each city must replace with its own.
    city_specific: bool = False

    @field_validator("id", "domain", "item", "aspect", "question", "answer", "answer_detail", "department", "source")
    @classmethod
    def _no_control_characters(cls, v: str, info: ValidationInfo) -> str:
        # Null bytes and other control characters break spreadsheets, TTS and
        # screens; only the long detail text may keep line breaks.
        allowed = "\n" if info.field_name == "answer_detail" else ""
        bad = {c for c in v if unicodedata.category(c) == "Cc" and c not in allowed}
        if bad:
            raise ValueError("contains control characters " + ", ".join(sorted(repr(c) for c in bad)))
        return v

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not ID_PATTERN.match(v):
            raise ValueError("id must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
        return v

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, v: str) -> str:
        if v not in DOMAIN_BY_NAME:
            raise ValueError(f"unknown domain {v!r}; expected one of: {', '.join(DOMAIN_BY_NAME)}")
        return v

    @field_validator("aspect")
    @classmethod
    def _known_aspect(cls, v: str) -> str:
        if v not in ASPECTS:
            raise ValueError(f"unknown aspect {v!r}; expected one of: {', '.join(ASPECTS)}")
        return v

    @field_validator("complexity", mode="before")
    @classmethod
    def _complexity_words(cls, v: Any) -> Any:
        # Staff spreadsheets say 普通/复杂; the stored form is the English key.
        return {"普通": "ordinary", "一般": "ordinary", "复杂": "complex"}.get(v, v) if isinstance(v, str) else v

    @field_validator("similar_questions")
    @classmethod
    def _similar_questions(cls, v: list[str], info: ValidationInfo) -> list[str]:
        v = [s.strip() for s in v if s and s.strip()]
        if len(v) < MIN_SIMILAR_QUESTIONS:
            raise ValueError(f"needs at least {MIN_SIMILAR_QUESTIONS} similar questions, got {len(v)}")
        for s in v:
            if any(unicodedata.category(c) == "Cc" for c in s):
                raise ValueError(f"similar question contains control characters: {s!r}")
            if len(s) > QUESTION_MAX_CHARS:
                raise ValueError(f"similar question longer than {QUESTION_MAX_CHARS} characters: {s!r}")
        keys = [question_key(s) for s in v]
        if len(set(keys)) != len(keys):
            raise ValueError("similar questions repeat each other")
        question = info.data.get("question")
        if question is not None and question_key(question) in keys:
            raise ValueError("a similar question repeats the canonical question")
        return v

    @field_validator("answer")
    @classmethod
    def _speakable(cls, v: str) -> str:
        problems = speakability_problems(v)
        if problems:
            raise ValueError("answer is not speakable: " + "; ".join(problems))
        return v

    @field_validator("valid_until")
    @classmethod
    def _after_update(cls, v: dt.date | None, info: ValidationInfo) -> dt.date | None:
        updated = info.data.get("updated_at")
        if v is not None and updated is not None and v < updated:
            raise ValueError("valid_until is before updated_at")
        return v

    def all_questions(self) -> list[str]:
        """The canonical question first, then the similar phrasings."""
        return [self.question, *self.similar_questions]

    def content_hash(self) -> str:
        """Hash of every field, so any edit changes it."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_until is None or day <= self.valid_until


_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+", re.UNICODE)
_TRAILING_PARTICLES = re.compile(r"[吗呢啊呀吧么嘛]+$")


# Colloquial words that ask the same thing; folded so that 社保卡丢了咋挂失 and
# 社保卡丢了怎么挂失 count as one question. Longest first.
_SAME_ASKING = (
    ("可不可以", "能"), ("能不能", "能"), ("可以", "能"),
    ("怎么样", "怎么"), ("怎样", "怎么"), ("如何", "怎么"), ("咋", "怎么"),
    ("哪些", "什么"), ("啥", "什么"),
    ("请问", ""), ("主播", ""),
)


def question_key(text: str) -> str:
    """A comparison key: width-folded, lower-case, no punctuation or trailing
    particles, colloquial question words folded."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _PUNCT_OR_SPACE.sub("", t)
    for word, folded in _SAME_ASKING:
        t = t.replace(word, folded)
    return _TRAILING_PARTICLES.sub("", t)


def stable_id_for(domain_slug: str, question: str) -> str:
    """An id for an imported row that has none: stable while its question is."""
    digest = hashlib.sha1(question_key(question).encode("utf-8")).hexdigest()[:10]
    return f"{domain_slug}-q{digest}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an entry or a bank, located for the person who fixes it."""

    where: str  # e.g. "bank.csv row 12" or "entry yibao-0003"
    column: str  # the field, or "" for the whole row
    message: str

    def __str__(self) -> str:
        col = f", column {self.column}" if self.column else ""
        return f"{self.where}{col}: {self.message}"


def validate_entry(data: dict[str, Any], where: str) -> tuple[Entry | None, list[Problem]]:
    """Build an :class:`Entry` from ``data`` or say, per field, what is wrong."""
    try:
        return Entry.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            column = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) if err["loc"] else ""
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(where, column, msg))
        return None, problems


_NUMERAL_OR_NEGATION = set("0123456789零一二三四五六七八九十百千万两半不没未非无")


def _one_edit(a: str, b: str) -> set[str] | None:
    """The characters changed when two keys are one edit apart, else None."""
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 6 or a == b:
        return None
    # Find the single differing position (substitution, insertion or deletion).
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return {a[i], b[i]} if a[i + 1 :] == b[i + 1 :] else None
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return {longer[i]} if longer[i + 1 :] == shorter[i:] else None


def _near_identical(a: Entry, ka: str, b: Entry, kb: str) -> bool:
    """Two canonical questions one edit apart that ask the same thing.

    One character can still change the question: a numeral or negation
    (一级/二级建造师), or a character that tells two items apart
    (二手房过户 / 二手车过户, 兼职/专职律师执业许可).
    """
    changed = _one_edit(ka, kb)
    if changed is None or changed & _NUMERAL_OR_NEGATION:
        return False
    if a.item != b.item and changed & (set(question_key(a.item)) ^ set(question_key(b.item))):
        return False
    return True


def _deletion_variants(key: str) -> set[str]:
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def check_bank(entries: list[Entry]) -> list[Problem]:
    """Bank-wide rules: unique ids, no question asked twice, no near-identical
    questions that lead to different answers."""
    problems: list[Problem] = []
    seen_ids: dict[str, int] = {}
    for e in entries:
        if e.id in seen_ids:
            problems.append(Problem(f"entry {e.id}", "id", "id is used by more than one entry"))
        seen_ids[e.id] = 1

    # Every phrasing (canonical or similar) must lead to exactly one entry.
    owner: dict[str, Entry] = {}
    for e in entries:
        for text in e.all_questions():
            k = question_key(text)
            other = owner.get(k)
            if other is not None and other.id != e.id:
                problems.append(
                    Problem(f"entry {e.id}", "question", f"question {text!r} is also asked by entry {other.id}")
                )
            owner.setdefault(k, e)

    # Near-identical canonical questions with different answers make the bank
    # ambiguous. Symmetric-deletion blocking keeps this linear in bank size.
    by_variant: dict[str, list[tuple[str, Entry]]] = {}
    for e in entries:
        k = question_key(e.question)
        for v in _deletion_variants(k):
            by_variant.setdefault(v, []).append((k, e))
    reported: set[tuple[str, str]] = set()
    for group in by_variant.values():
        if len(group) < 2:
            continue
        for i, (ka, ea) in enumerate(group):
            for kb, eb in group[i + 1 :]:
                pair = tuple(sorted((ea.id, eb.id)))
                if ea.id == eb.id or pair in reported or ka == kb:
                    continue  # exact repeats are reported above
                if ea.answer != eb.answer and _near_identical(ea, ka, eb, kb):
                    reported.add(pair)
                    problems.append(
                        Problem(
                            f"entry {pair[0]}",
                            "question",
                            f"near-identical to the question of entry {pair[1]} but answered differently: "
                            f"{ea.question!r} / {eb.question!r}",
                        )
                    )
    return problems
