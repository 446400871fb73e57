"""The SQLite store on its own: dedupe, transactions, sequence numbers, leases, work orders."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest

from assistant.ingest.record import SHANGHAI, CommentRecord, Rejected
from assistant.store import SqliteStore
from assistant.store.sqlite import ReplayedPush

T0 = dt.datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)


def comment(text="社保怎么转移", *, message_id=None, user="u1", at=T0, kind="comment", room="7436510000000000100"):
    return CommentRecord(platform="douyin", room=room, message_id=message_id, user_id=user, nickname="n", text=text if kind == "comment" else "",
                         type=kind, platform_time=None, received_at=at, raw={"t": text})


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "govlive.db", dedupe_window_seconds=10)
    yield s
    s.close()


def test_without_message_id_same_user_and_text_within_the_window_is_one_comment(store):
    assert store.add_records([(comment(), "city")]).as_dict()["accepted"] == 1
    again = store.add_records([(comment(at=T0 + dt.timedelta(seconds=9)), "city"), (comment(user="u2"), "city")])
    assert again.as_dict() == {"accepted": 1, "duplicates": 1, "counted": 0}
    later = store.add_records([(comment(at=T0 + dt.timedelta(seconds=11)), "city")])
    assert later.as_dict()["accepted"] == 1  # the same question asked again later is a new comment


def test_message_ids_are_unique_per_platform_room(store):
    result = store.add_records([(comment(message_id="m1"), "city"), (comment(message_id="m1"), "city"),
                                (comment(message_id="m1", room="other"), "county-1")])
    assert result.as_dict() == {"accepted": 2, "duplicates": 1, "counted": 0}


def test_other_event_types_are_counted_per_day_room_and_platform(store):
    store.add_records([(comment(kind="like"), "city")] * 3 + [(comment(kind="gift"), "city")])
    assert store.status()["events_counted"] == {"like": 3, "gift": 1}
    assert store.status()["comments"] == 0


def test_a_failed_transaction_leaves_nothing(store):
    (cid,) = store.add_records([(comment(message_id="m"), "city")]).new_comment_ids
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.append_event("city", "answer", {"comment_id": cid, "platform": "douyin", "nickname": None, "comment": "x"})
            raise RuntimeError("crash between writes")
    assert store.current_seq("city") == 0 and store.events_since("city", 0) == []


def test_sequence_numbers_are_per_room_and_replay_in_order(store):
    (cid,) = store.add_records([(comment(message_id="m"), "city")]).new_comment_ids
    fields = {"comment_id": cid, "platform": "douyin", "nickname": None, "comment": "x"}
    with store.transaction():
        seqs = [store.append_event("city", "answer", fields).seq for _ in range(3)] + [store.append_event("county-1", "suggest", fields).seq]
    assert seqs == [1, 2, 3, 1]
    assert [e.seq for e in store.events_since("city", 1)] == [2, 3]
    assert store.latest_displayable("county-1") is None and store.latest_displayable("city").seq == 3


def test_host_leases_expire_and_acks_are_checked(store):
    with store.transaction():
        store.enqueue_host_item("city", comment_id=None, entry_id="e", question="q", text="t")
    first = store.lease_host_item("city", now=1000.0, lease_seconds=30)
    assert first.deliveries == 1
    assert store.lease_host_item("city", now=1020.0, lease_seconds=30) is None  # still leased
    second = store.lease_host_item("city", now=1031.0, lease_seconds=30)
    assert (second.item_id, second.deliveries) == (first.item_id, 2)
    assert store.ack_host_item(first.lease_id, now=1032.0) == "unknown"
    assert store.ack_host_item(second.lease_id, now=1032.0) == "spoken"
    assert store.ack_host_item(second.lease_id, now=1033.0) == "already"
    assert store.lease_host_item("city", now=5000.0, lease_seconds=30) is None


def test_a_comment_is_filed_once(store):
    (cid,) = store.add_records([(comment(message_id="m"), "city")]).new_comment_ids
    (stored,) = store.pending_comments(10)
    with store.transaction():
        deadlines = {"dispatch_due": "2026-11-23T10:00:00+08:00", "resolve_due": "2026-11-25T17:30:00+08:00", "provisional": False}
        filed = [store.file_work_order(stored, source="pipeline", intent="request", reason="r", domain=None, suggested_department=None,
                                       entry_id=None, display="d", contact=[], complexity="ordinary", deadlines=deadlines, actor="system")
                 for _ in range(2)]
    assert [created for _, created in filed] == [True, False] and len({i for i, _ in filed}) == 1
    (order,) = store.work_orders()
    assert order.comment_id == cid and order.status == "待派单" and order.resolve_due == deadlines["resolve_due"]
    assert [e["action"] for e in store.work_order_history(order.id)] == ["file"]  # filed once, audited once


def test_reopening_the_file_keeps_everything(tmp_path):
    s = SqliteStore(tmp_path / "g.db")
    s.add_records([(comment(message_id="m"), "city")])
    s.close()
    s = SqliteStore(tmp_path / "g.db")
    assert s.count_pending() == 1 and s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()


# -- one push, one transaction --------------------------------------------------------
class DiskFullOnRejects(SqliteStore):
    """A store whose write of the reject summary fails as it does on a full disk."""

    def record_rejects(self, platform, endpoint, rejected, raw):
        if rejected:
            self._conn.execute("INSERT INTO audit(at, actor, action, target, detail) VALUES ('t', 'x', 'x', 'x', '{}')")  # a write that must vanish too
            raise sqlite3.OperationalError("database or disk is full")
        super().record_rejects(platform, endpoint, rejected, raw)


def test_a_push_whose_reject_write_fails_stores_nothing_and_its_retry_is_stored_once(tmp_path):
    store = DiskFullOnRejects(tmp_path / "govlive.db")
    push = dict(platform="douyin", endpoint="douyin", raw="[…]")
    items = [(comment("社保怎么转移", message_id="m1"), "city"), (comment(kind="like", message_id="l1"), "city")]
    with pytest.raises(sqlite3.OperationalError):
        store.store_push(items, rejected=[Rejected(where="item 2", reason="msg_id is missing")], nonce=("douyin", "n1", 2e9), **push)
    figures = store.status()
    assert (figures["comments"], figures["pending"], figures["events_counted"], figures["rejected_items"]) == (0, 0, {}, 0)
    assert store._one("SELECT count(*) FROM audit")[0] == 0
    # The nonce was not kept either, so the platform may retry it as it is; the retry is stored once.
    again = store.store_push(items, rejected=[], nonce=("douyin", "n1", 2e9), **push)
    assert again.as_dict() == {"accepted": 1, "duplicates": 0, "counted": 1}
    assert store.status()["comments"] == 1 and store.status()["events_counted"] == {"like": 1}
    with pytest.raises(ReplayedPush):
        store.store_push(items, rejected=[], nonce=("douyin", "n1", 2e9), **push)
    assert store.status()["events_counted"] == {"like": 1}, "a replayed push counts nothing"
    store.close()


def test_nonces_outlive_a_restart_within_their_window_and_are_pruned_after(tmp_path):
    store = SqliteStore(tmp_path / "govlive.db")
    assert store.claim_nonce("kuaishou", "abc12345", 1300.0, now=1000.0)
    assert not store.claim_nonce("kuaishou", "abc12345", 1300.0, now=1001.0)
    assert store.claim_nonce("wechat_channels", "abc12345", 1300.0, now=1001.0), "nonces are per source"
    store.close()
    store = SqliteStore(tmp_path / "govlive.db")  # a restart inside the window
    assert not store.claim_nonce("kuaishou", "abc12345", 1300.0, now=1200.0)
    assert store.claim_nonce("douyin", "other", 1700.0, now=1400.0)  # after the window: the old ones are deleted
    assert store._one("SELECT count(*) FROM push_nonces")[0] == 1
    store.close()


def test_rejected_items_are_one_bounded_row_per_push_and_counted_per_item(tmp_path):
    from assistant.store.sqlite import MAX_REJECT_RAW, MAX_REJECTS_KEPT

    store = SqliteStore(tmp_path / "govlive.db")
    rejected = [Rejected(where=f"event {i}", reason="expected a JSON object") for i in range(8000)]
    store.store_push([(comment(message_id="good"), "city")], platform="wechat_channels", endpoint="wechat_channels",
                     rejected=rejected, raw="x" * 600_000)
    (row,) = store.rejected_pushes()
    assert row["count"] == 8000 and len(row["items"]) == MAX_REJECTS_KEPT and row["items"][0] == {"where": "event 0", "reason": "expected a JSON object"}
    assert len(row["raw"]) == MAX_REJECT_RAW
    assert store.status()["rejected_items"] == 8000
    assert store._one("SELECT count(*) FROM rejected_items")[0] == 1
    store.close()


def test_a_database_of_the_earlier_version_keeps_its_rejected_items(tmp_path):
    import sqlite3 as sq

    path = tmp_path / "govlive.db"
    old = sq.connect(path)
    old.execute("CREATE TABLE rejected_items (id INTEGER PRIMARY KEY, at TEXT, platform TEXT, endpoint TEXT, where_ TEXT, reason TEXT, raw TEXT)")
    old.executemany("INSERT INTO rejected_items(at, platform, endpoint, where_, reason, raw) VALUES ('t', 'douyin', 'douyin', ?, 'r', '[]')",
                    [(f"item {i}",) for i in range(3)])  # one row per item, as the earlier version wrote them
    old.commit()
    old.close()
    store = SqliteStore(path)
    store.record_rejects("kuaishou", "kuaishou", [Rejected(where="a", reason="b")] * 5, "{}")
    assert store.status()["rejected_items"] == 3 + 5
    assert [r["count"] for r in store.rejected_pushes()] == [5, 1, 1, 1]
    store.close()


def test_reads_do_not_wait_for_a_write_in_progress_on_another_thread(store):
    store.add_records([(comment(message_id="m0"), "city")])
    inside, release = threading.Event(), threading.Event()

    def long_push():
        with store.transaction():
            store.add_records([(comment(message_id="m1"), "city")])
            inside.set()
            release.wait(10)

    writer = threading.Thread(target=long_push)
    writer.start()
    assert inside.wait(10)
    started = time.monotonic()
    figures = store.status()  # from this thread, while the other holds the write transaction open
    waited = time.monotonic() - started
    release.set()
    writer.join()
    assert waited < 2, f"a read waited {waited:.1f} s for another thread's write"
    assert figures["comments"] == 1, "a read sees what is committed, not a write in progress"
    assert store.status()["comments"] == 2
