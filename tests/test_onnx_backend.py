"""The onnx-int8 embedding backend: export, agreement with sentence-transformers, the index it builds, the repeat cache."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from assistant.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.model

MODEL = "intfloat/multilingual-e5-small"


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from indexer.onnx_embedder import ensure_export

    return ensure_export(MODEL, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def onnx(export_dir):
    from indexer.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(export_dir, model_name=MODEL)


def comment_texts(n: int) -> list[str]:
    from assistant.normalize.text import normalize_comment

    rows = [json.loads(line) for line in (REPO_ROOT / "corpus" / "eval" / "test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [normalize_comment(r["text"]).for_matching for r in rows]
    return [t for t in texts if t][:n]


def test_export_is_described_by_its_manifest_and_reused(export_dir):
    from indexer.onnx_embedder import ensure_export, read_export

    manifest = read_export(export_dir)
    assert manifest.model_name == MODEL and manifest.dimension == 384 and manifest.prompts["query"] == "query: "
    assert manifest.model_revision and "per-channel" in manifest.quantization
    assert (export_dir / "model.int8.onnx").stat().st_size < (export_dir / "model.onnx").stat().st_size / 3
    before = (export_dir / "export.json").stat().st_mtime_ns
    assert ensure_export(MODEL, export_dir.parent) == export_dir
    assert (export_dir / "export.json").stat().st_mtime_ns == before  # not exported again


def test_tokens_are_the_sentence_transformers_tokens(onnx, embedder):
    texts = ["医保卡丢了怎么补办", "公積金可以取出來付房租嗎", "666", "a" * 600]
    for text in texts:
        expected = embedder.model.tokenizer("query: " + text, truncation=True, max_length=512)["input_ids"]
        assert onnx.tokenizer.encode("query: " + text).ids == expected


def test_vectors_agree_with_sentence_transformers(onnx, embedder):
    from indexer.onnx_embedder import agreement

    texts = comment_texts(200)
    report = agreement(embedder, onnx, texts, min_cosine=0.99)
    assert report["passed"], report
    assert report["mean_cosine"] >= 0.995
    # A text's vector is the same on every call with the same batch-mates.
    np.testing.assert_array_equal(onnx.encode_queries(texts[:64]), onnx.encode_queries(texts[:64]))
    # Dynamic int8 quantisation scales activations per batch tensor, so the
    # batch-mates move a vector slightly; far less than the int8 error itself.
    single = onnx.encode_queries([texts[5]])[0]
    assert float(single @ onnx.encode_queries(texts[:64])[5]) > 0.995
    assert onnx.encode_queries([]).shape == (0, 384)


def test_index_records_its_backend_and_refuses_the_other(tmp_path, small_bank_dir, onnx, embedder):
    from assistant.bank.store import AnswerBank
    from indexer.build import build_index
    from indexer.index import BankIndex
    from indexer.manifest import IndexMismatch

    bank = AnswerBank.load(small_bank_dir)
    link = tmp_path / "index"
    report = build_index(bank, index_link=link, embedder=onnx, progress=False)
    assert report.manifest.embedding_backend == "onnx-int8"
    settings = Settings(data_dir=tmp_path, bank_dir=small_bank_dir, embedding_backend="onnx-int8")
    index = BankIndex.open_configured(settings, bank)
    hit = index.search_dense(onnx.encode_queries(["去外地看病要先备案吗"]), 1)[0][0]
    assert bank.get(hit.entry_id).item == "异地就医备案"
    with pytest.raises(IndexMismatch, match="embedding backend"):
        BankIndex.open_configured(settings.model_copy(update={"embedding_backend": "sentence-transformers"}), bank)
    # A rebuild with the other backend embeds everything again rather than mixing vectors.
    again = build_index(bank, index_link=link, embedder=embedder, progress=False)
    assert again.manifest.texts_reused == 0 and again.manifest.embedding_backend == "sentence-transformers"


def test_repeat_cache_embeds_each_normalised_text_once(onnx):
    from indexer.embedder import QueryCache

    cache = QueryCache(onnx, capacity=3)
    first = cache.encode_queries(["医保卡丢了怎么补办", "医保卡丢了怎么补办", "社保断缴怎么办"])
    assert cache.stats() == {"size": 2, "capacity": 3, "hits": 1, "misses": 2}
    np.testing.assert_allclose(first[0], first[1])
    np.testing.assert_allclose(cache.encode_queries(["社保断缴怎么办"])[0], first[2])
    cache.encode_queries(["a", "b", "c"])  # the capacity pushes the oldest out
    assert cache.stats()["size"] == 3 and "医保卡丢了怎么补办" not in cache._vectors


def test_cli_exports_and_checks(tmp_path):
    base = [sys.executable, "-m", "assistant.cli", "--data-dir", str(tmp_path)]
    bad = subprocess.run([*base, "--embedding-backend", "torch-please", "index", "info"], capture_output=True, text=True)
    assert bad.returncode == 2 and "torch-please" in bad.stderr
    done = subprocess.run([*base, "--embedding-backend", "onnx-int8", "model", "export-onnx"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["model_name"] == MODEL and out["size_mb"]["model.int8.onnx"] < 100
    assert (tmp_path / "models").is_dir()

    checked = subprocess.run([*base, "model", "check-onnx", "--limit", "40"], capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["texts"] == 40 and report["passed"] and report["min_cosine"] >= 0.99
    # No int8 model is bit-identical to float32: demanding cosine 1.0 fails, with exit 1.
    strict = subprocess.run([*base, "model", "check-onnx", "--limit", "40", "--min-cosine", "1.0"], capture_output=True, text=True, timeout=600)
    assert strict.returncode == 1 and not json.loads(strict.stdout)["passed"]
