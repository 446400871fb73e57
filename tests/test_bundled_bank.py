"""The bundled bank in corpus/bank: size, coverage and the rules for every entry."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.bank.domains import DOMAIN_BY_NAME, DOMAINS
from assistant.bank.schema import ANSWER_MAX_CHARS, speakability_problems
from assistant.bank.store import AnswerBank

BUNDLED = Path(__file__).resolve().parents[1] / "corpus" / "bank"


@pytest.fixture(scope="module")
def bank() -> AnswerBank:
    # load() validates every entry and the bank-wide rules and raises on any problem.
    return AnswerBank.load(BUNDLED)


def test_at_least_4000_entries_and_150_per_domain(bank):
    assert len(bank) >= 4000
    counts = bank.counts_by_domain()
    assert set(counts) == {d.name for d in DOMAINS} and len(counts) == 16
    thin = {d: n for d, n in counts.items() if n < 150}
    assert not thin, f"domains under 150 entries: {thin}"


def test_files_and_ids_follow_the_domain(bank):
    for e in bank.entries:
        slug = DOMAIN_BY_NAME[e.domain].slug
        assert e.id.startswith(f"{slug}-"), e.id
    for path in BUNDLED.glob("*.jsonl"):
        domains = {json.loads(line)["domain"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
        assert [DOMAIN_BY_NAME[d].slug for d in domains] == [path.stem]


def test_answers_are_short_and_speakable(bank):
    for e in bank.entries:
        assert len(e.answer) <= ANSWER_MAX_CHARS
        assert speakability_problems(e.answer) == [], e.id


def test_items_have_several_aspects_rather_than_padding(bank):
    per_item = Counter((e.domain, e.item) for e in bank.entries)
    # Coverage comes from many items, and each entry says something of its own:
    # no answer is copied between entries.
    assert len(per_item) >= 600
    answers = Counter(e.answer for e in bank.entries)
    copied = [a for a, n in answers.items() if n > 1]
    assert not copied, copied[:3]


def test_items_viewers_ask_about_are_covered(bank):
    items = " ".join(e.item for e in bank.entries)
    for needle in ("异地就医", "灵活就业", "租房提取", "带押过户", "交房即交证", "驾驶证", "新生儿", "汇算", "育儿补贴", "帮办代办"):
        assert needle in items, needle


# Street addresses, local phone numbers (seven or more digits spoken one by
# one) and office hours are facts every city has its own of.
LOCAL_FACT = re.compile(r"[路街道]\d+号|[零一二三四五六七八九]{7,}|[上下]午[零一二三四五六七八九十\d]+点|\d+:\d\d")


def test_local_facts_are_marked(bank):
    flagged = [e for e in bank.entries if e.city_specific]
    assert len(flagged) >= 200
    unmarked = [e.id for e in bank.entries if LOCAL_FACT.search(e.answer) and not e.city_specific]
    assert not unmarked, f"entries state addresses, phone numbers or hours but are not city_specific: {unmarked}"


def test_dates_are_plausible(bank):
    today = dt.date.today()
    for e in bank.entries:
        assert e.updated_at <= today, e.id
        assert e.valid_until is None or e.valid_until >= e.updated_at
