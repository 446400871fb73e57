"""Settings, read from ``GOVLIVE_*`` environment variables and CLI flags.

Nothing else in govlive reads the environment; code receives a
:class:`Settings` instance (FastAPI dependencies and CLI commands build one).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_BANK_DIR = REPO_ROOT / "corpus" / "bank"
BUNDLED_INTENT_TRAINING = REPO_ROOT / "corpus" / "intent" / "train.jsonl"
BUNDLED_CALIBRATION_SET = REPO_ROOT / "corpus" / "eval" / "dev.jsonl"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVLIVE_", extra="ignore")

    # Where the service keeps its index, database and logs.
    data_dir: Path = Path("govlive-data")
    # The answer bank: a directory of JSONL files, one per domain.
    bank_dir: Path = BUNDLED_BANK_DIR
    # Any sentence-transformers model name; loaded from the Hugging Face cache
    # (HF_HUB_CACHE / HF_HUB_OFFLINE decide where from, as for any HF user).
    model_name: str = "intfloat/multilingual-e5-small"
    # E5 wants a prefix on every text. Matching a comment to a bank question is
    # a symmetric (question-to-question) task, for which E5's authors use the
    # "query" prompt on both sides; the setting lets a bank of long documents
    # use "passage" instead.
    query_prompt: str = "query"
    document_prompt: str = "query"
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    # What the matcher is fitted on when the index is built (see
    # assistant/match/fit.py). A city with its own bank points the
    # calibration set at comments labelled against that bank; without one
    # the matcher only suggests and never answers on its own.
    intent_training_file: Path = BUNDLED_INTENT_TRAINING
    calibration_file: Path | None = BUNDLED_CALIBRATION_SET
    # Of the answers the digital human speaks, at most this share may be
    # wrong on the calibration set (the limit is 0.02; fit to half
    # of it so a new set of comments stays within it).
    target_false_answer_rate: float = Field(default=0.01, gt=0, lt=0.5)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"
