"""The recorded-style sample payloads agree with the parsers; Douyin push signature; replay restamping."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from assistant.ingest import douyin, kuaishou, wechat_channels
from assistant.ingest.record import SHANGHAI, Parsed
from assistant.ingest.samples import PLATFORM_FILES, SAMPLES_DIR, Sample, load_samples

NOW = dt.datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)
REPLAY_AT = dt.datetime(2026, 11, 23, 9, 15, 30, tzinfo=SHANGHAI)
ROOMS = json.loads((Path(__file__).resolve().parents[1] / "config" / "rooms.example.json").read_text(encoding="utf-8"))["rooms"]
MIN_LINES = {"douyin_official": 12, "douyin_bridge": 12, "kuaishou": 10, "wechat_channels": 10}
PLATFORM = {"douyin_official": "douyin", "douyin_bridge": "douyin", "kuaishou": "kuaishou", "wechat_channels": "wechat_channels"}


def parse(platform_file: str, sample: Sample, body=None) -> Parsed:
    body = sample.body if body is None else body
    if platform_file == "douyin_official":
        return douyin.parse_official_push(sample.headers, body, NOW)
    if platform_file == "douyin_bridge":
        return douyin.parse_bridge_message(body, NOW)
    if platform_file == "kuaishou":
        return kuaishou.parse_feed_push(body, room=sample.query.get("room", ""), received_at=NOW)
    return wechat_channels.parse_batch(body, NOW)


@pytest.mark.parametrize("platform_file", PLATFORM_FILES)
def test_sample_expectations_match_the_parsers(platform_file):
    samples = load_samples(platform_file)
    assert len(samples) >= MIN_LINES[platform_file]
    configured = {room[PLATFORM[platform_file]] for room in ROOMS}
    seen: set[tuple[str, str, str]] = set()
    for n, sample in enumerate(samples, 1):
        label = f"{platform_file} line {n} ({sample.note})"
        if sample.body_text is not None:
            with pytest.raises(json.JSONDecodeError):
                json.loads(sample.body_text)
            assert (sample.expect.status, sample.expect.comments, sample.expect.events, sample.expect.rejected) == (400, 0, 0, 0), label
            continue
        parsed = parse(platform_file, sample)
        assert len(parsed.rejected) == sample.expect.rejected, label
        assert sum(r.type != "comment" for r in parsed.records) == sample.expect.events, label
        if sample.expect.status == 422:
            assert not parsed.records and parsed.rejected, label
        else:
            assert sample.expect.status == 200 and (parsed.records or not parsed.rejected), label
        new = 0
        for record in parsed.records:
            assert record.room in configured, label
            if record.type != "comment":
                continue
            # Without a message id the store deduplicates by user and text (within 10 s).
            key = (record.platform, record.room, record.message_id or f"user {record.user_id}: {record.text}")
            if key not in seen:
                new += 1
                seen.add(key)
        assert new == sample.expect.comments, label


@pytest.mark.parametrize("platform_file", PLATFORM_FILES)
def test_ids_are_unique_but_for_one_deliberate_retry(platform_file):
    samples = load_samples(platform_file)
    seen_ids: set[tuple[str, str]] = set()
    bodies: list = []
    retries = 0
    for n, sample in enumerate(samples, 1):
        if sample.body_text is not None:
            continue
        ids = {(r.room, r.message_id) for r in parse(platform_file, sample).records if r.message_id is not None}
        if sample.body in bodies:
            retries += 1
            assert "duplicate" in sample.note and ids and ids <= seen_ids, f"line {n}"
        else:
            assert not ids & seen_ids, f"{platform_file} line {n} reuses a message id"
        bodies.append(sample.body)
        seen_ids |= ids
    assert retries == 1


def test_sample_files_are_utf8_json_lines():
    for name in PLATFORM_FILES:
        lines = (SAMPLES_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert (SAMPLES_DIR / "README.md").exists()
    with pytest.raises(ValueError):
        load_samples("tiktok")
    with pytest.raises(ValueError):
        Sample.model_validate({"note": "x", "expect": {"status": 200, "comments": 0, "events": 0, "rejected": 0}})
    with pytest.raises(ValueError):
        Sample.model_validate({"note": "x", "expect": {"status": 200, "comments": 0, "events": 0, "rejected": 0}, "body": [], "body_text": "["})
    assert Sample.model_validate({"note": "x", "expect": {"status": 200, "comments": 0, "events": 0, "rejected": 0}, "body": None}).body is None


# -- Douyin push signature -------------------------------------------------------------
SECRET = "9f1c2e7a5b3d4c6e8a0b1c2d3e4f5a6b"
HEADERS = {"x-nonce-str": "Hk3mP9qW", "x-timestamp": "1763812800", "x-roomid": "7436510000000000100", "x-msg-type": "live_comment"}
BODY = json.dumps([{"msg_id": "1", "content": "医保卡丢了怎么补办", "timestamp": 1763812800123}], ensure_ascii=False).encode("utf-8")


def test_signature_known_vector():
    # Computed independently: headers sorted by name, key=value joined by &, then body, then secret; md5; base64.
    plain = ("x-msg-type=live_comment&x-nonce-str=Hk3mP9qW&x-roomid=7436510000000000100&x-timestamp=1763812800"
             + BODY.decode("utf-8") + SECRET)
    expected = base64.b64encode(hashlib.md5(plain.encode("utf-8")).digest()).decode()
    assert douyin.signature(HEADERS, BODY, SECRET) == expected
    assert douyin.signature({"x-timestamp": "1", "x-roomid": "r", "x-msg-type": "t", "x-nonce-str": "n"}, b"[]", "s") == base64.b64encode(
        hashlib.md5(b"x-msg-type=t&x-nonce-str=n&x-roomid=r&x-timestamp=1[]s").digest()).decode()
    # Other headers are not signed.
    assert douyin.signature({**HEADERS, "content-type": "application/json"}, BODY, SECRET) == expected


def test_signature_round_trip_tampering_and_header_case():
    signed = {**HEADERS, "x-signature": douyin.signature(HEADERS, BODY, SECRET)}
    assert douyin.verify_signature(signed, BODY, SECRET)
    upper = {k.upper() if k != "x-roomid" else "X-RoomId": v for k, v in signed.items()}
    assert douyin.signature(upper, BODY, SECRET) == signed["x-signature"]
    assert douyin.verify_signature(upper, BODY, SECRET)
    assert not douyin.verify_signature(signed, BODY.replace("医保".encode(), "社保".encode()), SECRET)
    assert not douyin.verify_signature(signed, BODY, SECRET + "x")
    assert not douyin.verify_signature({**signed, "x-roomid": "7436510000000000101"}, BODY, SECRET)
    assert not douyin.verify_signature(HEADERS, BODY, SECRET)  # no x-signature
    assert not douyin.verify_signature({**signed, "x-signature": "签名"}, BODY, SECRET)  # non-ASCII does not raise
    assert not douyin.verify_signature(signed, b"\xff\xfe not utf-8", SECRET)


# -- replay ------------------------------------------------------------------------------
def restamped_body(platform_file: str, sample: Sample, platform_room: str, suffix: str) -> tuple[Sample, object]:
    if platform_file == "douyin_official":
        out = douyin.restamp_official({"headers": sample.headers, "body": sample.body}, platform_room=platform_room, suffix=suffix, now=REPLAY_AT)
        return sample.model_copy(update={"headers": out["headers"]}), out["body"]
    if platform_file == "douyin_bridge":
        return sample, douyin.restamp_bridge(sample.body, platform_room=platform_room, suffix=suffix, now=REPLAY_AT)
    if platform_file == "kuaishou":
        body = kuaishou.restamp(sample.body, platform_room=platform_room, suffix=suffix, now=REPLAY_AT) if isinstance(sample.body, dict) else sample.body
        return sample.model_copy(update={"query": {"room": platform_room}}), body
    body = wechat_channels.restamp(sample.body, platform_room=platform_room, suffix=suffix, now=REPLAY_AT) if isinstance(sample.body, dict) else sample.body
    return sample, body


@pytest.mark.parametrize("platform_file", PLATFORM_FILES)
def test_restamped_samples_parse_the_same_in_the_new_room(platform_file):
    platform_room = ROOMS[3][PLATFORM[platform_file]]  # county-3, used by no sample
    for n, sample in enumerate(load_samples(platform_file), 1):
        if sample.body_text is not None:
            continue
        before = json.dumps(sample.body, sort_keys=True)
        original = parse(platform_file, sample)
        replay_sample, body = restamped_body(platform_file, sample, platform_room, "~r7")
        assert json.dumps(sample.body, sort_keys=True) == before, "restamp must not change the recording"
        replayed = parse(platform_file, replay_sample, body)
        label = f"{platform_file} line {n}"
        assert len(replayed.rejected) == len(original.rejected), label
        assert [r.type for r in replayed.records] == [r.type for r in original.records], label
        for old, new in zip(original.records, replayed.records):
            assert new.room == platform_room, label
            assert new.message_id == (None if old.message_id is None else old.message_id + "~r7"), label
            assert new.text == old.text and new.hidden == old.hidden, label
            if old.platform_time is not None:
                assert new.platform_time == REPLAY_AT, label


def test_restamp_official_headers_and_malformed_parts():
    sample = {"note": "n", "headers": {"X-RoomId": "7436510000000000100", "x-msg-type": "live_comment", "X-Timestamp": "1"},
              "body": [{"msg_id": 5, "timestamp": 1}, {"content": "no id"}, "x"]}
    out = douyin.restamp_official(sample, platform_room="7436510000000000103", suffix="-a", now=REPLAY_AT)
    assert out["headers"] == {"X-RoomId": "7436510000000000103", "x-msg-type": "live_comment", "x-timestamp": str(int(REPLAY_AT.timestamp()))}
    assert out["body"] == [{"msg_id": "5-a", "timestamp": int(REPLAY_AT.timestamp() * 1000)}, {"content": "no id"}, "x"]
    assert out["note"] == "n" and sample["headers"]["X-RoomId"] == "7436510000000000100"
    missing = douyin.restamp_official({"headers": {"x-msg-type": "live_comment"}, "body": {"msg_id": "1"}}, platform_room="r", suffix="s", now=REPLAY_AT)
    assert "x-roomid" not in missing["headers"] and missing["body"] == {"msg_id": "1"}
    assert douyin.restamp_official({"body_text": "[{"}, platform_room="r", suffix="s", now=REPLAY_AT) == {"body_text": "[{"}


def test_restamp_bridge_rewrites_the_data_string():
    msg = {"Type": 1, "Data": json.dumps({"MsgId": 99, "RoomId": "7436510000000000100", "Content": "戶口遷移"}, ensure_ascii=False)}
    out = douyin.restamp_bridge(msg, platform_room="7436510000000000103", suffix="-b", now=REPLAY_AT)
    assert json.loads(out["Data"]) == {"MsgId": "99-b", "RoomId": "7436510000000000103", "Content": "戶口遷移"}
    assert "戶口遷移" in out["Data"]  # ensure_ascii=False
    for bad in ({"Type": 1, "Data": "{not json"}, {"Type": 1, "Data": "[]"}, {"Type": 1, "Data": 5}, {"Type": "1"}):
        assert douyin.restamp_bridge(bad, platform_room="r", suffix="s", now=REPLAY_AT) == bad
