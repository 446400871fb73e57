"""The entry rules and the bank-wide rules."""

from __future__ import annotations

import pytest

from assistant.bank.schema import Entry, check_bank, question_key, speakability_problems, stable_id_for, validate_entry


def entry_data(**overrides):
    data = {
        "id": "yibao-9001",
        "domain": "医疗保障",
        "item": "异地就医备案",
        "aspect": "所需材料",
        "question": "办理异地就医备案需要什么材料？",
        "similar_questions": ["异地就医备案要带啥", "在外地看病备案要准备啥"],
        "answer": "一般只需本人医保电子凭证或社会保障卡。",
        "answer_detail": "",
        "department": "市医疗保障局",
        "complexity": "ordinary",
        "source": "测试依据",
        "updated_at": "2026-11-01",
        "valid_until": None,
        "city_specific": False,
    }
    data.update(overrides)
    return data


def problems_for(**overrides):
    entry, problems = validate_entry(entry_data(**overrides), "test")
    assert entry is None, "expected the entry to be rejected"
    return problems


def test_valid_entry_passes():
    entry, problems = validate_entry(entry_data(), "test")
    assert problems == []
    assert entry.all_questions()[0] == "办理异地就医备案需要什么材料？"


@pytest.mark.parametrize(
    "field,value,fragment",
    [
        ("domain", "养猪", "unknown domain"),
        ("aspect", "随便问问", "unknown aspect"),
        ("complexity", "hard", "ordinary"),
        ("similar_questions", ["只有一个"], "at least 2"),
        ("similar_questions", ["异地就医备案要带啥", "异地就医备案要带啥？"], "repeat each other"),
        ("similar_questions", ["办理异地就医备案需要什么材料", "在外地看病备案要准备啥"], "repeats the canonical"),
        ("answer", "好" * 121, "at most 120"),
        ("answer", "详见https://www.gov.cn 的说明", "URL"),
        ("answer", "一般3-5个工作日办结", "number range"),
        ("answer", "请拨打12345咨询", "5 or more digits"),
        ("answer", "每人每年300元/年", "'/'"),
        ("answer", "①带身份证②带户口本", "circled"),
        ("answer", "**注意**带身份证", "markup"),
        ("answer", "第一行\n第二行", "control characters"),
        ("question", "异地就医\x00备案要带啥", "control characters"),
        ("id", "有 空格", "id must be"),
        ("updated_at", "2026-13-01", "date"),
        ("valid_until", "2020-01-01", "before updated_at"),
        ("question", "", "at least 2"),
        ("unexpected", "x", "Extra inputs"),
    ],
)
def test_entry_rules(field, value, fragment):
    problems = problems_for(**{field: value})
    text = " ".join(str(p) for p in problems)
    assert fragment in text
    assert any(p.column == field for p in problems) or field == "similar_questions"


def test_complexity_accepts_chinese_words():
    entry, _ = validate_entry(entry_data(complexity="复杂"), "test")
    assert entry.complexity == "complex"


def test_speakability_accepts_plain_speech():
    assert speakability_problems("一般3到5个工作日办结，可拨打一二三四五热线咨询，费用为80元。") == []


def test_question_key_ignores_width_punctuation_and_particles():
    assert question_key("公积金能取吗？") == question_key("公积金能取")
    assert question_key("ＡＢＣ 公积金") == question_key("abc公积金")


def test_stable_id_depends_only_on_question():
    assert stable_id_for("yibao", "异地就医备案要带啥？") == stable_id_for("yibao", "异地就医备案要带啥")
    assert stable_id_for("yibao", "A问题") != stable_id_for("yibao", "B问题")


def make(i, **overrides):
    return Entry.model_validate(entry_data(id=f"t-{i}", **overrides))


def test_bank_rejects_duplicate_ids():
    a = make(1)
    b = make(1, question="另一个问题是什么呢", similar_questions=["另一个1", "另一个2"])
    assert any("more than one entry" in str(p) for p in check_bank([a, b]))


def test_bank_rejects_a_question_asked_by_two_entries():
    a = make(1)
    b = make(2, question="异地就医备案在哪里办理？", similar_questions=["异地就医备案要带啥", "去哪备案"])
    problems = check_bank([a, b])
    assert any("also asked by entry t-1" in str(p) for p in problems)


def test_bank_rejects_near_identical_questions_with_different_answers():
    a = make(1, question="异地就医备案需要准备什么材料", similar_questions=["x1是啥", "x2是啥"])
    b = make(2, question="异地就医备案需要准备哪些材料", similar_questions=["y1是啥", "y2是啥"], answer="另一种答案。")
    # 什么/哪些 ask the same thing: folded, so b repeats a's question
    assert any("also asked by entry t-1" in str(p) for p in check_bank([a, b]))
    c = make(3, question="异地就医备案需要准备什么材料呀呢", similar_questions=["z1是啥", "z2是啥"], answer="第三种答案。")
    d = make(4, question="异地就医备案需要准备些什么材料", similar_questions=["w1是啥", "w2是啥"], answer="第四种答案。")
    problems = check_bank([a, d])
    assert any("near-identical" in str(p) for p in problems), problems
    # trailing particles are ignored entirely, so c repeats a's question
    assert any("also asked" in str(p) for p in check_bank([a, c]))


def test_near_identical_allows_numerals_and_distinct_items():
    a = make(1, item="一级建造师注册", question="一级建造师注册需要什么材料", similar_questions=["a1是啥", "a2是啥"])
    b = make(2, item="二级建造师注册", question="二级建造师注册需要什么材料", similar_questions=["b1是啥", "b2是啥"], answer="另一种。")
    c = make(3, item="兼职律师执业许可", question="兼职律师执业许可需要什么材料", similar_questions=["c1是啥", "c2是啥"], answer="第三种。")
    d = make(4, item="专职律师执业许可", question="专职律师执业许可需要什么材料", similar_questions=["d1是啥", "d2是啥"], answer="第四种。")
    e = make(5, item="二手房买卖过户", question="二手房过户需要满足什么条件", similar_questions=["e1是啥", "e2是啥"], answer="第五种。")
    f = make(6, item="二手车过户", question="二手车过户需要满足什么条件", similar_questions=["f1是啥", "f2是啥"], answer="第六种。")
    assert check_bank([a, b, c, d, e, f]) == []


def test_validity_window():
    import datetime as dt

    e = make(1, valid_until="2026-12-31")
    assert e.is_valid_on(dt.date(2026, 12, 31))
    assert not e.is_valid_on(dt.date(2027, 1, 1))
