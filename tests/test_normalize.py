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


# -- personal numbers in every form (issue 15) -------------------------------------------------

@pytest.mark.parametrize(
    "raw,kind,value,shown",
    [
        ("我电话１３８１２３４５６７８", "mobile", "13812345678", "我电话138****5678"),  # full-width: masked after folding
        ("电话138-1234-5678", "mobile", "138-1234-5678", "电话138****5678"),
        ("电话138 1234 5678", "mobile", "138 1234 5678", "电话138****5678"),
        ("电话+8613812345678", "mobile", "+8613812345678", "电话138****5678"),
        ("电话138😀1234😀5678", "mobile", "13812345678", "电话138****5678"),  # split by emoji
        ("电话138.1234.5678", "mobile", "13812345678", "电话138****5678"),
        ("电话138，1234，5678", "mobile", "13812345678", "电话138****5678"),
        ("电话1️⃣3️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣", "mobile", "13812345678", "电话138****5678"),  # keycap digits
        ("电话幺三八一二三四五六七八", "mobile", "13812345678", "电话138****5678"),  # read out
        ("电话一三八一二三四五六七八", "mobile", "13812345678", "电话138****5678"),
        ("电话一三八 〇〇〇〇 两两两两", "mobile", "138 0000 2222", "电话138****2222"),
        ("座机0731-8888 8888", "landline", "0731-8888 8888", "座机0731******88"),
        ("座机0731-88888888", "landline", "0731-88888888", "座机0731******88"),
        ("座机０２０－８８８８８８８８", "landline", "020-88888888", "座机0208*****88"),
        ("座机88776655", "landline", "88776655", "座机88****55"),  # no area code, after 座机/电话
        ("身份证11010119900307123X", "id_number", "11010119900307123X", "身份证110101********123X"),
        ("身份证110101199003071234", "id_number", "110101199003071234", "身份证110101********1234"),
        ("身份证 110101 19900307 123x", "id_number", "110101 19900307 123x", "身份证 110101********123X"),
        ("身份证110101-1990-0307-123X", "id_number", "110101-1990-0307-123X", "身份证110101********123X"),
        ("身份证１１０１０１１９９００３０７１２３Ｘ", "id_number", "11010119900307123X", "身份证110101********123X"),
        ("卡号6222021234567890", "bank_card", "6222021234567890", "卡号6222********7890"),
        ("卡号6222 0212 3456 7890 123", "bank_card", "6222 0212 3456 7890 123", "卡号6222***********0123"),
        ("卡号6222-0212-3456-7890", "bank_card", "6222-0212-3456-7890", "卡号6222********7890"),
        ("加我微信 zhang_san88", "wechat", "zhang_san88", "加我微信 zh*******88"),
        ("微信号：abc-123456", "wechat", "abc-123456", "微信号：ab******56"),
        ("vx:abc123456", "wechat", "abc123456", "vx:ab*****56"),
        ("ＶＸ：ａｂｃ１２３４５６", "wechat", "abc123456", "ＶＸ：ab*****56"),
        ("qq 12345678", "qq", "12345678", "qq 12****78"),
        ("QQ号是1234567890", "qq", "1234567890", "QQ号是12******90"),
    ],
)
def test_each_form_of_a_personal_number_is_masked_and_kept_unmasked_for_the_work_order(raw, kind, value, shown):
    n = normalize_comment(raw)
    assert [(p.kind, p.value) for p in n.personal_numbers] == [(kind, value)]
    assert n.for_display == shown
    masked = n.personal_numbers[0].masked
    assert masked in n.for_display and masked not in n.for_matching and "*" not in n.for_matching
    digits = "".join(ch for ch in value if ch.isalnum())
    for shown_text in (n.for_display, n.for_matching):
        assert digits not in shown_text.replace(" ", "").replace("-", "")


def test_a_request_with_a_full_width_number_keeps_the_contact_and_the_viewers_other_words():
    n = normalize_comment("帮我查一下社保断缴 我电话１３８１２３４５６７８ 谢谢")
    assert n.for_display == "帮我查一下社保断缴 我电话138****5678 谢谢"
    assert n.for_matching == "帮我查一下社保断缴 我电话"
    assert [(p.kind, p.value, p.masked) for p in n.personal_numbers] == [("mobile", "13812345678", "138****5678")]


def test_several_numbers_in_one_comment_come_back_in_order():
    n = normalize_comment("电话13812345678，13912345678 卡号 6222 0212 3456 7890 微信 wx_zhang2026")
    assert [p.kind for p in n.personal_numbers] == ["mobile", "mobile", "bank_card", "wechat"]
    assert n.for_display == "电话138****5678，139****5678 卡号 6222********7890 微信 wx********26"


@pytest.mark.parametrize(
    "raw",
    [
        "公积金贷款2026年能办吗 2026年1月1日起执行",
        "去年交了50000元 今年交了 15000000000元是全市的总额吗",  # an 11-digit amount is not a phone
        "首付30% 利率3.1% 还款期限30年",
        "2026-01-01 到 2026-12-31 之间办理",
        "2026.01.01开始",
        "上午9:00-12:00 下午14:00-17:30",
        "打12345热线问过了",
        "邮编510000 地址在越秀区",
        "根据粤府办〔2026〕12号文件 第138条",
        "人社部发〔2025〕123号",
        "第1、3、8、12、34、56、78条",
        "100、200、300、400、500、600元的档次",
        "证号分别为2018-0051、2018-0052、2018-0057、2018-0058",
        "受理号3201202405170036 帮我查下进度",  # the case's own number: staff need to see it
        "微信可以交社保吗",
        "微信 update了以后打不开",
        "用微信公众号 粤省事 能办吗",
        "qq音乐 会员",
        "退休金每月3800元 涨了138元",
        "征地补偿款共计13800000000.04元",
        "1<2 且 3>2",
    ],
)
def test_ordinary_policy_text_keeps_its_numbers(raw):
    n = normalize_comment(raw)
    assert n.personal_numbers == () and n.for_display == raw


def test_bidi_and_format_controls_never_reach_the_display():
    n = normalize_comment("社保\u202e卡怎么\u2066补办\u2069\u200f\u200e\u061c\u200b\ufeff\x07吗")
    assert n.for_display == "社保卡怎么补办吗" and n.for_matching == "社保卡怎么补办吗"
    family = "👨\u200d👩\u200d👧"  # the zero-width joiner of an emoji is kept
    assert normalize_comment(f"好{family}").for_display == f"好{family}"
    # A number split by zero-width characters is still found.
    assert normalize_comment("电话138\u200b1234\u200d5678").for_display == "电话138****5678"


def test_a_very_long_comment_is_normalised_in_linear_time():
    import time

    started = time.monotonic()
    for text in ("1" * 100_000, "1 " * 50_000, "138😀" * 25_000):
        normalize_comment(text)
    assert time.monotonic() - started < 30  # about 3 s; the old masked-number pattern took over a minute on 100,000 digits


# -- nicknames ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw,expected",
    [
        ("张三13912345678", "张三139****5678"),
        ("张三１３９１２３４５６７８", "张三139****5678"),
        ("vx:abc123456 王姐", "vx:ab*****56 王姐"),
        ("\u202e张三\u202c", "张三"),
        ("李\x00四\n\t王五\u2028", "李四 王五"),
        ("观众", "观众"),
        ("<i>观众</i>", "<i>观众</i>"),  # escaping is the page's job
        ("\u200b\u202e \x07", None),
        (None, None),
        ("长" * 5000, "长" * 23 + "…"),
        ("这是一个很长很长的昵称我的电话是13912345678", "这是一个很长很长的昵称我的电话是139****…"),
    ],
)
def test_nicknames_are_masked_cleaned_and_bounded(raw, expected):
    from assistant.normalize.personal import NICKNAME_MAX_CHARS, normalize_nickname

    assert normalize_nickname(raw) == expected
    assert expected is None or len(expected) <= NICKNAME_MAX_CHARS


def test_every_platform_record_carries_the_safe_nickname():
    import datetime as dt
    import json

    from assistant.ingest import douyin, kuaishou, wechat_channels
    from assistant.ingest.record import SHANGHAI

    now = dt.datetime.now(SHANGHAI)
    nick = "\u202e张三13912345678" + "啊" * 100
    records = [
        *douyin.parse_official_push({"x-roomid": "7300000000000000001", "x-msg-type": "live_comment"},
                                    [{"msg_id": "m1", "sec_openid": "u1", "nickname": nick, "content": "医保卡丢了怎么补办", "timestamp": 1}], now).records,
        *douyin.parse_bridge_message({"Type": 1, "Data": json.dumps({"MsgId": "9", "User": {"Id": "1", "Nickname": nick}, "Content": "问",
                                                                   "RoomId": "7300000000000000002"})}, now).records,
        *kuaishou.parse_feed_push({"commentFeeds": [{"id": "k1", "user": {"principalId": "p1", "userName": nick}, "content": "问"}]},
                                  room="ks-room", received_at=now).records,
        *wechat_channels.parse_batch({"events": [{"seq": 1, "msg_id": "w1", "sec_openid": "o1", "nickname": nick, "content": "问",
                                                 "decoded_type": "comment", "msg_time": 1}], "live_info": {"live_id": "wx-room"}}, now).records,
    ]
    assert len(records) == 4
    assert {r.nickname for r in records} == {"张三139****5678" + "啊" * 10 + "…"}
