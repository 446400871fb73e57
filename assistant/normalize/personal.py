"""Personal numbers in a viewer's words, in whatever form they are typed, and text made safe for screens.

Viewers type their phone number the way they like: full-width
(``１３８１２３４５６７８``), grouped (``138-1234-5678``, ``138 1234 5678``),
split by emoji or punctuation to get past a platform's filter
(``138😀1234😀5678``, ``138.1234.5678``), or spoken out in Chinese digits
(``幺三八一二三四五六七八``). The masker looks for numbers in a folded copy of
the text (NFKC: full-width → half-width, circled and keycap digits →
digits) and maps what it finds back to the viewer's own characters, so the
display keeps every other word as typed.

Found, masked, and returned unmasked for the work order only:

- ``id_number``: an 18-character resident ID (birth date inside, X/x check
  character), contiguous or grouped (6-8-4, 6-4-4-4);
- ``mobile``: 11 digits 1[3-9]…, optionally +86/0086, grouped 3-4-4 and the
  like, split by separators, or spoken out in Chinese digits;
- ``bank_card``: 16–19 digits, contiguous or in groups of four;
- ``landline``: an area code and 7–8 digits (0731-8888 8888), or 7–8 digits
  right after 电话/座机;
- ``wechat`` / ``qq``: the handle given after 微信(号)/vx/wx/QQ(号).

Ordinary policy text is left alone: years, dates, amounts (a number before
元/万/%/年… is never a personal number), short numbers, the 12345 hotline,
6-digit postcodes, document numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KINDS = ("id_number", "mobile", "landline", "bank_card", "wechat", "qq")


@dataclass(frozen=True)
class PersonalNumber:
    kind: str  # one of KINDS
    value: str  # unmasked, readable: half-width, the viewer's grouping kept ("0731-8888 8888"), emoji and dots dropped
    masked: str  # what screens show instead


# -- characters ------------------------------------------------------------------

# Zero-width joiner is kept (it joins emoji); every other format control goes,
# the bidi overrides and isolates among them (U+202A–U+202E, U+2066–U+2069,
# U+200E/U+200F, U+061C), which could reverse a card on air.
_KEPT_FORMAT = frozenset("\u200d")


def safe_characters(text: str) -> str:
    """``text`` without control, format (bidi) or lone-surrogate characters; line and paragraph separators become spaces."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\n\t":
            continue
        if (cat == "Cf" and ch not in _KEPT_FORMAT) or cat == "Cs":
            continue
        out.append(" " if cat in ("Zl", "Zp") else ch)
    return "".join(out)


# Chinese digits, as a number is read out (幺 for 1, 两 for 2, 洞 for 0 and 拐/勾 for 7/9 as on the radio)
# and in their financial forms. Only mobile numbers are looked for in them.
_CHINESE_DIGITS = {
    **dict.fromkeys("〇零洞", "0"), **dict.fromkeys("一幺壹", "1"), **dict.fromkeys("二两贰貳", "2"), **dict.fromkeys("三叁參", "3"),
    **dict.fromkeys("四肆", "4"), **dict.fromkeys("五伍", "5"), **dict.fromkeys("六陆陸", "6"), **dict.fromkeys("七拐柒", "7"),
    **dict.fromkeys("八捌", "8"), **dict.fromkeys("九勾玖", "9"),
}
_EMOJI_PARTS = frozenset("\u200d\ufe0f\ufe0e\u20e3")


def _is_separator(ch: str) -> bool:
    """What may stand between the digit groups of one number: spaces, punctuation, symbols, emoji."""
    if ch in _EMOJI_PARTS or ch in "\n\t\r":
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "PZ" or cat in ("So", "Sk", "Sm", "Mn", "Me")


def _fold(text: str) -> tuple[str, list[int]]:
    """NFKC per character (full-width, circled, keycap and other decimal digits → ASCII) and, for each folded
    character, the index of the character of ``text`` it came from."""
    folded: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text):
        f = unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch
        if len(f) == 1 and not f.isascii() and unicodedata.category(f) == "Nd":
            f = str(unicodedata.decimal(f))  # Arabic-Indic, Devanagari… digits
        folded.append(f)
        source.extend([i] * len(f))
    return "".join(folded), source


def _skeleton(folded: str, *, chinese_digits: bool) -> str:
    """One character per folded character: the digit, X for x/X, _ for a separator, a for another letter, # for the rest."""
    out = []
    for ch in folded:
        if "0" <= ch <= "9":
            out.append(ch)
        elif ch in "Xx":
            out.append("X")
        elif chinese_digits and ch in _CHINESE_DIGITS:
            out.append(_CHINESE_DIGITS[ch])
        elif ch.isascii() and ch.isalpha():
            out.append("a")
        elif _is_separator(ch):
            out.append("_")
        else:
            out.append("#")
    return "".join(out)


# -- numbers ---------------------------------------------------------------------

_GROUP = re.compile(r"[0-9]+(?:X(?![0-9aX]))?")
_MAX_GAP = 8  # separator characters between two groups of one number (an emoji can be 7 code points)
_ID_NUMBER = re.compile(r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")
# A number right before one of these is an amount, a count or a date, never a personal number.
_UNITS = frozenset("元块万亿%‰年月日岁倍个次")
_CURRENCY = frozenset("¥￥$€£")
_LIST_PUNCTUATION = frozenset("、,，;；")
# A long number after these words is the case's own number (受理号, 工单号…), not a card: staff need to see it.
_CASE_NUMBER_BEFORE = re.compile(r"(?:受理|编|单|案|流水|业务|申请|回执|登记|证书|合同|发票|批次|项目|档案|快递|运单)(?:号码?|编号)[是为:：\s]{0,3}$")
_LANDLINE_AFTER_WORD = re.compile(r"(?:电话|座机|固话)(?:号码?)?[是为:：\s]{0,3}([2-9]\d{6,7})(?!\d)")


@dataclass(frozen=True)
class _Found:
    start: int  # in the folded text
    end: int
    kind: str
    digits: str


def _shape_ok(kind: str, sizes: list[int], *, prefixed: bool, gaps: tuple[str, ...] = ()) -> bool:
    """Whether the digit groups (their sizes, the separators between them) look like the way such a number is written,
    and not like a list of numbers (2018-0051、2018-0052)."""
    if prefixed:  # 86 / 0086 in front of a mobile number
        sizes, gaps = sizes[1:], gaps[1:]
    if len(sizes) == 1:
        return True
    if len(set(gaps)) > 1 and any(ch in _LIST_PUNCTUATION for gap in gaps for ch in gap):
        return False  # "0051、2018-0052": items of a list, not the groups of one number
    if kind == "mobile":
        return (len(sizes) <= 4 and min(sizes) >= 3) or (len(sizes) == 11 and max(sizes) == 1)
    if kind == "id_number":
        return len(sizes) <= 5 and min(sizes) >= 3
    if kind == "bank_card":
        return all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4 and len(set(gaps)) == 1
    if kind == "landline":
        return len(sizes) <= 3 and min(sizes) >= 3
    return False


def _classify(digits: str, sizes: list[int], gaps: tuple[str, ...]) -> list[str]:
    """The kinds ``digits`` (in groups of ``sizes`` with ``gaps`` between them) can be."""
    if "X" in digits[:-1]:
        return []
    out = []
    if len(digits) == 18 and _ID_NUMBER.fullmatch(digits) and _shape_ok("id_number", sizes, prefixed=False, gaps=gaps):
        out.append("id_number")
    if digits.endswith("X"):
        return out
    for prefix in ("", "86", "0086"):
        if digits.startswith(prefix) and _MOBILE.fullmatch(digits[len(prefix):]):
            # +86 as its own group (+86 138…) or run together with the number (+86138…)
            prefixed = bool(prefix) and len(sizes) > 1 and sizes[0] == len(prefix)
            if (not prefix or prefixed or len(sizes) == 1) and _shape_ok("mobile", sizes, prefixed=prefixed, gaps=gaps):
                out.append("mobile")
    if 16 <= len(digits) <= 19 and _shape_ok("bank_card", sizes, prefixed=False, gaps=gaps):
        out.append("bank_card")
    if 10 <= len(digits) <= 12 and _LANDLINE.fullmatch(digits) and _shape_ok("landline", sizes, prefixed=False, gaps=gaps):
        out.append("landline")
    return out


def _is_amount_or_date(folded: str, start: int, end: int) -> bool:
    decimals = re.match(r"\.\d{1,4}", folded[end:end + 5])
    after = folded[end + (decimals.end() if decimals else 0):][:1]
    before = folded[max(0, start - 2):start].rstrip(" ")
    return (after != "" and after in _UNITS) or (before != "" and before[-1] in _CURRENCY)


_PRIORITY = {"id_number": 0, "mobile": 1, "bank_card": 2, "landline": 3}


def _numbers_in(skeleton: str, folded: str, *, needs_chinese: bool) -> list[_Found]:
    groups = list(_GROUP.finditer(skeleton))
    # Chains of groups with only separators (a few) between them: one number may be spread over a chain.
    chains: list[list[re.Match[str]]] = []
    for g in groups:
        if chains:
            last = chains[-1][-1]
            gap = skeleton[last.end():g.start()]
            if not last.group().endswith("X") and len(gap) <= _MAX_GAP and gap.strip("_") == "":
                chains[-1].append(g)
                continue
        chains.append([g])
    found: list[_Found] = []
    for chain in chains:
        i = 0
        while i < len(chain):
            # Of the numbers starting at group i: an ID, else a mobile (the shortest), else the longest card or landline.
            best: tuple[tuple[int, int], int, str, str] | None = None  # (rank, last group, kind, digits)
            digits = ""
            sizes: list[int] = []
            gaps: list[str] = []
            for j in range(i, min(len(chain), i + 11)):
                if j > i:
                    gaps.append(folded[chain[j - 1].end():chain[j].start()])
                digits += chain[j].group()
                sizes.append(len(chain[j].group()))
                if len(digits) > 23:
                    break
                if len(digits) < 10:  # shorter than any number looked for here
                    continue
                for kind in _classify(digits, sizes, tuple(gaps)):
                    start, end = chain[i].start(), chain[j].end()
                    if needs_chinese and not any(folded[k] in _CHINESE_DIGITS for k in range(start, end)):
                        continue
                    if needs_chinese and kind != "mobile":
                        continue
                    if kind != "id_number" and _is_amount_or_date(folded, start, end):
                        continue
                    if kind == "bank_card" and _CASE_NUMBER_BEFORE.search(folded, max(0, start - 8), start):
                        continue
                    rank = (_PRIORITY[kind], j if kind in ("id_number", "mobile") else -j)
                    if best is None or rank < best[0]:
                        best = (rank, j, kind, digits)
            if best is None:
                i += 1
                continue
            _, j, kind, value_digits = best
            found.append(_Found(chain[i].start(), chain[j].end(), kind, value_digits))
            i = j + 1
    return found


# -- handles ---------------------------------------------------------------------

_WECHAT = re.compile(
    r"(?<![a-z])(?P<kw>微信号|微信|威信|薇信|徽信|维信|wei信|v信|vx|wx|weixin|wechat)(?:号|id)?(?P<gap>[ :：=是为]{0,4})"
    r"(?P<handle>[a-z][-_a-z0-9]{5,19}|\d{6,12})(?![-_a-z0-9])",
    re.IGNORECASE,
)
_WEAK_WECHAT = frozenset({"微信", "weixin", "wechat"})  # the app's name, often said without giving a handle
_QQ = re.compile(r"(?<![a-z])(?P<kw>qq|扣扣|企鹅)(?:号码|号)?(?P<gap>[ :：=是为]{0,4})(?P<handle>[1-9]\d{4,11})(?!\d)", re.IGNORECASE)


def _handles_in(folded: str, taken: list[tuple[int, int]]) -> list[_Found]:
    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    found = []
    for m in _WECHAT.finditer(folded):
        handle = m.group("handle")
        if m.group("kw").lower() in _WEAK_WECHAT and not re.search(r"[:：=是为]", m.group("gap")) \
                and not re.search(r"[-_0-9]", handle) and not re.search(r"加|联系|我|私", folded[max(0, m.start() - 4):m.start()]):
            continue  # "微信 update 了吗": the app, not a handle
        if free(m.start("handle"), m.end("handle")):
            found.append(_Found(m.start("handle"), m.end("handle"), "wechat", handle))
    for m in _QQ.finditer(folded):
        if free(m.start("handle"), m.end("handle")):
            found.append(_Found(m.start("handle"), m.end("handle"), "qq", m.group("handle")))
    return found


# -- masking ---------------------------------------------------------------------

_KEEP = {"id_number": (6, 4), "mobile": (3, 4), "landline": (4, 2), "bank_card": (4, 4)}


def _masked(kind: str, digits: str) -> str:
    if kind in ("wechat", "qq"):
        keep = 2 if len(digits) >= 8 else 1
        return digits[:keep] + "*" * (len(digits) - 2 * keep) + digits[-keep:]
    if kind == "mobile":
        digits = digits[-11:]  # without +86
    head, tail = _KEEP[kind]
    if kind == "landline" and len(digits) < 10:
        head = 2  # no area code: 88****55
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[-tail:]


def _readable(kind: str, folded_span: str) -> str:
    """The unmasked value for the work order: half-width digits, the viewer's spaces and dashes kept."""
    if kind in ("wechat", "qq"):
        return folded_span
    text = "".join(_CHINESE_DIGITS.get(ch, ch) for ch in folded_span)
    text = re.sub(r"[^0-9Xx+\- ]", "", text)
    return re.sub(r" {2,}", " ", text).strip(" -")


def find_personal_numbers(text: str) -> list[tuple[int, int, PersonalNumber]]:
    """Every personal number in ``text``: (start, end, number), in ``text``'s own indices, in order, not overlapping."""
    folded, source = _fold(text)
    found = _numbers_in(_skeleton(folded, chinese_digits=False), folded, needs_chinese=False)
    taken = [(f.start, f.end) for f in found]
    for f in _LANDLINE_AFTER_WORD.finditer(folded):
        if all(f.end(1) <= a or f.start(1) >= b for a, b in taken) and not _is_amount_or_date(folded, f.start(1), f.end(1)):
            found.append(_Found(f.start(1), f.end(1), "landline", f.group(1)))
            taken.append((f.start(1), f.end(1)))
    # Chinese digits: only where nothing was found already, only mobile numbers.
    chinese = list(_skeleton(folded, chinese_digits=True))
    for a, b in taken:
        chinese[a:b] = "#" * (b - a)
    found += _numbers_in("".join(chinese), folded, needs_chinese=True)
    found += _handles_in(folded, [(f.start, f.end) for f in found])
    out = []
    for f in sorted(found, key=lambda f: f.start):
        start = f.start - 1 if f.kind in ("mobile", "landline") and f.start > 0 and folded[f.start - 1] == "+" else f.start
        end = f.end
        while end < len(folded) and folded[end] in _EMOJI_PARTS and f.kind not in ("wechat", "qq"):
            end += 1  # the keycap of the last digit (8️⃣)
        number = PersonalNumber(f.kind, _readable(f.kind, folded[start:f.end]), _masked(f.kind, f.digits))
        out.append((source[start], source[end - 1] + 1, number))
    return out


def replace_found(text: str, found: list[tuple[int, int, PersonalNumber]], replacement: str | None = None) -> str:
    """``text`` with each number of ``found`` (from :func:`find_personal_numbers`) masked, or replaced by ``replacement``."""
    parts, at = [], 0
    for start, end, number in found:
        parts += [text[at:start], number.masked if replacement is None else replacement]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def mask_personal_numbers(text: str) -> tuple[str, list[PersonalNumber]]:
    """``text`` with each personal number replaced by its masked form, and the numbers found."""
    found = find_personal_numbers(text)
    return replace_found(text, found), [n for _, _, n in found]


# -- nicknames -------------------------------------------------------------------

NICKNAME_MAX_CHARS = 24


def normalize_nickname(nickname: str | None, *, max_chars: int = NICKNAME_MAX_CHARS) -> str | None:
    """A nickname safe for every screen: personal numbers masked, no control or bidi characters, one line,
    at most ``max_chars`` characters (cut with …). None when nothing is left."""
    if nickname is None:
        return None
    # Only the start can be shown: a 100,000-character nickname costs no more than a short one.
    name = safe_characters(nickname[:max_chars * 8])
    name, _ = mask_personal_numbers(name)
    name = re.sub(r"\s+", " ", name).strip()
    if len(name) > max_chars:
        name = name[:max_chars - 1].rstrip() + "…"
    return name or None
