"""``govlive eval``: govlive and three baselines on one labelled file, in one run.

Definitions (the same for every system):

- **top-1 / recall@5 / MRR**: over comments whose gold is a bank entry, is
  a gold entry the first / among the first five / at what rank (a comment may
  have several acceptable entries, ``entry_ids``).
- **item top-1**: is the first entry about the same 事项 as a gold entry,
  whatever its aspect (材料 for 流程 counts here, not in top-1).
- **answer rate**: share of all comments given an ``answer``.
- **false-answer rate**: share of the answers that are wrong, i.e. the
  answered entry is not the gold, or the comment has no gold entry at all
  (chitchat, spam, a request, an out-of-bank question). It is measured over
  answers, not over all comments, because it is what a viewer hears.
- **intent accuracy**: govlive only; the baselines have no intent step.
- **per-domain accuracy**: top-1 by the gold entry's domain.
- **match time**: govlive matching one comment at a time, model loaded,
  normalisation to decision.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from assistant.bank.store import AnswerBank

from .baselines import dense_only, difflib_ratio, lexical_only
from .intent import IGNORED_INTENTS, INTENTS
from .labelled import LabelledComment, read_labelled
from .matcher import Matcher


class SystemScores(BaseModel):
    system: str
    top1: float
    item_top1: float  # right 事项, any aspect
    recall_at_5: float
    mrr: float
    answers: int
    answer_rate: float
    false_answers: int
    false_answer_rate: float
    ignorable_answered: int  # chitchat, spam or abuse comments that got an answer
    intent_accuracy: float | None
    per_domain_top1: dict[str, float]


class EvalReport(BaseModel):
    file: str
    comments: int
    questions_with_gold: int
    systems: list[SystemScores]
    decisions: dict[str, int]  # govlive's decision counts
    intent_confusion: dict[str, dict[str, int]]  # gold → predicted → count
    median_match_ms: float
    p95_match_ms: float


def score_system(
    name: str,
    rows: Sequence[LabelledComment],
    ranked: Sequence[Sequence[str]],
    answered: Sequence[bool],
    bank: AnswerBank,
    predicted_intents: Sequence[str] | None = None,
) -> SystemScores:
    def item(entry_id: str) -> str | None:
        entry = bank.get(entry_id)
        return entry.item if entry else None

    gold_rows = [i for i, r in enumerate(rows) if r.gold]
    ranks, item_hits = [], []
    per_domain: dict[str, list[bool]] = defaultdict(list)
    for i in gold_rows:
        ids, gold = list(ranked[i]), rows[i].gold
        rank = next((k + 1 for k, e in enumerate(ids) if e in gold), None)
        ranks.append(rank)
        item_hits.append(bool(ids) and item(ids[0]) in {item(g) for g in gold})
        per_domain[bank.get(rows[i].entry_id).domain if rows[i].entry_id in bank else "?"].append(rank == 1)
    n = max(len(ranks), 1)
    answers = sum(answered)
    false = sum(1 for r, a, ids in zip(rows, answered, ranked) if a and (not ids or ids[0] not in r.gold))
    return SystemScores(
        system=name,
        top1=round(sum(r == 1 for r in ranks) / n, 4),
        item_top1=round(sum(item_hits) / n, 4),
        recall_at_5=round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        mrr=round(sum(1 / r for r in ranks if r is not None and r <= 5) / n, 4),
        answers=answers,
        answer_rate=round(answers / max(len(rows), 1), 4),
        false_answers=false,
        false_answer_rate=round(false / answers, 4) if answers else 0.0,
        ignorable_answered=sum(1 for r, a in zip(rows, answered) if a and r.intent in IGNORED_INTENTS),
        intent_accuracy=(
            round(sum(p == r.intent for p, r in zip(predicted_intents, rows)) / len(rows), 4) if predicted_intents is not None else None
        ),
        per_domain_top1={d: round(sum(v) / len(v), 4) for d, v in sorted(per_domain.items())},
    )


def evaluate(matcher: Matcher, index, path: Path) -> EvalReport:
    rows = read_labelled(path)
    bank = matcher.bank

    # govlive, one comment at a time as a live comment would arrive alone.
    results, timings = [], []
    for r in rows:
        started = time.perf_counter()
        results.extend(matcher.match([r.text], top_k=5))
        timings.append((time.perf_counter() - started) * 1000)
    systems = [
        score_system(
            "govlive",
            rows,
            [[c.entry_id for c in res.candidates or []] for res in results],
            [res.decision == "answer" for res in results],
            bank,
            [res.intent for res in results],
        )
    ]

    texts = [res.normalized for res in results]
    vectors = matcher.embedder.encode_queries(texts)
    thresholds = matcher.model.baselines
    for name, outputs in (
        ("lexical-only (jieba+BM25)", lexical_only(index, texts, thresholds.lexical_only)),
        ("dense-only (FAISS top-1)", dense_only(index, vectors, thresholds.dense_only)),
        (f"difflib ratio>={thresholds.difflib_ratio}", difflib_ratio(index, texts, thresholds.difflib_ratio)),
    ):
        systems.append(score_system(name, rows, [o.ranked for o in outputs], [o.answers for o in outputs], bank))

    confusion: dict[str, dict[str, int]] = {g: {p: 0 for p in INTENTS} for g in INTENTS}
    for r, res in zip(rows, results):
        confusion[r.intent][res.intent] += 1
    return EvalReport(
        file=str(path),
        comments=len(rows),
        questions_with_gold=sum(1 for r in rows if r.entry_id),
        systems=systems,
        decisions=dict(Counter(res.decision for res in results)),
        intent_confusion=confusion,
        median_match_ms=round(float(np.median(timings)), 2),
        p95_match_ms=round(float(np.percentile(timings, 95)), 2),
    )


def format_report(report: EvalReport) -> str:
    """The side-by-side table ``govlive eval`` prints."""
    names = [s.system for s in report.systems]
    width = max(len(n) for n in names) + 2
    lines = [
        f"{report.file}: {report.comments} comments, {report.questions_with_gold} with a gold entry",
        "",
        "system".ljust(width) + "  top-1  item-1  rec@5    MRR  answered  false-ans  ignorable-ans  intent",
    ]
    for s in report.systems:
        intent = f"{s.intent_accuracy:.3f}" if s.intent_accuracy is not None else "    -"
        lines.append(
            s.system.ljust(width)
            + f"  {s.top1:.3f}   {s.item_top1:.3f}  {s.recall_at_5:.3f}  {s.mrr:.3f}  {s.answer_rate:8.3f}  {s.false_answer_rate:9.3f}"
            + f"  {s.ignorable_answered:13d}  {intent}"
        )
    lines += ["", "item-1 = first entry about a gold 事项, any aspect; answered = share of all comments answered;",
              "false-ans = share of answers that are wrong", ""]
    domains = sorted({d for s in report.systems for d in s.per_domain_top1})
    lines.append("top-1 by domain".ljust(18) + "".join(f"{n[:12]:>14}" for n in names))
    for d in domains:
        lines.append(d.ljust(18 - (len(d.encode("gbk", "replace")) - len(d))) + "".join(f"{s.per_domain_top1.get(d, 0):14.3f}" for s in report.systems))
    lines += ["", "govlive decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.decisions.items()))]
    lines.append("intent (gold → predicted):")
    for g, row in report.intent_confusion.items():
        if sum(row.values()):
            lines.append(f"  {g:10s} " + " ".join(f"{p}={c}" for p, c in row.items() if c))
    lines.append(f"match time per comment (model loaded): median {report.median_match_ms} ms, p95 {report.p95_match_ms} ms")
    return "\n".join(lines)
