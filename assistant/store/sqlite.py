"""The embedded store: one SQLite file in WAL mode, through sqlite-utils.

Durability: every push is committed before it is acknowledged. WAL with
``synchronous=NORMAL`` survives a killed process (the case that matters at
3 a.m.) at a fraction of the cost of an fsync per push; a machine that may
lose power without a UPS wants ``synchronous=FULL`` in ``PRAGMAS``.

Methods that change several tables are meant to run inside
:meth:`SqliteStore.transaction`, so a crash leaves either all of a
comment's consequences or none of them.

Threads: the event loop hands long writes (a push, a batch of decisions) to
worker threads. Writes go through one connection under a lock, so they are
serialised; reads from a thread that is not inside a transaction use a second,
read-only connection, which in WAL mode sees the last commit without waiting
for a write in progress.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from assistant.ingest.record import SHANGHAI, CommentRecord, Rejected

from .records import HostItem, RoomEvent, StoredComment, WorkOrder

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON")
MAX_REJECT_RAW = 8 * 1024  # a push with rejected items is kept for inspection, cut to this many characters
MAX_REJECTS_KEPT = 20  # where/reason pairs kept (and answered) per push; the count covers them all
MAX_REJECT_TEXT = 300  # characters of one where or reason kept
SCHEMA_VERSION = 1


class StoreError(RuntimeError):
    pass


class ReplayedPush(StoreError):
    """A push whose nonce was already accepted within its replay window."""


def now_iso(at: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if at is None else at, SHANGHAI).isoformat(timespec="milliseconds")


class AddResult:
    def __init__(self) -> None:
        self.new_comment_ids: list[int] = []
        self.duplicates = 0
        self.counted = 0  # non-comment events (likes, gifts, enters …)

    def as_dict(self) -> dict[str, int]:
        return {"accepted": len(self.new_comment_ids), "duplicates": self.duplicates, "counted": self.counted}


class SqliteStore:
    def __init__(self, path: Path, *, dedupe_window_seconds: float = 10.0):
        self.path = Path(path)
        self.dedupe_window_seconds = dedupe_window_seconds
        # One connection for writes, shared by the event loop and worker threads under the lock.
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread inside transaction(), if any
        for pragma in PRAGMAS:
            self._conn.execute(pragma)
        self.db = sqlite_utils.Database(self._conn)
        self._create_schema()
        # Reads outside a transaction: a write in progress on another thread does not hold them up.
        self._reader = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._reader.row_factory = sqlite3.Row
        self._reader.execute("PRAGMA busy_timeout=5000")
        self._reader.execute("PRAGMA query_only=ON")
        self._read_lock = threading.Lock()

    def close(self) -> None:
        self._reader.close()
        self._conn.close()

    # -- schema ---------------------------------------------------------------------
    def _create_schema(self) -> None:
        db = self.db
        db["comments"].create(
            {
                "id": int, "platform": str, "platform_room": str, "room": str, "message_id": str,
                "user_id": str, "nickname": str, "text": str, "type": str, "platform_time": str,
                "received_at": str, "received_epoch": float, "hidden": int, "raw": str,
                # filled in by the pipeline
                "state": str, "processed_at": str, "decision": str, "intent": str, "reason": str,
                "entry_id": str, "score": float, "domain": str, "department": str, "display": str,
                "match": str,
                # a suggestion's fate on the control page: pending | approved | skipped | filed
                "review": str,
                # on the staff page: answered (added to the bank) | filed | dismissed
                "staff_review": str,
            },
            pk="id",
            not_null={"platform", "platform_room", "room", "text", "type", "received_at", "received_epoch", "hidden", "raw", "state"},
            defaults={"state": "pending", "hidden": 0},
            if_not_exists=True,
        )
        self._add_columns("comments", {"staff_review": str})
        db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS comments_platform_message ON comments(platform, platform_room, message_id) "
            "WHERE message_id IS NOT NULL"
        )
        db.execute("CREATE INDEX IF NOT EXISTS comments_pending ON comments(state, id)")
        db.execute("CREATE INDEX IF NOT EXISTS comments_no_id ON comments(platform, platform_room, user_id, text, received_epoch) WHERE message_id IS NULL")
        db.execute("CREATE INDEX IF NOT EXISTS comments_review ON comments(room, review, id)")
        db["room_events"].create(
            {"room": str, "seq": int, "kind": str, "comment_id": int, "at": str, "payload": str},
            pk=("room", "seq"),
            not_null={"kind", "comment_id", "at", "payload"},
            if_not_exists=True,
        )
        db["host_items"].create(
            {
                "id": int, "room": str, "comment_id": int, "entry_id": str, "question": str, "text": str,
                "state": str, "lease_id": str, "lease_until": float, "deliveries": int,
                "created_at": str, "spoken_at": str,
            },
            pk="id",
            not_null={"room", "question", "text", "state", "deliveries", "created_at"},
            defaults={"state": "queued", "deliveries": 0},
            if_not_exists=True,
        )
        db.execute("CREATE INDEX IF NOT EXISTS host_items_next ON host_items(room, state, id)")
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS host_items_lease ON host_items(lease_id) WHERE lease_id IS NOT NULL")
        db["work_orders"].create(
            {
                "id": int, "comment_id": int, "room": str, "platform": str, "status": str, "source": str,
                "created_at": str, "intent": str, "reason": str, "domain": str, "department": str,
                "entry_id": str, "display": str, "citizen_text": str, "contact": str,
            },
            pk="id",
            not_null={"comment_id", "room", "platform", "status", "source", "created_at", "reason", "display", "citizen_text", "contact"},
            if_not_exists=True,
        )
        # The 125-rule columns (added in place to a database from an earlier version).
        self._add_columns("work_orders", {
                "suggested_department": str, "complexity": str, "clock_started_at": str, "dispatch_due": str,
                "resolve_due": str, "provisional": int, "provisional_reason": str, "dispatched_at": str,
                "accepted_at": str, "closed_at": str, "resolution": str, "revisited_at": str, "satisfied": int,
                "revisit_note": str, "reopen_count": int, "returned_count": int, "last_colour": str, "updated_at": str,
        })
        # One work order per comment, however often the pipeline or an operator retries.
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS work_orders_comment ON work_orders(comment_id)")
        db.execute("CREATE INDEX IF NOT EXISTS work_orders_status ON work_orders(status, room)")
        # The audit trail: every change to an order, who made it and what changed. Never updated or deleted.
        db["work_order_events"].create(
            {"id": int, "order_id": int, "at": str, "actor": str, "action": str, "from_status": str, "to_status": str, "changes": str},
            pk="id",
            not_null={"order_id", "at", "actor", "action", "changes"},
            if_not_exists=True,
        )
        db.execute("CREATE INDEX IF NOT EXISTS work_order_events_order ON work_order_events(order_id, id)")
        # Notifications are written in the same transaction as what caused them
        # and sent afterwards with retries, so a receiver that is down loses nothing.
        db["outbox"].create(
            {
                "id": int, "created_at": str, "kind": str, "order_id": int, "department": str, "url": str,
                "payload": str, "state": str, "attempts": int, "next_attempt_at": float, "delivered_at": str, "last_error": str,
            },
            pk="id",
            not_null={"created_at", "kind", "payload", "state", "attempts"},
            defaults={"state": "pending", "attempts": 0},
            if_not_exists=True,
        )
        db.execute("CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at)")
        db["event_counts"].create(
            {"day": str, "room": str, "platform": str, "type": str, "count": int},
            pk=("day", "room", "platform", "type"),
            if_not_exists=True,
        )
        # One row per push with items it could not use: the first item's where_/reason, how many
        # there were (count; NULL in rows of an earlier version, one row per item) and the first few.
        db["rejected_items"].create(
            {"id": int, "at": str, "platform": str, "endpoint": str, "where_": str, "reason": str, "raw": str, "count": int, "items": str},
            pk="id",
            if_not_exists=True,
        )
        self._add_columns("rejected_items", {"count": int, "items": str})
        # Nonces of accepted signed pushes, until their timestamp leaves the replay window.
        db["push_nonces"].create(
            {"source": str, "nonce": str, "expires": float},
            pk=("source", "nonce"),
            not_null={"expires"},
            if_not_exists=True,
        )
        db.execute("CREATE INDEX IF NOT EXISTS push_nonces_expires ON push_nonces(expires)")
        db["audit"].create(
            {"id": int, "at": str, "actor": str, "action": str, "target": str, "detail": str},
            pk="id",
            if_not_exists=True,
        )
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _add_columns(self, table: str, columns: dict[str, type]) -> None:
        """Columns a later version added, added in place so an operator's existing database keeps working."""
        existing = set(self.db[table].columns_dict)
        for name, kind in columns.items():
            if name not in existing:
                self.db[table].add_column(name, kind)

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT (or ROLLBACK on error); nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            self._owner = threading.get_ident()
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0
                self._owner = None

    def _reading(self) -> tuple[sqlite3.Connection, Any]:
        """Inside this thread's transaction: the write connection (it sees its own writes); else the reader."""
        if self._owner == threading.get_ident():
            return self._conn, self._lock
        return self._reader, self._read_lock

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        conn, lock = self._reading()
        with lock:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn, lock = self._reading()
        with lock:
            return conn.execute(sql, params).fetchall()

    # -- ingest ---------------------------------------------------------------------
    def add_records(self, items: Sequence[tuple[CommentRecord, str]]) -> AddResult:
        """Store a push's records (each with its govlive room) in one transaction.

        Chat comments become rows, once each; other event types are counted.
        """
        result = AddResult()
        with self.transaction():
            for record, room in items:
                if record.type != "comment":
                    day = (record.platform_time or record.received_at).astimezone(SHANGHAI).date().isoformat()
                    self._conn.execute(
                        "INSERT INTO event_counts(day, room, platform, type, count) VALUES (?, ?, ?, ?, 1) "
                        "ON CONFLICT(day, room, platform, type) DO UPDATE SET count = count + 1",
                        (day, room, record.platform, record.type),
                    )
                    result.counted += 1
                    continue
                received_epoch = record.received_at.timestamp()
                if record.message_id is None and self._recent_same_text(record, received_epoch):
                    result.duplicates += 1
                    continue
                cur = self._conn.execute(
                    "INSERT OR IGNORE INTO comments(platform, platform_room, room, message_id, user_id, nickname, text, type, "
                    "platform_time, received_at, received_epoch, hidden, raw, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, 'pending')",
                    (
                        record.platform, record.room, room, record.message_id, record.user_id, record.nickname,
                        record.text, record.type,
                        record.platform_time.isoformat() if record.platform_time else None,
                        record.received_at.isoformat(timespec="milliseconds"), received_epoch, int(record.hidden),
                        json.dumps(record.raw, ensure_ascii=False),
                    ),
                )
                if cur.rowcount:
                    result.new_comment_ids.append(cur.lastrowid)
                else:
                    result.duplicates += 1
        return result

    def _recent_same_text(self, record: CommentRecord, received_epoch: float) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM comments WHERE message_id IS NULL AND platform = ? AND platform_room = ? AND user_id IS ? "
            "AND text = ? AND received_epoch BETWEEN ? AND ? LIMIT 1",
            (record.platform, record.room, record.user_id, record.text,
             received_epoch - self.dedupe_window_seconds, received_epoch + self.dedupe_window_seconds),
        ).fetchone()
        return row is not None

    def store_push(
        self, items: Sequence[tuple[CommentRecord, str]], *, platform: str, endpoint: str, rejected: Sequence[Rejected] = (),
        raw: str = "", nonce: tuple[str, str, float] | None = None, now: float | None = None,
    ) -> AddResult:
        """All of one push in one transaction: its nonce (``(source, nonce, expires)``), records and reject summary.

        Raises :class:`ReplayedPush` (storing nothing) when the nonce was
        accepted before; any other failure also stores nothing, so the
        platform's retry is stored once.
        """
        with self.transaction():
            if nonce is not None and not self.claim_nonce(*nonce, now=now):
                raise ReplayedPush(f"nonce {nonce[1][:40]!r} was already used: a push is accepted once")
            result = self.add_records(items)
            self.record_rejects(platform, endpoint, rejected, raw)
        return result

    def claim_nonce(self, source: str, nonce: str, expires: float, *, now: float | None = None) -> bool:
        """Remember a signed push's nonce until ``expires`` (epoch seconds); False if it is remembered already.

        Expired nonces are deleted as new ones arrive, so the table holds at most one replay window of pushes.
        """
        now = time.time() if now is None else now
        with self.transaction():
            self._conn.execute("DELETE FROM push_nonces WHERE expires < ?", (now,))
            cur = self._conn.execute("INSERT OR IGNORE INTO push_nonces(source, nonce, expires) VALUES (?,?,?)", (source, nonce, expires))
            return cur.rowcount == 1

    def record_rejects(self, platform: str, endpoint: str, rejected: Sequence[Rejected], raw: str) -> None:
        """Keep what a push could not use, so nobody has to guess later what a platform sent.

        One row per push, however many items it had: how many, the first
        ``MAX_REJECTS_KEPT`` where/reason pairs and the body cut to
        ``MAX_REJECT_RAW`` characters.
        """
        if not rejected:
            return
        kept = [{"where": r.where[:MAX_REJECT_TEXT], "reason": r.reason[:MAX_REJECT_TEXT]} for r in rejected[:MAX_REJECTS_KEPT]]
        with self.transaction():
            self._conn.execute(
                "INSERT INTO rejected_items(at, platform, endpoint, where_, reason, raw, count, items) VALUES (?,?,?,?,?,?,?,?)",
                (now_iso(), platform, endpoint, kept[0]["where"], kept[0]["reason"], raw[:MAX_REJECT_RAW], len(rejected),
                 json.dumps(kept, ensure_ascii=False)),
            )

    def rejected_pushes(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest pushes with rejected items, newest first: at, platform, endpoint, count, items (where/reason), raw."""
        rows = self._all("SELECT id, at, platform, endpoint, where_, reason, raw, count, items FROM rejected_items ORDER BY id DESC LIMIT ?", (limit,))
        out = []
        for r in rows:
            items = json.loads(r["items"]) if r["items"] else [{"where": r["where_"], "reason": r["reason"]}]
            out.append({"id": r["id"], "at": r["at"], "platform": r["platform"], "endpoint": r["endpoint"],
                        "count": r["count"] if r["count"] is not None else 1, "items": items, "raw": r["raw"]})
        return out

    # -- pipeline -------------------------------------------------------------------
    def pending_comments(self, limit: int) -> list[StoredComment]:
        rows = self._all(
            "SELECT id, platform, platform_room, room, message_id, user_id, nickname, text, received_at, hidden "
            "FROM comments WHERE state = 'pending' ORDER BY id LIMIT ?",
            (limit,),
        )
        return [StoredComment(**{**dict(r), "hidden": bool(r["hidden"])}) for r in rows]

    def count_pending(self) -> int:
        return self._one("SELECT count(*) FROM comments WHERE state = 'pending'")[0]

    def mark_processed(self, comment_id: int, match: dict[str, Any], *, review: str | None = None) -> None:
        self._conn.execute(
            "UPDATE comments SET state = 'done', processed_at = ?, decision = ?, intent = ?, reason = ?, entry_id = ?, "
            "score = ?, domain = ?, department = ?, display = ?, match = ?, review = ? WHERE id = ?",
            (
                now_iso(), match["decision"], match["intent"], match["reason"], match.get("entry_id"), match.get("score"),
                match.get("domain"), match.get("department"), match["display"], json.dumps(match, ensure_ascii=False),
                review, comment_id,
            ),
        )

    def mark_failed(self, comment_id: int, reason: str) -> None:
        """The matcher could not process this comment: keep it, out of the pending queue, for staff."""
        with self.transaction():
            self._conn.execute(
                "UPDATE comments SET state = 'failed', processed_at = ?, reason = ? WHERE id = ?", (now_iso(), reason[:500], comment_id)
            )

    def append_event(self, room: str, kind: str, fields: dict[str, Any]) -> RoomEvent:
        """Give the room's next sequence number to an overlay event and store it (inside a transaction)."""
        seq = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM room_events WHERE room = ?", (room,)).fetchone()[0]
        event = RoomEvent(seq=seq, room=room, kind=kind, at=now_iso(), **fields)
        self._conn.execute(
            "INSERT INTO room_events(room, seq, kind, comment_id, at, payload) VALUES (?,?,?,?,?,?)",
            (room, seq, kind, event.comment_id, event.at, event.model_dump_json()),
        )
        return event

    def enqueue_host_item(self, room: str, *, comment_id: int | None, entry_id: str | None, question: str, text: str) -> int:
        cur = self._conn.execute(
            "INSERT INTO host_items(room, comment_id, entry_id, question, text, state, deliveries, created_at) VALUES (?,?,?,?,?, 'queued', 0, ?)",
            (room, comment_id, entry_id, question, text, now_iso()),
        )
        return cur.lastrowid

    def file_work_order(
        self, comment: StoredComment, *, source: str, intent: str | None, reason: str, domain: str | None,
        suggested_department: str | None, entry_id: str | None, display: str, contact: list[dict[str, Any]],
        complexity: str, deadlines: dict[str, Any], actor: str, at: str | None = None,
    ) -> tuple[int, bool]:
        """A pending (待派单) work order for the comment: (id, created now). Filing a comment twice returns the first order.

        ``at`` is the time the deadlines were counted from (the desk's clock), so the two always agree.
        """
        at = at or now_iso()
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO work_orders(comment_id, room, platform, status, source, created_at, intent, reason, domain, "
            "suggested_department, entry_id, display, citizen_text, contact, complexity, clock_started_at, dispatch_due, resolve_due, "
            "provisional, provisional_reason, reopen_count, returned_count, updated_at) "
            "VALUES (?,?,?, '待派单', ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?, 0, 0, ?)",
            (comment.id, comment.room, comment.platform, source, at, intent, reason, domain, suggested_department, entry_id,
             display, comment.text, json.dumps(contact, ensure_ascii=False), complexity, at, deadlines["dispatch_due"],
             deadlines["resolve_due"], int(deadlines["provisional"]), deadlines.get("provisional_reason"), at),
        )
        order_id = self._conn.execute("SELECT id FROM work_orders WHERE comment_id = ?", (comment.id,)).fetchone()[0]
        if cur.rowcount:
            self._order_event(order_id, actor, "file", None, "待派单", {"source": source, "reason": reason, **deadlines})
        return order_id, bool(cur.rowcount)

    def _order_event(self, order_id: int, actor: str, action: str, from_status: str | None, to_status: str | None, changes: dict) -> None:
        self._conn.execute(
            "INSERT INTO work_order_events(order_id, at, actor, action, from_status, to_status, changes) VALUES (?,?,?,?,?,?,?)",
            (order_id, now_iso(), actor, action, from_status, to_status, json.dumps(changes, ensure_ascii=False, default=str)),
        )

    def work_order(self, order_id: int) -> WorkOrder | None:
        row = self._one("SELECT * FROM work_orders WHERE id = ?", (order_id,))
        return _work_order(row) if row else None

    def change_work_order(self, order_id: int, *, expect: set[str], actor: str, action: str, changes: dict[str, Any]) -> WorkOrder | None:
        """Apply ``changes`` if the order's status is one of ``expect`` (inside a transaction), with an audit row.

        Returns the updated order, or None when the status was not as expected
        (someone else changed it first, or the transition is not allowed).
        """
        row = self._conn.execute("SELECT * FROM work_orders WHERE id = ?", (order_id,)).fetchone()
        if row is None or row["status"] not in expect:
            return None
        changes = {**changes, "updated_at": now_iso()}
        columns = ", ".join(f"{k} = ?" for k in changes)
        self._conn.execute(f"UPDATE work_orders SET {columns} WHERE id = ?", (*changes.values(), order_id))
        before = dict(row)
        diff = {k: v for k, v in changes.items() if before.get(k) != v and k != "updated_at"}
        self._order_event(order_id, actor, action, row["status"], changes.get("status", row["status"]), diff)
        return _work_order(self._conn.execute("SELECT * FROM work_orders WHERE id = ?", (order_id,)).fetchone())

    def work_order_history(self, order_id: int) -> list[dict[str, Any]]:
        rows = self._all("SELECT at, actor, action, from_status, to_status, changes FROM work_order_events WHERE order_id = ? ORDER BY id", (order_id,))
        return [{**dict(r), "changes": json.loads(r["changes"])} for r in rows]

    # -- notifications outbox -------------------------------------------------------
    def enqueue_notification(self, *, kind: str, order_id: int | None, department: str | None, url: str | None, payload: dict[str, Any]) -> int:
        state = "pending" if url else "no_webhook"
        cur = self._conn.execute(
            "INSERT INTO outbox(created_at, kind, order_id, department, url, payload, state, attempts, next_attempt_at) VALUES (?,?,?,?,?,?,?,0,?)",
            (now_iso(), kind, order_id, department, url, json.dumps(payload, ensure_ascii=False), state, time.time()),
        )
        return cur.lastrowid

    def due_notifications(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._all("SELECT id, url, payload, attempts FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?", (now, limit))
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    def notification_sent(self, notification_id: int) -> None:
        with self.transaction():
            self._conn.execute("UPDATE outbox SET state = 'delivered', delivered_at = ?, attempts = attempts + 1 WHERE id = ?", (now_iso(), notification_id))

    def notification_failed(self, notification_id: int, error: str, next_attempt_at: float) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error[:500], next_attempt_at, notification_id),
            )

    def outbox_counts(self) -> dict[str, int]:
        # "failed": not delivered yet and at least one attempt failed (it is still being retried).
        rows = self._all("SELECT CASE WHEN state = 'pending' AND attempts > 0 THEN 'failed' ELSE state END AS s, count(*) AS n FROM outbox GROUP BY s")
        return {r["s"]: r["n"] for r in rows}

    def notifications(self, order_id: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, created_at, kind, order_id, department, url, payload, state, attempts, delivered_at, last_error FROM outbox"
        rows = self._all(sql + (" WHERE order_id = ?" if order_id else "") + " ORDER BY id", (order_id,) if order_id else ())
        return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        self._conn.execute(
            "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
            (now_iso(), actor, action, target, json.dumps(detail or {}, ensure_ascii=False)),
        )

    # -- overlay --------------------------------------------------------------------
    def current_seq(self, room: str) -> int:
        return self._one("SELECT COALESCE(MAX(seq), 0) FROM room_events WHERE room = ?", (room,))[0]

    def events_since(self, room: str, since: int, limit: int = 500) -> list[RoomEvent]:
        rows = self._all("SELECT payload FROM room_events WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?", (room, since, limit))
        return [RoomEvent.model_validate_json(r["payload"]) for r in rows]

    def latest_displayable(self, room: str) -> RoomEvent | None:
        row = self._one("SELECT payload FROM room_events WHERE room = ? AND kind IN ('answer', 'approved') ORDER BY seq DESC LIMIT 1", (room,))
        return RoomEvent.model_validate_json(row["payload"]) if row else None

    # -- control (suggestions) ------------------------------------------------------
    def comment(self, comment_id: int) -> StoredComment | None:
        row = self._one(
            "SELECT id, platform, platform_room, room, message_id, user_id, nickname, text, received_at, hidden FROM comments WHERE id = ?",
            (comment_id,),
        )
        return StoredComment(**{**dict(row), "hidden": bool(row["hidden"])}) if row else None

    def comment_match(self, comment_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT match FROM comments WHERE id = ?", (comment_id,))
        return json.loads(row["match"]) if row and row["match"] else None

    def pending_suggestions(self, room: str, limit: int = 200) -> list[tuple[StoredComment, dict[str, Any]]]:
        rows = self._all(
            "SELECT id, platform, platform_room, room, message_id, user_id, nickname, text, received_at, hidden, match "
            "FROM comments WHERE room = ? AND review = 'pending' ORDER BY id LIMIT ?",
            (room, limit),
        )
        out = []
        for r in rows:
            d = dict(r)
            match = json.loads(d.pop("match"))
            out.append((StoredComment(**{**d, "hidden": bool(d["hidden"])}), match))
        return out

    def take_suggestion(self, comment_id: int, outcome: str) -> bool:
        """pending → outcome, once (inside a transaction); False if it was not pending."""
        cur = self._conn.execute("UPDATE comments SET review = ? WHERE id = ? AND review = 'pending'", (outcome, comment_id))
        return cur.rowcount == 1

    def review_state(self, comment_id: int) -> str | None:
        row = self._one("SELECT review FROM comments WHERE id = ?", (comment_id,))
        return row["review"] if row else None

    # -- the daily ledger (台账) -------------------------------------------------------
    def ledger_figures(self, day: str, now_iso_text: str) -> list[dict[str, Any]]:
        """Per room and platform for one day (YYYY-MM-DD, Asia/Shanghai), the 台账 counts."""
        like = day + "%"
        rows: dict[tuple[str, str], dict[str, Any]] = {}

        def row(room: str, platform: str) -> dict[str, Any]:
            return rows.setdefault((room, platform), {
                "room": room, "platform": platform, "comments": 0, "questions": 0, "answered_live": 0, "suggested": 0,
                "work_orders_opened": 0, "dispatched_within_1h": 0, "closed_on_time": 0, "overdue": 0,
                "revisited": 0, "satisfied": 0,
            })

        for r in self._all(
            "SELECT room, platform, count(*) AS comments, sum(intent = 'question') AS questions, "
            "sum(decision = 'answer' OR review = 'approved') AS answered_live, sum(decision = 'suggest') AS suggested "
            "FROM comments WHERE received_at LIKE ? GROUP BY room, platform", (like,),
        ):
            row(r["room"], r["platform"]).update({k: r[k] or 0 for k in ("comments", "questions", "answered_live", "suggested")})
        for r in self._all(
            "SELECT room, platform, count(*) AS opened, sum(dispatched_at IS NOT NULL AND dispatched_at <= dispatch_due) AS on_time_dispatch, "
            "sum(closed_at IS NOT NULL AND closed_at <= resolve_due) AS closed_on_time, "
            "sum((closed_at IS NOT NULL AND closed_at > resolve_due) OR (closed_at IS NULL AND resolve_due < ?)) AS overdue "
            "FROM work_orders WHERE created_at LIKE ? GROUP BY room, platform", (now_iso_text, like),
        ):
            row(r["room"], r["platform"]).update({"work_orders_opened": r["opened"] or 0, "dispatched_within_1h": r["on_time_dispatch"] or 0,
                                                  "closed_on_time": r["closed_on_time"] or 0, "overdue": r["overdue"] or 0})
        for r in self._all(
            "SELECT room, platform, count(*) AS revisited, sum(satisfied) AS satisfied FROM work_orders WHERE revisited_at LIKE ? "
            "GROUP BY room, platform", (like,),
        ):
            row(r["room"], r["platform"]).update({"revisited": r["revisited"] or 0, "satisfied": r["satisfied"] or 0})
        return sorted(rows.values(), key=lambda x: (x["room"], x["platform"]))

    def question_topics(self, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """(day, entry) counts of questions: the entry matched, or the closest candidate."""
        rows = self._all(
            "SELECT substr(received_at, 1, 10) AS day, COALESCE(entry_id, json_extract(match, '$.candidates[0].entry_id')) AS entry, "
            "count(*) AS n FROM comments WHERE intent = 'question' AND substr(received_at, 1, 10) BETWEEN ? AND ? GROUP BY day, entry",
            (first_day, last_day),
        )
        return [dict(r) for r in rows if r["entry"]]

    # -- staff review ---------------------------------------------------------------
    def unanswered_comments(self, room: str | None = None, limit: int = 5000) -> list[tuple[StoredComment, dict[str, Any]]]:
        """Questions not answered live: suggestions never approved, and questions the matcher could not answer."""
        sql = (
            "SELECT id, platform, platform_room, room, message_id, user_id, nickname, text, received_at, hidden, match FROM comments "
            "WHERE staff_review IS NULL AND hidden = 0 AND state = 'done' AND "
            "((decision = 'suggest' AND COALESCE(review, '') != 'approved') OR (decision = 'workorder' AND intent = 'question'))"
            + (" AND room = ?" if room else "") + " ORDER BY id DESC LIMIT ?"
        )
        out = []
        for r in self._all(sql, (room, limit) if room else (limit,)):
            d = dict(r)
            match = json.loads(d.pop("match"))
            out.append((StoredComment(**{**d, "hidden": bool(d["hidden"])}), match))
        return out

    def set_staff_review(self, comment_ids: list[int], outcome: str) -> int:
        marks = ",".join("?" * len(comment_ids))
        cur = self._conn.execute(f"UPDATE comments SET staff_review = ? WHERE staff_review IS NULL AND id IN ({marks})", (outcome, *comment_ids))
        return cur.rowcount

    # -- digital-human host ---------------------------------------------------------
    def lease_host_item(self, room: str, *, now: float, lease_seconds: float) -> HostItem | None:
        """Hand out the oldest queued item, or one whose lease ran out, reserved for ``lease_seconds``."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT id, room, comment_id, entry_id, question, text, deliveries FROM host_items "
                "WHERE room = ? AND (state = 'queued' OR (state = 'leased' AND lease_until <= ?)) ORDER BY id LIMIT 1",
                (room, now),
            ).fetchone()
            if row is None:
                return None
            lease_id = uuid.uuid4().hex
            until = now + lease_seconds
            self._conn.execute(
                "UPDATE host_items SET state = 'leased', lease_id = ?, lease_until = ?, deliveries = deliveries + 1 WHERE id = ?",
                (lease_id, until, row["id"]),
            )
        return HostItem(
            item_id=row["id"], room=row["room"], comment_id=row["comment_id"], entry_id=row["entry_id"],
            question=row["question"], text=row["text"], lease_id=lease_id, lease_expires_at=now_iso(until),
            deliveries=row["deliveries"] + 1,
        )

    def next_lease_expiry(self, room: str) -> float | None:
        row = self._one("SELECT MIN(lease_until) FROM host_items WHERE room = ? AND state = 'leased'", (room,))
        return row[0] if row else None

    def ack_host_item(self, lease_id: str, *, now: float) -> str:
        """'spoken' (now acknowledged), 'already' (acknowledged before) or 'unknown' (no such lease: it was handed out again)."""
        with self.transaction():
            row = self._conn.execute("SELECT id, state FROM host_items WHERE lease_id = ?", (lease_id,)).fetchone()
            if row is None:
                return "unknown"
            if row["state"] == "spoken":
                return "already"
            self._conn.execute("UPDATE host_items SET state = 'spoken', spoken_at = ? WHERE id = ?", (now_iso(now), row["id"]))
            return "spoken"

    def host_queue_depth(self, room: str) -> int:
        return self._one("SELECT count(*) FROM host_items WHERE room = ? AND state != 'spoken'", (room,))[0]

    # -- work orders and figures ----------------------------------------------------
    def work_orders(self, room: str | None = None, *, department: str | None = None, status: str | None = None,
                    open_only: bool = False) -> list[WorkOrder]:
        where, params = [], []
        for column, value in (("room", room), ("status", status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if department:
            where.append("COALESCE(department, suggested_department) = ?")
            params.append(department)
        if open_only:
            where.append("status NOT IN ('已办结', '已回访')")
        sql = "SELECT * FROM work_orders" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [_work_order(r) for r in self._all(sql, params)]

    def status(self) -> dict[str, Any]:
        decisions = {r["decision"] or "pending": r["n"] for r in self._all("SELECT decision, count(*) AS n FROM comments GROUP BY decision")}
        return {
            "comments": self._one("SELECT count(*) FROM comments")[0],
            "pending": self.count_pending(),
            "decisions": decisions,
            "events_counted": {r["type"]: r["n"] for r in self._all("SELECT type, sum(count) AS n FROM event_counts GROUP BY type")},
            # items, not rows: a row is one push (count items) or, from an earlier version, one item (count NULL)
            "rejected_items": self._one("SELECT COALESCE(SUM(COALESCE(count, 1)), 0) FROM rejected_items")[0],
            "work_orders": self._one("SELECT count(*) FROM work_orders")[0],
            "host_queued": self._one("SELECT count(*) FROM host_items WHERE state != 'spoken'")[0],
        }


def _work_order(row: sqlite3.Row) -> WorkOrder:
    d = dict(row)
    d["contact"] = json.loads(d["contact"])
    for count in ("reopen_count", "returned_count"):
        d[count] = d.get(count) or 0
    d["complexity"] = d.get("complexity") or "ordinary"
    for flag in ("provisional", "satisfied"):
        d[flag] = None if d.get(flag) is None else bool(d[flag])
    return WorkOrder(**d)
