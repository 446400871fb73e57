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
