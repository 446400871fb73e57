"""Normalise a live comment: script, width, emoji, mentions, filler and personal numbers.

Two texts come out. ``for_matching`` is what the matcher sees: simplified,
half-width, without emoji, @mentions, filler or personal numbers.
``for_display`` is what any screen shows: the viewer's own words with
personal numbers (phone, ID, bank card, WeChat/QQ handle, in any of the forms
:mod:`assistant.normalize.personal` knows) masked, and without control or
bidi characters. The unmasked numbers are returned separately in
``personal_numbers`` so that only a work order (which needs to call the
citizen back) keeps them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from .personal import PersonalNumber, find_personal_numbers, replace_found, safe_characters

__all__ = ["NormalizedComment", "PersonalNumber", "normalize_comment"]


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


_MENTION = re.compile(r"@[^\s@,，:：]{1,20}")
# Platform emote codes such as [赞] [比心] [捂脸].
# HTML-like tags typed or pasted into a comment: shown as text, never matched on.
_SCRIPT_BLOCK = re.compile(r"<(script|style)\b[^>]{0,200}>.{0,2000}?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]{0,200})?/?>")
_EMOTE_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,4}\]")
_REPEATED_PUNCT = re.compile(r"([!?,.。，！？~～、…])\1+")
_SPACES = re.compile(r"\s+")
_LEADING_FILLER = re.compile(
    r"^(?:(?:主播|老师|小编|客服|工作人员|姐姐|小姐姐|哥哥|美女|大家)(?:们)?(?:好)?[,，:：!！ ]*)*"
    r"(?:(?:你好|您好|你们好|在吗|在不在)[,，!！ ]*)*"
    r"(?:(?:请问一下|请问|想问一下|想问下|问一下|问下|麻烦问一下|麻烦问下|我想问一下|我想问下|我想问)[,，:： ]*)?"
)
_TRAILING_FILLER = re.compile(r"[,，。 ]*(?:谢谢(?:主播|老师|你|您|大家)?|感谢(?:主播|老师)?|麻烦了|多谢)[!！。~～ ]*$")
_INNER_ADDRESS = re.compile(r"(?:^|[ ,，])(?:主播|老师|小编)(?=[ ,，]|$)")


@dataclass(frozen=True)
class NormalizedComment:
    original: str
    for_matching: str
    for_display: str
    personal_numbers: tuple[PersonalNumber, ...] = field(default=())

    @property
    def has_personal_numbers(self) -> bool:
        return bool(self.personal_numbers)


def _is_emoji_or_symbol(ch: str) -> bool:
    if ch in "\u200d\ufe0f\ufe0e\u20e3":  # joiners and variation selectors of emoji
        return True
    cat = unicodedata.category(ch)
    return cat in ("So", "Sk", "Cs", "Co", "Cn") or (cat == "Cc" and ch not in "\n\t")


def normalize_comment(text: str) -> NormalizedComment:
    original = text
    # Display text: only personal numbers masked and control and bidi characters dropped.
    safe = safe_characters(text)
    found = find_personal_numbers(safe)
    display = replace_found(safe, found)
    numbers = [n for _, _, n in found]
    # Masked numbers carry no meaning for matching.
    t = replace_found(safe, found, " ")

    t = unicodedata.normalize("NFKC", t)  # full-width → half-width
    t = _t2s().convert(t)
    t = _SCRIPT_BLOCK.sub(" ", t)
    t = _MARKUP.sub(" ", t)
    t = _EMOTE_CODE.sub(" ", t)
    t = "".join(" " if _is_emoji_or_symbol(ch) else ch for ch in t)
    t = _MENTION.sub(" ", t)
    t = re.sub(r"(?<![0-9Xx])[0-9Xx]*\*{3,}[0-9Xx]*", " ", t)  # numbers the viewer masked himself (linear: no retry inside a run)
    t = _SPACES.sub(" ", t).strip()
    t = _REPEATED_PUNCT.sub(r"\1", t)
    t = _LEADING_FILLER.sub("", t)
    t = _TRAILING_FILLER.sub("", t)
    t = _INNER_ADDRESS.sub(" ", t)
    t = _SPACES.sub(" ", t).strip(" ,，")
    return NormalizedComment(original=original, for_matching=t, for_display=display.strip(), personal_numbers=tuple(numbers))
