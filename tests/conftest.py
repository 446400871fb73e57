"""Shared fixtures. Tests use real files, the real model and real data from ../shared."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GOVLIVE_SHARED_DIR", REPO_ROOT.parent / "shared"))
# The model comes from the offline cache beside the checkout, as in CI.
os.environ.setdefault("HF_HUB_CACHE", str(SHARED / "hf-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SMALL_BANK = Path(__file__).parent / "data" / "small_bank.jsonl"
GUIDE_CATALOGUE = SHARED / "data" / "raw" / "gd-zwfw-guide" / "policy.json"
MODEL_NAME = "intfloat/multilingual-e5-small"


@pytest.fixture
def small_bank_dir(tmp_path: Path) -> Path:
    """A writable bank directory holding the 12-entry test bank."""
    d = tmp_path / "bank"
    d.mkdir()
    shutil.copy(SMALL_BANK, d / "small.jsonl")
    return d


@pytest.fixture(scope="session")
def embedder():
    """The real embedding model, loaded once for the session."""
    from indexer.embedder import Embedder

    return Embedder(MODEL_NAME)


@pytest.fixture
def guide_catalogue() -> Path:
    if not GUIDE_CATALOGUE.exists():
        pytest.fail(f"real guide catalogue not found at {GUIDE_CATALOGUE}; ../shared must sit beside the checkout")
    return GUIDE_CATALOGUE


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory, embedder):
    """The bundled bank indexed and the matcher fitted, as `govlive index build` does: (data dir, BankIndex)."""
    from assistant.bank.store import AnswerBank
    from assistant.match.fit import matcher_fitter
    from assistant.settings import Settings
    from indexer.build import build_index
    from indexer.index import BankIndex

    # GOVLIVE_TEST_DATA_DIR keeps the build between runs on a developer's machine (a rebuild
    # with nothing changed reuses the stored vectors); CI leaves it unset and builds afresh.
    kept = os.environ.get("GOVLIVE_TEST_DATA_DIR")
    data_dir = Path(kept) if kept else tmp_path_factory.mktemp("govlive-data")
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir)
    bank = AnswerBank.load(settings.bank_dir)
    def open_built():
        return BankIndex.open(settings.index_dir, bank, model_name=MODEL_NAME, document_prompt="query", query_prompt="query")

    with open(data_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs sharing the directory build one after the other
        if kept and (settings.index_dir / "matcher.json").exists():
            try:
                return data_dir, open_built()  # built from this very bank before
            except Exception:
                pass
        build_index(bank, index_link=settings.index_dir, embedder=embedder, progress=False, fit=matcher_fitter(settings, bank, embedder))
    return data_dir, open_built()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, bundled_index):
    """A real `govlive serve` on 127.0.0.1 over the bundled index, with its own empty database."""
    from live import LiveServer, data_dir_with_index

    server = LiveServer(data_dir_with_index(tmp_path_factory.mktemp("live"), bundled_index[0])).start()
    yield server
    server.stop()
