"""The decision stage and the threshold fitting, without the model."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from assistant.bank.schema import Entry
from assistant.match.decide import CONFIDENCE_FEATURES, Thresholds, decide
from assistant.match.fit import coverage_threshold, expected_error_threshold, youden_threshold
from assistant.match.intent import decisive_rule, signals
from assistant.match.linear import LinearModel
from assistant.match.rerank import Ranked
from assistant.match.retrieve import Candidate
from assistant.normalize.text import normalize_comment

TODAY = dt.date(2026, 11, 22)


def entry(valid_until=None) -> Entry:
    return Entry(
        id="yibao-t001",
        domain="医疗保障",
        item="异地就医备案",
        aspect="办理流程",
        question="异地就医怎么备案？",
        similar_questions=["外地看病要备案吗", "异地住院怎么报销"],
        answer="可以在国家医保服务平台APP办理异地就医备案，备案后可直接结算。",
        department="市医疗保障局",
        source="国家医保局",
        updated_at=dt.date(2026, 1, 1),
        valid_until=valid_until,
    )


def ranked(scores=(3.0, -1.0)):
    ids = ["yibao-t001", "yibao-t002"]
    return [Ranked(Candidate(i, 0.03, 0.95 - 0.02 * n, 10.0 - n, n + 1, n + 1, "q"), s, 1.0, 1.0) for n, (i, s) in enumerate(zip(ids, scores))]


@pytest.fixture
def always_confident() -> LinearModel:
    """P(right) = sigmoid(top score): 0.95 at 3, 0.57 at 0.3, 0.05 at -3."""
    return LinearModel(
        feature_names=list(CONFIDENCE_FEATURES),
        classes=["False", "True"],
        mean=[0] * 6,
        scale=[1] * 6,
        coef=[[1, 0, 0, 0, 0, 0]],
        intercept=[0],
    )


def test_questions_are_answered_suggested_or_filed_by_the_fitted_thresholds(always_confident):
    t = Thresholds(answer=0.9, suggest=0.3)
    kw = dict(confidence_model=always_confident, thresholds=t, today=TODAY)
    assert decide("question", ranked((3.0, -1.0)), [entry(), None], **kw).decision == "answer"
    assert decide("question", ranked((0.3, 0.2)), [entry(), None], **kw).decision == "suggest"
    low = decide("question", ranked((-3.0, -3.5)), [entry(), None], **kw)
    assert low.decision == "workorder" and low.confidence < 0.3


@pytest.mark.parametrize("intent,decision", [("request", "workorder"), ("complaint", "workorder"), ("chitchat", "ignore"), ("spam", "ignore"), ("abuse", "ignore")])
def test_intent_overrides_a_confident_match(always_confident, intent, decision):
    out = decide(intent, ranked((3.0, -1.0)), [entry(), None], confidence_model=always_confident, thresholds=Thresholds(answer=0.5, suggest=0.1), today=TODAY)
    assert out.decision == decision


def test_an_expired_entry_is_never_answered(always_confident):
    kw = dict(confidence_model=always_confident, thresholds=Thresholds(answer=0.5, suggest=0.1))
    assert decide("question", ranked(), [entry(valid_until=TODAY), None], today=TODAY, **kw).decision == "answer"  # last valid day
    out = decide("question", ranked(), [entry(valid_until=TODAY - dt.timedelta(days=1)), None], today=TODAY, **kw)
    assert out.decision == "workorder" and "expired" in out.reason


def test_an_uncalibrated_matcher_only_suggests():
    out = decide("question", ranked(), [entry(), None], confidence_model=None, thresholds=Thresholds(answer=None, suggest=0.0), today=TODAY)
    assert out.decision == "suggest"


def test_no_candidates_is_a_work_order():
    out = decide("question", [], [], confidence_model=None, thresholds=Thresholds(answer=None, suggest=0.0), today=TODAY)
    assert out.decision == "workorder"


def test_answer_threshold_keeps_the_expected_error_within_target():
    probs = [0.999, 0.995, 0.99, 0.97, 0.95, 0.80, 0.50]
    # mean error of the top 3 = (0.001+0.005+0.01)/3 ≈ 0.0053; adding 0.97 → 0.0115
    assert expected_error_threshold(probs, 0.01) == 0.99
    assert expected_error_threshold(probs, 0.02) == 0.95  # top 5: 0.017
    assert expected_error_threshold([0.9, 0.8], 0.01) is None
    # Equal probabilities are answered together or not at all.
    assert expected_error_threshold([0.995, 0.98, 0.98], 0.01) == 0.995


def test_youden_and_coverage_thresholds():
    t, j = youden_threshold([0.9, 0.8, 0.4, 0.3], [True, True, False, False])
    assert (t, j) == (0.8, 1.0)
    assert coverage_threshold([0.5, 0.9, 0.7], 2) == 0.7
    assert coverage_threshold([0.5, 0.9], 0) > 0.9


def test_linear_model_round_trips_through_json():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] > 0, "a", np.where(X[:, 1] > 0, "b", "c"))
    model = LinearModel.fit(X, y, feature_names=["x", "y", "z"])
    again = LinearModel.model_validate(json.loads(model.model_dump_json()))
    np.testing.assert_allclose(model.probability(X), again.probability(X), rtol=1e-6)
    assert (np.array(model.classes)[again.probability(X).argmax(axis=1)] == y).mean() > 0.9
    with pytest.raises(ValueError, match="expected 3 features"):
        LinearModel.fit(X[:, :2], y, feature_names=["x", "y", "z"])


@pytest.mark.parametrize(
    "text,intent",
    [
        ("加薇信领补贴 名额有限", "spam"),
        ("社保代缴 详情看 www.example-shebao.com", "spam"),
        ("vx: abc12345 办证", "spam"),
        ("🌹🌹🌹👍", "chitchat"),
        ("666666", "chitchat"),
        ("[比心][比心]", "chitchat"),
        ("你们这些狗官", "abuse"),
        ("医保卡丢了怎么补办", None),  # left to the classifier
        ("垃圾分类怎么投放", None),  # 垃圾 alone is not abuse
    ],
)
def test_decisive_rules(text, intent):
    assert decisive_rule(normalize_comment(text)) == intent


def test_signals_see_personal_cases_and_complaints():
    s = signals(normalize_comment("帮我查一下我的公积金提取到哪一步了 电话13912345678"))
    assert s["personal_case"] and s["personal_number"] and not s["complaint"]
    s = signals(normalize_comment("窗口态度太差了 跑了三趟都没办成"))
    assert s["complaint"] and not s["personal_case"]
