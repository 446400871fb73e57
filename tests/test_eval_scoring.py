"""How `govlive eval` scores a system: several acceptable entries, item-level top-1, false answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.bank.store import AnswerBank
from assistant.match.evaluate import score_system
from assistant.match.labelled import LabelledComment, LabelledFileError, read_labelled

ROOT = Path(__file__).resolve().parents[1]
# Two entries of one 事项 (个体工商户设立登记) and one of another (个体工商户变更登记).
SETUP_A, SETUP_B, CHANGE = "shichang-0001", "shichang-0002", "shichang-0012"


@pytest.fixture(scope="module")
def bank() -> AnswerBank:
    return AnswerBank.load(ROOT / "corpus" / "bank")


def test_either_of_two_acceptable_entries_counts_and_item_level_counts_the_other_aspect(bank):
    assert bank.get(SETUP_A).item == bank.get(SETUP_B).item != bank.get(CHANGE).item
    rows = [
        LabelledComment(text="a", intent="question", entry_ids=[SETUP_A, SETUP_B]),
        LabelledComment(text="b", intent="question", entry_ids=[SETUP_A]),  # only A is right: B is the item's other aspect
        LabelledComment(text="c", intent="question", entry_ids=[SETUP_A]),
        LabelledComment(text="d", intent="chitchat"),
    ]
    ranked = [[SETUP_B, CHANGE], [SETUP_B, SETUP_A], [CHANGE, SETUP_A], [SETUP_A]]
    answered = [True, True, False, True]
    s = score_system("x", rows, ranked, answered, bank)
    assert s.top1 == pytest.approx(1 / 3, abs=1e-4)  # only the first: B is acceptable there
    assert s.item_top1 == pytest.approx(2 / 3, abs=1e-4)  # the second is the right 事项, wrong aspect
    assert s.recall_at_5 == 1.0 and s.mrr == pytest.approx((1 + 1 / 2 + 1 / 2) / 3, abs=1e-4)
    # Answered: the first (right), the second (B where only A is right: wrong), the chitchat (wrong).
    assert (s.answers, s.false_answers) == (3, 2)
    assert s.ignorable_answered == 1


def test_a_single_gold_and_a_list_are_the_same_label():
    assert LabelledComment(text="a", intent="question", entry_id=SETUP_A).gold == {SETUP_A}
    both = LabelledComment(text="a", intent="question", entry_ids=[SETUP_B, SETUP_A])
    assert both.entry_id == SETUP_B and both.gold == {SETUP_A, SETUP_B}
    with pytest.raises(ValueError, match="not among entry_ids"):
        LabelledComment(text="a", intent="question", entry_id=CHANGE, entry_ids=[SETUP_A])


def test_the_independent_sets_read_as_labelled_files():
    rows = read_labelled(ROOT / "corpus" / "eval" / "viewers-test.jsonl")
    assert len(rows) == 150 and sum(1 for r in rows if r.gold) == 98
    assert any(len(r.gold) > 1 for r in rows)


def test_a_bad_entry_ids_value_is_a_clear_error(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "x", "intent": "question", "entry_ids": "shichang-0001"}\n', encoding="utf-8")
    with pytest.raises(LabelledFileError, match="entry_ids"):
        read_labelled(f)
