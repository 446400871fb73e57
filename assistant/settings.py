"""Settings, read from ``GOVLIVE_*`` environment variables and CLI flags.

Nothing else in govlive reads the environment; code receives a
:class:`Settings` instance (FastAPI dependencies and CLI commands build one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_BANK_DIR = REPO_ROOT / "corpus" / "bank"
BUNDLED_INTENT_TRAINING = REPO_ROOT / "corpus" / "intent" / "train.jsonl"
BUNDLED_CALIBRATION_SET = REPO_ROOT / "corpus" / "eval" / "dev.jsonl"
EXAMPLE_ROOMS_FILE = REPO_ROOT / "config" / "rooms.example.json"
# Policy highlights the digital-human host speaks when no question is queued.
DEFAULT_IDLE_ENTRIES = (
    "yibao-0001",
    "shebao-0001",
    "gongjijin-0001",
    "budongchan-0001",
    "shuiwu-0001",
    "huji-0001",
    "jiaoguan-0001",
)


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
    # How vectors are computed: "sentence-transformers" (torch), or
    # "onnx-int8" (ONNX Runtime, int8-quantised, exported from the same model
    # on first use; about 3x faster on CPU, cosine ≥ 0.99 to the torch path;
    # see indexer/onnx_embedder.py and bench/). The index records which one
    # built it, and a server with the other one refuses it until rebuilt.
    embedding_backend: Literal["sentence-transformers", "onnx-int8"] = "sentence-transformers"
    # Vectors of this many recent normalised comments are kept (0: none), so a
    # question asked again by many viewers is embedded once.
    query_cache_size: int = Field(default=20_000, ge=0)
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


    # -- the live service (govlive serve) --------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Which govlive rooms exist and their room ids on each platform.
    rooms_file: Path = EXAMPLE_ROOMS_FILE
    # Role tokens and platform secrets. Unset ones are generated once by
    # `govlive serve` into <data_dir>/secrets.json (mode 0600); never in code.
    host_token: str | None = None
    control_token: str | None = None
    staff_token: str | None = None
    admin_token: str | None = None
    douyin_push_secret: str | None = None  # Douyin live-data push: x-signature
    douyin_bridge_token: str | None = None  # local bridge: Authorization: Bearer
    kuaishou_connector_secret: str | None = None  # HMAC of the connector's pushes
    wechat_channels_connector_secret: str | None = None
    overlay_secret: str | None = None  # overlay tokens are HMAC(overlay_secret, room): read-only, one room
    # Largest push body accepted, before and after gzip decoding.
    max_push_bytes: int = Field(default=512 * 1024, ge=1024)
    # Largest body the staff, control, host and admin APIs accept: their
    # bodies are a few fields (the longest, a new bank answer, a few KB).
    max_api_bytes: int = Field(default=64 * 1024, ge=1024)
    # Connector signatures older or newer than this are refused (replay guard).
    push_clock_skew_seconds: int = Field(default=300, ge=1)
    # Comments without a platform message id: same user + text within this window is one comment.
    dedupe_window_seconds: float = Field(default=10.0, ge=0)
    # The pipeline hands the matcher at most this many comments at once and
    # waits this long for a batch to fill when comments trickle in.
    batch_max: int = Field(default=64, ge=1, le=1024)
    batch_wait_ms: int = Field(default=15, ge=0, le=5000)
    # An overlay websocket client that has not taken one event within this many
    # seconds (a frozen OBS source, a client that never reads) is closed; it
    # reconnects with ?since= and misses nothing.
    ws_send_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Digital-human host: how long a handed-out item is reserved before it is
    # handed out again, and the longest long-poll.
    host_lease_seconds: float = Field(default=60.0, gt=0)
    host_max_wait_seconds: float = Field(default=30.0, ge=0)
    host_idle_entries: tuple[str, ...] = DEFAULT_IDLE_ENTRIES


    # -- work orders (the "125" rule) ---------------------------------------------
    # Business hours on a working day, as windows (Asia/Shanghai).
    business_hours: str = "09:00-12:00,13:30-17:30"
    # Extra holidays and make-up working days on top of chinesecalendar:
    # JSON {"holidays": ["YYYY-MM-DD", …], "workdays": ["YYYY-MM-DD", …]}.
    calendar_overrides_file: Path | None = None
    # An open order turns yellow when this many working days or fewer remain.
    yellow_working_days: int = Field(default=2, ge=0, le=10)
    # Department → group-robot webhook (WeCom / DingTalk), JSON {"市医疗保障局": "https://…", "*": "https://…"}.
    department_webhooks_file: Path | None = None
    # Notification retries: base · 2^attempts seconds, capped; never abandoned.
    outbox_backoff_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # How often open orders are checked for yellow / red transitions.
    warning_check_seconds: float = Field(default=60.0, gt=0)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "govlive.db"

    @property
    def secrets_path(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def accounts_path(self) -> Path:
        """Named accounts (`govlive accounts`): a token per person, stored as its sha256."""
        return self.data_dir / "accounts.json"

    @property
    def models_dir(self) -> Path:
        """Model artefacts made from the configured model (the ONNX export)."""
        return self.data_dir / "models"

    @property
    def router_dir(self) -> Path:
        return self.data_dir / "router"
