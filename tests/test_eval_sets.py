"""The labelled comment sets in corpus/eval stay consistent with the bundled bank."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.bank.schema import question_key
from assistant.bank.store import AnswerBank

ROOT = Path(__file__).resolve().parents[1]
INTENTS = {"question", "request", "complaint", "chitchat", "spam", "abuse"}


@pytest.fixture(scope="module")
def bank() -> AnswerBank:
    return AnswerBank.load(ROOT / "corpus" / "bank")


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "corpus" / "eval" / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name,minimum", [("dev.jsonl", 500), ("test.jsonl", 200)])
def test_eval_set_is_well_formed(bank, name, minimum):
    rows = load(name)
    assert len(rows) >= minimum
    assert len({r["id"] for r in rows}) == len(rows)
    # Chitchat repeats in a real stream (来了来了, 666); nothing else should.
    substantive = [r["text"] for r in rows if r["intent"] != "chitchat"]
    assert len(set(substantive)) == len(substantive)
    bank_questions = {question_key(q) for e in bank.entries for q in e.all_questions()}
    for r in rows:
        assert r["intent"] in INTENTS, r
        if r["entry_id"] is not None:
            assert r["intent"] == "question", r
            assert r["entry_id"] in bank, f"{r['id']}: gold {r['entry_id']} is not in the bank"
        # A comment that copies a bank question would measure nothing.
        assert question_key(r["text"]) not in bank_questions, r
    intents = Counter(r["intent"] for r in rows)
    assert set(intents) == INTENTS
    golds = [r for r in rows if r["entry_id"]]
    assert len(golds) / len(rows) > 0.5
    assert sum(1 for r in rows if r["intent"] == "question" and r["entry_id"] is None) >= 15


def test_dev_and_test_do_not_overlap():
    dev = {question_key(r["text"]) for r in load("dev.jsonl")}
    test = {question_key(r["text"]) for r in load("test.jsonl")}
    # Short chitchat such as 666 may repeat; no question may.
    shared = [r["text"] for r in load("test.jsonl") if question_key(r["text"]) in dev and r["intent"] == "question"]
    assert not shared, shared
    assert dev and test


def test_intent_training_set_is_well_formed_and_apart_from_the_eval_sets():
    rows = [json.loads(line) for line in (ROOT / "corpus" / "intent" / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    counts = Counter(r["intent"] for r in rows)
    assert set(counts) == INTENTS and min(counts.values()) >= 90
    fold = lambda t: "".join(ch for ch in t if ch.isalnum())  # noqa: E731
    eval_texts = {fold(r["text"]) for name in ("dev.jsonl", "test.jsonl") for r in load(name)}
    # Emoji-only chitchat folds to nothing and is compared as typed.
    assert not [r["text"] for r in rows if fold(r["text"]) and fold(r["text"]) in eval_texts]
    assert not {r["text"] for r in rows} & {r["text"] for name in ("dev.jsonl", "test.jsonl") for r in load(name)}
    assert len({r["text"] for r in rows}) == len(rows)


# -- the independent sets (issue 13): written blind, labelled afterwards ------------------------
BEIJING_CSV = ROOT.parent / "shared" / "data" / "raw" / "beijing-faq" / "QA_政务问答.csv"
INDEPENDENT_KEYS = {"id", "text", "intent", "more_questions", "style", "situation", "label_note"}


def _check_independent(rows: list[dict], gold_key: str, near_key: str, valid_gold) -> None:
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert INDEPENDENT_KEYS | {gold_key, near_key} == set(r), r
        assert r["intent"] in INTENTS, r
        golds = [*r[gold_key], *(g for q in r["more_questions"] for g in q[gold_key])]
        if r[gold_key]:
            assert r["intent"] == "question", r
        for g in golds + ([r[near_key]] if r[near_key] is not None else []):
            assert valid_gold(g), f"{r['id']}: gold {g!r} does not exist"
    intents = Counter(r["intent"] for r in rows)
    assert {"question", "request", "chitchat"} <= set(intents) and intents["question"] / len(rows) > 0.6


@pytest.mark.parametrize("name", ["viewers-dev.jsonl", "viewers-test.jsonl"])
def test_the_independent_viewer_sets_are_well_formed(bank, name):
    rows = load(name)
    assert len(rows) >= 140
    _check_independent(rows, "entry_ids", "near_item", lambda g: g in bank)
    questions = [r for r in rows if r["intent"] == "question"]
    out_of_bank = [r for r in questions if not r["entry_ids"]]
    assert 0.1 <= len(out_of_bank) / len(questions) <= 0.6  # a real share of questions the bank cannot answer
    bank_questions = {question_key(q) for e in bank.entries for q in e.all_questions()}
    # Written blind, a short question can still coincide with a bank phrasing (小产权房能办证吗): rare, not copied.
    assert len([r["text"] for r in rows if question_key(r["text"]) in bank_questions]) <= 3


@pytest.mark.parametrize("name", ["beijing-dev.jsonl", "beijing-test.jsonl"])
def test_the_beijing_sets_are_well_formed_and_hold_only_row_numbers(name):
    import csv

    if not BEIJING_CSV.exists():
        pytest.fail(f"the Beijing FAQ bank is not at {BEIJING_CSV}; ../shared must sit beside the checkout")
    with BEIJING_CSV.open(encoding="utf-8", newline="") as f:
        bank_rows = list(csv.DictReader(f))
    rows = load(name)
    assert len(rows) >= 70
    _check_independent(rows, "rows", "near_row", lambda g: isinstance(g, int) and 1 <= g <= len(bank_rows))
    # Nothing of the bank's own text is in the project: no 12-character run of a question or an answer.
    texts = {r["id"]: r["text"] + r["situation"] + r["label_note"] + "".join(q["text"] for q in r["more_questions"]) for r in rows}
    official = [row["用户问题"] for row in bank_rows] + [row["正文内容"] for row in bank_rows]
    runs = {t[i:i + 12] for t in official for i in range(0, max(0, len(t) - 11))}
    copied = {rid: t for rid, t in texts.items() if any(t[i:i + 12] in runs for i in range(0, max(0, len(t) - 11)))}
    assert not copied, copied


def test_the_independent_sets_share_nothing_with_the_project_sets():
    seen = {question_key(r["text"]) for name in ("dev.jsonl", "test.jsonl") for r in load(name)}
    for name in ("viewers-dev.jsonl", "viewers-test.jsonl", "beijing-dev.jsonl", "beijing-test.jsonl"):
        rows = load(name)
        assert not [r["text"] for r in rows if r["intent"] == "question" and question_key(r["text"]) in seen], name
    dev = {r["text"] for r in load("viewers-dev.jsonl")} | {r["text"] for r in load("beijing-dev.jsonl")}
    test = {r["text"] for r in load("viewers-test.jsonl")} | {r["text"] for r in load("beijing-test.jsonl")}
    assert not dev & test
