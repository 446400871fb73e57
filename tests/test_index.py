"""`govlive index build`: manifest, search, atomic swap, incremental rebuild, mismatches.

These use the real model from the offline cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.bank.schema import Entry
from assistant.bank.store import AnswerBank
from assistant.cli import cli
from indexer.build import build_index
from indexer.index import BankIndex
from indexer.lexical import PolicyTokenizer
from indexer.manifest import IndexManifest, IndexMismatch, IndexMissing

pytestmark = pytest.mark.model

BUNDLED = Path(__file__).resolve().parents[1] / "corpus" / "bank"


def open_index(link: Path, bank: AnswerBank, embedder) -> BankIndex:
    return BankIndex.open(link, bank, model_name=embedder.model_name, document_prompt=embedder.document_prompt, query_prompt=embedder.query_prompt)


def test_build_writes_manifest_and_searches(small_bank_dir, tmp_path, embedder):
    bank = AnswerBank.load(small_bank_dir)
    link = tmp_path / "data" / "index"
    report = build_index(bank, index_link=link, embedder=embedder, progress=False)
    m = IndexManifest.read(link)
    assert m == report.manifest
    assert m.model_name == "intfloat/multilingual-e5-small" and m.dimension == 384
    assert m.entry_count == 12 and m.vector_count == sum(len(e.all_questions()) for e in bank.entries)
    assert m.corpus_hash == bank.corpus_hash()
    assert m.texts_embedded == m.vector_count and m.texts_reused == 0
    assert {"sentence-transformers", "faiss-cpu", "jieba", "torch"} <= set(m.library_versions)
    assert link.is_symlink() and (link / "faiss.index").exists()

    idx = open_index(link, bank, embedder)
    hits = idx.search_dense(embedder.encode_queries(["我在外地住院了 医保要先备案吗 要带什么"]), 3)[0]
    assert hits[0].entry_id == "yibao-t001"
    assert len({h.entry_id for h in hits}) == len(hits), "one hit per entry"
    lexical = idx.search_lexical("公积金租房能提取吗", 3)
    assert lexical[0][0] == "gongjijin-t003"


def test_policy_terms_are_not_split():
    tok = PolicyTokenizer()
    tokens = tok.tokens("公积金贷款和不动产权证书还有异地就医备案")
    for term in ("公积金", "不动产权证书", "异地就医"):
        assert term in tokens, tokens


def test_incremental_rebuild_embeds_only_changed_entries(tmp_path, embedder):
    # 60 real entries of the bundled bank, then change 10 of them.
    entries = AnswerBank.load(BUNDLED).entries[::20][:60]
    bank_dir = tmp_path / "bank"
    bank = AnswerBank(bank_dir, entries)
    bank.save()
    link = tmp_path / "data" / "index"
    first = build_index(AnswerBank.load(bank_dir), index_link=link, embedder=embedder, progress=False)
    first_build = link.resolve()

    changed = []
    for e in entries[:10]:
        data = e.model_dump()
        data["similar_questions"] = [*e.similar_questions, f"{e.item}这个事到底咋整"]
        changed.append(Entry.model_validate(data))
    bank2 = AnswerBank.load(bank_dir).merged_with(changed)
    bank2.save()
    second = build_index(AnswerBank.load(bank_dir), index_link=link, embedder=embedder, progress=False)
    m = second.manifest
    assert m.entries_changed == 10 and m.entries_added == 0 and m.entries_removed == 0
    assert m.texts_embedded == 10, "only the new phrasings are embedded"
    assert m.texts_reused == first.manifest.vector_count
    assert m.vector_count == first.manifest.vector_count + 10
    # The link moved to a new build; the previous build is kept for readers mid-load.
    assert link.resolve() != first_build and first_build.exists()

    # Search over the incremental build equals search over a build from scratch.
    fresh = tmp_path / "fresh" / "index"
    build_index(AnswerBank.load(bank_dir), index_link=fresh, embedder=embedder, progress=False)
    queries = embedder.encode_queries([f"{e.item}这个事到底咋整" for e in changed])
    inc = open_index(link, AnswerBank.load(bank_dir), embedder).search_dense(queries, 3)
    full = open_index(fresh, AnswerBank.load(bank_dir), embedder).search_dense(queries, 3)
    assert [[h.entry_id for h in q] for q in inc] == [[h.entry_id for h in q] for q in full]
    assert [q[0].entry_id for q in inc] == [e.id for e in changed]

    # A third build keeps only the newest two.
    build_index(AnswerBank.load(bank_dir), index_link=link, embedder=embedder, progress=False)
    assert not first_build.exists()
    assert len([p for p in (link.parent / "index-builds").iterdir() if not p.name.startswith(".")]) == 2


def test_changed_bank_is_a_mismatch(small_bank_dir, tmp_path, embedder):
    link = tmp_path / "data" / "index"
    build_index(AnswerBank.load(small_bank_dir), index_link=link, embedder=embedder, progress=False)
    bank = AnswerBank.load(small_bank_dir)
    e = bank.entries[0]
    bank.merged_with([e.model_copy(update={"answer": "改过的答案。"})]).save()
    with pytest.raises(IndexMismatch) as err:
        open_index(link, AnswerBank.load(small_bank_dir), embedder)
    msg = str(err.value)
    assert "12 entries" in msg and "0 added, 1 changed, 0 removed" in msg and "govlive index build" in msg


def test_other_model_is_a_mismatch(small_bank_dir, tmp_path, embedder):
    link = tmp_path / "data" / "index"
    bank = AnswerBank.load(small_bank_dir)
    build_index(bank, index_link=link, embedder=embedder, progress=False)
    with pytest.raises(IndexMismatch) as err:
        BankIndex.open(link, bank, model_name="BAAI/bge-small-zh-v1.5", document_prompt="query", query_prompt="query")
    assert "intfloat/multilingual-e5-small" in str(err.value) and "BAAI/bge-small-zh-v1.5" in str(err.value)


def test_missing_index(tmp_path, small_bank_dir, embedder):
    with pytest.raises(IndexMissing, match="govlive index build"):
        open_index(tmp_path / "nothing", AnswerBank.load(small_bank_dir), embedder)


def test_cli_build_info_search_and_mismatch(small_bank_dir, tmp_path):
    data = tmp_path / "data"
    runner = CliRunner()
    base = ["--bank", str(small_bank_dir), "--data-dir", str(data)]
    built = runner.invoke(cli, [*base, "index", "build", "--quiet"])
    assert built.exit_code == 0, built.output
    report = json.loads(built.stdout)
    assert report["entries"] == 12 and report["embedded"] == report["vectors"]

    info = runner.invoke(cli, [*base, "index", "info"])
    assert info.exit_code == 0 and json.loads(info.stdout)["entry_count"] == 12

    search = runner.invoke(cli, [*base, "index", "search", "办护照多少钱啊", "-k", "2"])
    first = json.loads(search.stdout.splitlines()[0])
    assert first["entry_id"] == "churujing-t010" and first["side"] == "dense"

    # Edit the bank behind the index's back: info now explains and fails.
    bank = AnswerBank.load(small_bank_dir)
    bank.replaced_by(bank.entries[:-1]).save()
    info = runner.invoke(cli, [*base, "index", "info"])
    assert info.exit_code == 1 and "does not match" in info.stderr and "1 removed" in info.stderr

    again = runner.invoke(cli, [*base, "index", "build", "--quiet"])
    report = json.loads(again.stdout)
    assert report["embedded"] == 0 and report["entries_removed"] == 1


def test_build_refuses_to_replace_a_real_directory(small_bank_dir, tmp_path, embedder):
    link = tmp_path / "data" / "index"
    link.mkdir(parents=True)
    (link / "keep.txt").write_text("operator's file")
    with pytest.raises(RuntimeError, match="real directory"):
        build_index(AnswerBank.load(small_bank_dir), index_link=link, embedder=embedder, progress=False)
    assert (link / "keep.txt").exists()
    leftovers = [p for p in (tmp_path / "data" / "index-builds").iterdir()] if (tmp_path / "data" / "index-builds").exists() else []
    assert all(not p.name.endswith(".partial") for p in leftovers)
