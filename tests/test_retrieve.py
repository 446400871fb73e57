"""Hybrid retrieval: reciprocal rank fusion, and retrieval with the real model."""

from __future__ import annotations

import pytest

from assistant.bank.store import AnswerBank
from assistant.match.retrieve import RRF_K, HybridRetriever, fuse
from assistant.normalize.text import normalize_comment
from indexer.build import build_index
from indexer.index import BankIndex


def test_fuse_rewards_agreement_and_keeps_both_scores():
    dense = [("a", 0.95, "qa"), ("b", 0.94, "qb"), ("c", 0.90, "qc")]
    lexical = [("b", 12.0), ("d", 9.0)]
    out = fuse(dense, lexical, k=3)
    assert [c.entry_id for c in out] == ["b", "a", "d"]
    b = out[0]
    assert b.fused == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert (b.dense, b.lexical, b.dense_rank, b.lexical_rank, b.matched_text) == (0.94, 12.0, 2, 1, "qb")
    d = out[2]
    assert d.dense is None and d.lexical_rank == 2


def test_fuse_is_stable_on_ties():
    out = fuse([("x", 0.9, "t"), ("y", 0.8, "u")], [("y", 3.0), ("x", 2.0)], k=2)
    assert [c.entry_id for c in out] == ["x", "y"]


@pytest.mark.model
def test_retrieves_the_right_entry_for_live_comments(small_bank_dir, tmp_path, embedder):
    bank = AnswerBank.load(small_bank_dir)
    link = tmp_path / "index"
    build_index(bank, index_link=link, embedder=embedder, progress=False)
    index = BankIndex.open(link, bank, model_name=embedder.model_name, document_prompt="query", query_prompt="query")
    retriever = HybridRetriever(index, embedder)
    comments = {
        "主播 我在外地住院了 医保咋报销啊 要先备案吗 要带啥": "yibao-t001",
        "公積金可以取出來付房租嗎？？？": "gongjijin-t003",
        "老师好 刚生的娃咋上户口 [捂脸]": "huji-t007",
        "@客服 驾照快到期了怎么换啊": "jiaoguan-t008",
    }
    texts = [normalize_comment(c).for_matching for c in comments]
    results = retriever.retrieve(texts, k=3)
    assert [r[0].entry_id for r in results] == list(comments.values())
    # One batch or one at a time: the same answer.
    assert [retriever.retrieve([t], k=3)[0][0].entry_id for t in texts] == list(comments.values())
