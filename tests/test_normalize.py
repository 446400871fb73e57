"""Normalisation of raw live comments."""

from __future__ import annotations

import pytest

from assistant.normalize.text import normalize_comment


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("主播 我在外地住院了 医保咋报销啊 要先备案吗", "我在外地住院了 医保咋报销啊 要先备案吗"),
        ("公積金可以取出來付房租嗎？？？", "公积金可以取出来付房租吗?"),
        ("ＡＢＣ公积金！！！", "ABC公积金!"),
        ("@小明 你好，请问身份证丢了咋补😭😭[捂脸] 谢谢主播", "身份证丢了咋补"),
        ("老师好 新生儿落户要啥材料", "新生儿落户要啥材料"),
        ("主播们好！！请问一下 驾驶证到期了咋换", "驾驶证到期了咋换"),
        ("666", "666"),
        ("👍👍👍", ""),
        ("加微信领补贴", "加微信领补贴"),
    ],
)
def test_for_matching(raw, expected):
    assert normalize_comment(raw).for_matching == expected


def test_personal_numbers_are_masked_everywhere_but_kept_for_work_orders():
    raw = "我电话13812345678 帮我查下进度 身份证号11010119900307123X 座机0731-88776655"
    n = normalize_comment(raw)
    for shown in (n.for_display, n.for_matching):
        assert "13812345678" not in shown and "11010119900307123X" not in shown and "88776655" not in shown
    assert "138****5678" in n.for_display and "110101********123X" in n.for_display
    kinds = {p.kind: p.value for p in n.personal_numbers}
    assert kinds == {"mobile": "13812345678", "id_number": "11010119900307123X", "landline": "0731-88776655"}


def test_spaced_and_prefixed_mobile_numbers():
    n = normalize_comment("联系我 +86 138-1234-5678")
    assert [p.kind for p in n.personal_numbers] == ["mobile"] and "1234" not in n.for_display


def test_ordinary_numbers_are_not_masked():
    n = normalize_comment("公积金贷款60万元 首付30% 2026年能办吗")
    assert n.personal_numbers == () and "60万元" in n.for_matching


def test_display_keeps_the_viewers_words_but_drops_control_characters():
    n = normalize_comment("身份证\x00丢了<script>alert(1)</script>")
    assert "\x00" not in n.for_display and "<script>" in n.for_display  # escaping is the page's job


def test_markup_is_shown_as_typed_but_not_matched_on():
    c = normalize_comment("<script>alert(1)</script>不动产登记预约怎么约 <b>急</b>")
    assert c.for_display == "<script>alert(1)</script>不动产登记预约怎么约 <b>急</b>"
    assert c.for_matching == "不动产登记预约怎么约 急"
    assert normalize_comment("1<2 且 3>2").for_matching == "1<2 且 3>2"  # comparisons are not tags
