"""The digital-human host's queue on an injected clock: leases that run out, long-polls
that wait and wake. A real SQLite store and the bundled bank; no wall-clock sleeps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assistant.bank.store import AnswerBank
from assistant.deliver.host import HostQueue, IdleItem
from assistant.settings import DEFAULT_IDLE_ENTRIES
from assistant.store import HostItem, SqliteStore
from clock import FakeClock

BUNDLED = Path(__file__).resolve().parents[1] / "corpus" / "bank"
LEASE = 60.0


@pytest.fixture(scope="module")
def bank() -> AnswerBank:
    return AnswerBank.load(BUNDLED)


@pytest.fixture
def queue(tmp_path, bank):
    store = SqliteStore(tmp_path / "g.db")
    q = HostQueue(store, bank, DEFAULT_IDLE_ENTRIES, lease_seconds=LEASE, clock=FakeClock())
    yield q
    store.close()


def enqueue(q: HostQueue, room: str, text: str = "有网友问：……") -> int:
    with q.store.transaction():
        item_id = q.store.enqueue_host_item(room, comment_id=None, entry_id="yibao-0001", question="问题", text=text)
    q.notify(room)
    return item_id


async def until(condition, *, turns: int = 1000) -> None:
    """Let the loop run until ``condition()`` holds (bounded in loop turns, not seconds)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def test_a_lease_that_runs_out_hands_the_item_out_again_and_only_the_new_lease_acks(queue):
    async def scenario():
        clock = queue.clock
        item_id = enqueue(queue, "city")
        first = await queue.next("city", wait=0)
        assert isinstance(first, HostItem) and (first.item_id, first.deliveries) == (item_id, 1)
        clock.advance(LEASE - 1)
        assert isinstance(await queue.next("city", wait=0), IdleItem)  # still leased: not handed out twice
        clock.advance(2)
        second = await queue.next("city", wait=0)
        assert (second.item_id, second.deliveries) == (item_id, 2) and second.lease_id != first.lease_id
        assert queue.ack(first.lease_id) == "unknown"  # the old lease ran out
        assert queue.ack(second.lease_id) == "spoken"
        assert queue.ack(second.lease_id) == "already"
        clock.advance(10 * LEASE)
        assert isinstance(await queue.next("city", wait=0), IdleItem)  # spoken items never come back

    asyncio.run(scenario())


def test_a_long_poll_waits_and_wakes_when_an_answer_arrives(queue):
    async def scenario():
        clock = queue.clock
        poll = asyncio.create_task(queue.next("county-5", wait=25))
        await until(lambda: queue.waiting["county-5"] == 1)  # asleep in the long-poll, nothing queued yet
        for _ in range(50):
            await asyncio.sleep(0)
        assert not poll.done()
        enqueue(queue, "county-5")
        item = await asyncio.wait_for(poll, 5)
        assert isinstance(item, HostItem) and item.room == "county-5"
        assert clock.monotonic() == 0  # woken by the arrival, not by a timeout
        assert queue.waiting["county-5"] == 0

    asyncio.run(scenario())


def test_a_long_poll_with_nothing_queued_ends_with_an_idle_item_at_its_deadline(queue):
    async def scenario():
        clock = queue.clock
        poll = asyncio.create_task(queue.next("county-6", wait=25))
        await until(lambda: clock.sleepers == 1)
        clock.advance(24)
        for _ in range(50):
            await asyncio.sleep(0)
        assert not poll.done()  # 24 of 25 seconds: still waiting
        clock.advance(1)
        item = await asyncio.wait_for(poll, 5)
        assert isinstance(item, IdleItem) and item.text

    asyncio.run(scenario())


def test_a_long_poll_wakes_when_a_lease_runs_out(queue):
    """The item leased to a host that crashed comes to the next poll when its lease ends, not at the poll's deadline."""

    async def scenario():
        clock = queue.clock
        item_id = enqueue(queue, "county-7")
        lost = await queue.next("county-7", wait=0)
        poll = asyncio.create_task(queue.next("county-7", wait=3 * LEASE))
        await until(lambda: clock.sleepers == 1)
        clock.advance(LEASE + 0.5)
        item = await asyncio.wait_for(poll, 5)
        assert isinstance(item, HostItem) and (item.item_id, item.deliveries) == (item_id, 2) and item.lease_id != lost.lease_id

    asyncio.run(scenario())
