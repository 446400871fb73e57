"""The fitted parts of the matcher, stored with the index build as ``matcher.json``.

Everything learned from data lives here, with where it was learned from:
the intent classifier, the reranker, the confidence model, the decision
thresholds, and the thresholds the baselines of ``govlive eval`` use.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .decide import Thresholds
from .linear import LinearModel

MATCHER_FILE = "matcher.json"
MATCHER_FORMAT_VERSION = 1


class SourceFile(BaseModel):
    path: str
    sha256: str
    rows: int


class FitProvenance(BaseModel):
    calibration: SourceFile | None  # labelled comments the reranker and thresholds were fitted on
    intent_training: SourceFile
    bank_question_examples: int  # bank phrasings added to intent training as `question`
    target_false_answer_rate: float
    fitted_at: str


class BaselineThresholds(BaseModel):
    """One threshold per baseline, fitted on the same data to answer as often as govlive."""

    dense_only: float  # cosine of the top phrasing
    lexical_only: float  # BM25 score of the top entry
    difflib_ratio: float = 0.8  # what popular livestream bots use; not fitted


class CalibrationReport(BaseModel):
    """Out-of-fold figures on the calibration set (what the thresholds were chosen on)."""

    questions: int
    questions_with_gold: int
    rrf_top1: float
    reranked_top1_cross_validated: float
    answer_rate: float  # among gold-intent questions
    false_answer_rate: float  # wrong or out-of-bank among answered
    suggest_threshold_youden_j: float


class MatcherModel(BaseModel):
    format_version: int = MATCHER_FORMAT_VERSION
    candidate_depth: int  # how many fused candidates the reranker sees
    intent: LinearModel
    reranker: LinearModel | None  # None: too little calibration data, candidates stay in RRF order
    confidence: LinearModel | None  # None: uncalibrated, nothing is answered automatically
    thresholds: Thresholds
    baselines: BaselineThresholds
    provenance: FitProvenance
    calibration_report: CalibrationReport | None

    def write(self, directory: Path) -> None:
        (Path(directory) / MATCHER_FILE).write_text(self.model_dump_json(), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> "MatcherModel":
        path = Path(directory) / MATCHER_FILE
        if not path.exists():
            raise FileNotFoundError(f"index at {directory} has no {MATCHER_FILE}; rebuild it with `govlive index build`")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != MATCHER_FORMAT_VERSION:
            raise ValueError(f"{path} has format version {data.get('format_version')}; rebuild the index with `govlive index build`")
        return cls.model_validate(data)
