"""Fit the matcher's learned parts on labelled comments; called by ``govlive index build``.

- The **intent classifier** learns from ``corpus/intent/train.jsonl``, bank
  phrasings as examples of questions, and the calibration comments.
- The **reranker** and the **confidence model** learn from the calibration
  set (``corpus/eval/dev.jsonl``). The confidence model is trained on
  out-of-fold reranker output, and the thresholds are chosen on out-of-fold
  confidences, so they reflect comments the models did not see.
- **Thresholds**: ``answer`` is the lowest confidence at which the answered
  questions of the calibration set are expected (by their out-of-fold
  probabilities) to be wrong at most the target rate of the time;
  ``suggest`` maximises Youden's J between "the right entry is in the top 5"
  and "it is not" (so out-of-bank questions fall to work orders).
- The **baselines** of ``govlive eval`` get their thresholds from the same
  data: each answers as many calibration comments as govlive does, so the
  comparison is of false answers at equal coverage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.bank.store import AnswerBank
from assistant.normalize.text import normalize_comment

from .decide import CONFIDENCE_FEATURES, Thresholds, confidence_features
from .intent import IntentClassifier
from .labelled import LabelledComment, file_sha256, read_labelled
from .linear import LinearModel
from .model import BaselineThresholds, CalibrationReport, FitProvenance, MatcherModel, SourceFile
from .rerank import coverages, fit_reranker, rerank
from .retrieve import HybridRetriever

CANDIDATE_DEPTH = 20
FOLDS = 5
BANK_QUESTION_EXAMPLES = 800
# Below this many usable labelled questions the thresholds would be noise:
# the matcher then suggests and never answers on its own.
MIN_CALIBRATION_QUESTIONS = 100


def expected_error_threshold(probabilities: Sequence[float], target: float) -> float | None:
    """Lowest t such that the items with P(right) ≥ t are, on average, wrong at most ``target`` of the time.

    Using the calibrated probabilities rather than counting the few wrong
    items keeps the cut stable: one unlucky comment near the top of a few
    hundred does not move it. The realised rate is reported beside it.
    """
    p = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    if not len(p):
        return None
    mean_error = np.cumsum(1.0 - p) / np.arange(1, len(p) + 1)
    ok = np.where(mean_error <= target)[0]
    if not len(ok):
        return None
    cut = int(ok.max())
    # Items tied with the cut are answered together or not at all.
    while cut + 1 < len(p) and p[cut + 1] == p[cut] and mean_error[cut + 1] > target:
        cut -= 1
        if cut < 0:
            return None
    return float(p[cut])


def coverage_threshold(scores: Sequence[float], answers: int) -> float:
    """The score at which ``answers`` of ``scores`` are at or above it (above all of them if 0)."""
    ordered = sorted(scores, reverse=True)
    if answers <= 0 or not ordered:
        return (ordered[0] if ordered else 0.0) + 1e-6
    return float(ordered[min(answers, len(ordered)) - 1])


def youden_threshold(scores: Sequence[float], positive: Sequence[bool]) -> tuple[float, float]:
    """The cut maximising TPR − FPR, and that J."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    if pos.all() or (~pos).all():
        return float(s.min()), 0.0
    best_t, best_j = float(s.min()), -1.0
    for t in np.unique(s):
        j = (s[pos] >= t).mean() - (s[~pos] >= t).mean()
        if j > best_j:
            best_t, best_j = float(t), float(j)
    return best_t, best_j


def _source(path: Path, rows: int) -> SourceFile:
    return SourceFile(path=str(path), sha256=file_sha256(path), rows=rows)


def fit_intent(index, embedder, intent_file: Path, calibration: Sequence[LabelledComment], calibration_vectors: np.ndarray) -> tuple[IntentClassifier, SourceFile, int]:
    """Intent from the intent training set, bank phrasings as questions, and the calibration comments.

    The calibration comments matter most: they are written the way viewers
    type (long, first-person, run-on), and without them long questions such as
    "我妈糖尿病十几年了 听说能办门特 具体咋申请" read as complaints
    (5-fold on dev: intent accuracy 0.86 without them, 0.94 with).
    """
    rows = read_labelled(intent_file)
    # Bank phrasings are what viewers ask, cleanly typed: an even spread of
    # them teaches "question" across every domain.
    step = max(1, len(index.row_texts) // BANK_QUESTION_EXAMPLES)
    bank_texts = index.row_texts[::step][:BANK_QUESTION_EXAMPLES]
    comments = [normalize_comment(t) for t in [r.text for r in rows] + bank_texts]
    vectors = embedder.encode_queries([c.for_matching for c in comments])
    comments += [normalize_comment(r.text) for r in calibration]
    vectors = np.vstack([vectors, calibration_vectors]) if len(calibration) else vectors
    labels = [r.intent for r in rows] + ["question"] * len(bank_texts) + [r.intent for r in calibration]
    classifier = IntentClassifier.fit(vectors, comments, labels)
    return classifier, _source(intent_file, len(rows)), len(bank_texts)


def _folds(n: int) -> list[np.ndarray]:
    return [np.arange(n)[np.arange(n) % FOLDS == k] for k in range(FOLDS)]


def fit_matcher(
    index,
    bank: AnswerBank,
    embedder,
    *,
    intent_file: Path,
    calibration_file: Path | None,
    target_false_answer_rate: float,
) -> MatcherModel:
    fitted_at = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    rows: list[LabelledComment] = read_labelled(calibration_file) if calibration_file else []
    all_comments = [normalize_comment(r.text) for r in rows]
    all_vectors = embedder.encode_queries([c.for_matching for c in all_comments]) if rows else np.zeros((0, 1))
    intent, intent_source, bank_examples = fit_intent(index, embedder, intent_file, rows, all_vectors)

    # Gold entries that this bank lacks (another city's bank) cannot teach anything.
    questions = [r for r in rows if r.intent == "question" and (r.entry_id is None or r.entry_id in bank)]
    with_gold = [r for r in questions if r.entry_id is not None]
    provenance = FitProvenance(
        calibration=_source(calibration_file, len(rows)) if calibration_file else None,
        intent_training=intent_source,
        bank_question_examples=bank_examples,
        target_false_answer_rate=target_false_answer_rate,
        fitted_at=fitted_at,
    )
    if len(with_gold) < MIN_CALIBRATION_QUESTIONS:
        return MatcherModel(
            candidate_depth=CANDIDATE_DEPTH,
            intent=intent.model,
            reranker=None,
            confidence=None,
            thresholds=Thresholds(answer=None, suggest=0.0),
            baselines=BaselineThresholds(dense_only=1.01, lexical_only=float("1e9")),
            provenance=provenance,
            calibration_report=None,
        )

    retriever = HybridRetriever(index, embedder)
    q_index = [i for i, r in enumerate(rows) if r.intent == "question" and (r.entry_id is None or r.entry_id in bank)]
    q_rows = [rows[i] for i in q_index]
    q_candidates = retriever.retrieve_by_vectors([all_comments[i].for_matching for i in q_index], all_vectors[q_index], CANDIDATE_DEPTH)
    q_overlap = [coverages(index, bank, all_comments[i].for_matching, c) for i, c in zip(q_index, q_candidates)]

    # Out-of-fold reranking: each comment ranked by a reranker that never saw it.
    oof_ranked: list = [None] * len(q_rows)
    for fold in _folds(len(q_rows)):
        in_fold = set(fold.tolist())
        train = [(q_candidates[i], q_overlap[i], q_rows[i].entry_id) for i in range(len(q_rows)) if i not in in_fold and q_rows[i].entry_id]
        model = fit_reranker(train)
        for i in fold:
            oof_ranked[i] = rerank(q_candidates[i], q_overlap[i], model)
    reranker = fit_reranker([(c, o, r.entry_id) for c, o, r in zip(q_candidates, q_overlap, q_rows) if r.entry_id])

    usable = [i for i, ranked in enumerate(oof_ranked) if ranked]
    conf_X = np.asarray([confidence_features(oof_ranked[i]) for i in usable])
    top_right = np.asarray([oof_ranked[i][0].candidate.entry_id == q_rows[i].entry_id for i in usable])
    in_top5 = np.asarray([q_rows[i].entry_id in {r.candidate.entry_id for r in oof_ranked[i][:5]} for i in usable])
    confidence = LinearModel.fit(conf_X, top_right, feature_names=CONFIDENCE_FEATURES)
    # Thresholds on out-of-fold confidences too.
    oof_conf = np.zeros(len(usable))
    for fold in _folds(len(usable)):
        mask = np.ones(len(usable), dtype=bool)
        mask[fold] = False
        oof_conf[fold] = LinearModel.fit(conf_X[mask], top_right[mask], feature_names=CONFIDENCE_FEATURES).probability(conf_X[fold])
    answer_t = expected_error_threshold(oof_conf, target_false_answer_rate)
    suggest_t, youden_j = youden_threshold(oof_conf, in_top5)
    if answer_t is not None:
        suggest_t = min(suggest_t, answer_t)
    answered = oof_conf >= answer_t if answer_t is not None else np.zeros(len(usable), dtype=bool)

    # Baselines: top-1 with one threshold each, set so that on the calibration
    # set each answers as many comments as govlive does (equal coverage, the
    # usual way to compare systems that may abstain). They have no intent
    # step, so their threshold must also keep chitchat and requests out.
    govlive_answers = int(answered.sum())
    dense_top = [hits[0].score if hits else 0.0 for hits in index.search_dense(all_vectors, 1)]
    lexical_top = [hits[0][1] if hits else 0.0 for hits in (index.search_lexical(c.for_matching, 1) for c in all_comments)]
    dense_t = coverage_threshold(dense_top, govlive_answers)
    lexical_t = coverage_threshold(lexical_top, govlive_answers)

    rrf_right = [bool(c) and c[0].entry_id == r.entry_id for c, r in zip(q_candidates, q_rows) if r.entry_id]
    oof_right = [bool(o) and o[0].candidate.entry_id == r.entry_id for o, r in zip(oof_ranked, q_rows) if r.entry_id]
    report = CalibrationReport(
        questions=len(q_rows),
        questions_with_gold=len(with_gold),
        rrf_top1=round(float(np.mean(rrf_right)), 4),
        reranked_top1_cross_validated=round(float(np.mean(oof_right)), 4),
        answer_rate=round(float(answered.mean()), 4),
        false_answer_rate=round(float((answered & ~top_right).sum() / max(answered.sum(), 1)), 4),
        suggest_threshold_youden_j=round(youden_j, 4),
    )
    return MatcherModel(
        candidate_depth=CANDIDATE_DEPTH,
        intent=intent.model,
        reranker=reranker,
        confidence=confidence,
        thresholds=Thresholds(answer=answer_t, suggest=suggest_t),
        # No safe threshold: the baseline answers nothing (above any possible score).
        baselines=BaselineThresholds(dense_only=dense_t, lexical_only=lexical_t),
        provenance=provenance,
        calibration_report=report,
    )


def matcher_fitter(settings, bank: AnswerBank, embedder):
    """The ``fit`` step for :func:`indexer.build.build_index`: fits the matcher
    with ``settings``, writes ``matcher.json`` into the new build, and returns
    the summary the manifest records."""

    def fit(index) -> dict:
        model = fit_matcher(
            index,
            bank,
            embedder,
            intent_file=settings.intent_training_file,
            calibration_file=settings.calibration_file,
            target_false_answer_rate=settings.target_false_answer_rate,
        )
        model.write(index.directory)
        summary: dict = {"thresholds": model.thresholds.model_dump(), "target_false_answer_rate": settings.target_false_answer_rate}
        if model.calibration_report:
            summary["calibration"] = model.calibration_report.model_dump()
        else:
            summary["calibration"] = "none: too few labelled questions for this bank; the matcher suggests and never answers on its own"
        return summary

    return fit
