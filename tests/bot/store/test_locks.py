"""The store's named locks (``store.locks``): one holder per key, in one process and, on PostgreSQL, across the
processes that share the database (here: two Store objects, each with its own pool and lock connection)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.store import Store
from bot.store.locks import lock_id

_ADVISORY_HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store on each backend: an SQLite file, and a fresh PostgreSQL database."""
    where = str(tmp_path / "locks.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await Store.open(where)
    yield opened
    await opened.close()


@pytest.fixture
async def two(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two processes' stores on one PostgreSQL database."""
    first = await Store.open(postgres_url)
    second = await Store.open(postgres_url)
    yield first, second
    await second.close()
    await first.close()


async def advisory_held(url: str) -> int:
    """How many advisory locks the server says are held in the database, by anyone."""
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(_ADVISORY_HELD))
    finally:
        await conn.close()


async def until_no_advisory_lock(url: str, within_s: float = 2.0) -> None:
    deadline = time.monotonic() + within_s
    held = await advisory_held(url)
    while held and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        held = await advisory_held(url)
    assert held == 0, f"{held} advisory locks still held after {within_s} s"


# -- on either backend ----------------------------------------------------------------------------------------


async def test_a_key_has_one_holder_at_a_time(store: Store) -> None:
    order: list[str] = []

    async def take(name: str, pause: float) -> None:
        async with store.locks.hold("member:1") as held:
            assert held.acquired
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    first = asyncio.create_task(take("first", 0.1))
    await asyncio.sleep(0.02)
    await take("second", 0)
    await first
    assert order == ["first in", "first out", "second in", "second out"]
    assert len(store.locks) == 0


async def test_a_wait_that_runs_out_goes_ahead_without_the_lock(store: Store) -> None:
    async with store.locks.hold("member:1"):
        started = time.monotonic()
        async with store.locks.hold("member:1", wait_s=0.15) as late:
            waited = time.monotonic() - started
            assert not late.acquired
        assert 0.15 <= waited < 1.0
        async with store.locks.hold("member:1", wait_s=0) as now:
            assert not now.acquired
        async with store.locks.hold("member:2", wait_s=0) as other:
            assert other.acquired  # another key is free
    async with store.locks.hold("member:1", wait_s=0) as free:
        assert free.acquired


async def test_several_keys_are_held_together(store: Store) -> None:
    async with store.locks.hold("member:1", "guild:9") as both:
        assert both.acquired and both.keys == ("guild:9", "member:1")
        async with store.locks.hold("member:2", "guild:9", wait_s=0) as shared:
            assert not shared.acquired  # the server's key is taken
        async with store.locks.hold("member:2", "guild:8", wait_s=0) as apart:
            assert apart.acquired
    async with store.locks.hold("guild:9", "member:2", wait_s=0) as later:
        assert later.acquired


async def test_a_cancelled_waiter_leaves_nothing_held(store: Store) -> None:
    async with store.locks.hold("member:1"):
        waiter = asyncio.create_task(store.locks.hold("member:1").__aenter__())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with store.locks.hold("member:1", wait_s=0) as held:
        assert held.acquired
    assert len(store.locks) == 0


async def test_holding_no_key_is_a_mistake(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one key"):
        store.locks.hold()


def test_lock_numbers_are_stable_and_differ_by_key() -> None:
    # Processes of two versions of the bot (a rolling upgrade) must agree on the numbers.
    assert lock_id("member:1") == lock_id("member:1") == -1_993_203_820_565_015_092
    assert lock_id("member:1") != lock_id("member:2")
    assert -(2**63) <= lock_id("guild:123456789012345678") < 2**63


# -- across processes (PostgreSQL) ----------------------------------------------------------------------------


async def test_a_key_held_by_one_process_is_held_for_the_other(two: tuple[Store, Store]) -> None:
    first, second = two
    async with first.locks.hold("member:1") as held:
        assert held.acquired
        started = time.monotonic()
        async with second.locks.hold("member:1", wait_s=0.2) as late:
            assert not late.acquired
        assert time.monotonic() - started >= 0.2
        async with second.locks.hold("member:1", wait_s=0) as now:
            assert not now.acquired
        async with second.locks.hold("member:2", wait_s=0) as other:
            assert other.acquired
    async with second.locks.hold("member:1", wait_s=0) as free:
        assert free.acquired


async def test_a_waiter_in_the_other_process_gets_the_key_when_it_is_let_go(two: tuple[Store, Store]) -> None:
    first, second = two
    order: list[str] = []

    async def later() -> None:
        async with second.locks.hold("member:1", wait_s=5.0) as held:
            order.append(f"second {held.acquired}")

    async with first.locks.hold("member:1"):
        waiter = asyncio.create_task(later())
        await asyncio.sleep(0.2)
        order.append("first out")
    await waiter
    assert order == ["first out", "second True"]


async def test_several_keys_across_processes_are_all_or_nothing(two: tuple[Store, Store], postgres_url: str) -> None:
    first, second = two
    async with first.locks.hold("member:1", "guild:9"):
        async with second.locks.hold("member:2", "guild:9", wait_s=0.05) as shared:
            assert not shared.acquired
        assert await advisory_held(postgres_url) == 2  # the second process kept none of its keys
        async with second.locks.hold("member:2", "guild:8", wait_s=0) as apart:
            assert apart.acquired
    await until_no_advisory_lock(postgres_url)


async def test_a_cancelled_waiter_in_another_process_leaves_nothing_held(
    two: tuple[Store, Store], postgres_url: str
) -> None:
    first, second = two
    async with first.locks.hold("member:1"):
        waiter = asyncio.create_task(second.locks.hold("member:1").__aenter__())
        await asyncio.sleep(0.1)  # several tries by now
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with first.locks.hold("member:1", wait_s=0) as again:
        assert again.acquired
    await until_no_advisory_lock(postgres_url)
    async with second.locks.hold("member:1", wait_s=0) as free:
        assert free.acquired


async def test_a_waiter_cancelled_while_the_server_answers_leaves_nothing_held(
    two: tuple[Store, Store], postgres_url: str
) -> None:
    first, _ = two
    async with first.locks.hold("warm-up"):  # the lock connection is open: each step below is one round trip
        pass
    for steps in range(12):  # cancelled before, during and after the statement that takes the lock
        waiter = asyncio.create_task(first.locks.hold("member:1").__aenter__())
        for _ in range(steps):
            await asyncio.sleep(0)
        waiter.cancel()
        try:
            held = await waiter
        except asyncio.CancelledError:
            pass
        else:
            assert held.acquired
            await held.__aexit__(None, None, None)
        await until_no_advisory_lock(postgres_url)
        assert len(first.locks) == 0


async def test_closing_a_store_releases_its_locks(two: tuple[Store, Store], postgres_url: str) -> None:
    first, second = two
    await first.locks.hold("member:1").__aenter__()  # never left: the process ends holding it
    await first.close()
    async with second.locks.hold("member:1", wait_s=1.0) as held:
        assert held.acquired


async def test_a_lost_lock_connection_is_opened_again(two: tuple[Store, Store], postgres_url: str) -> None:
    first, second = two
    held = await first.locks.hold("member:1").__aenter__()
    conn = await asyncpg.connect(postgres_url)
    try:  # the server ends every session of the first process's lock connection (a restart, a network cut)
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await conn.close()
    await until_no_advisory_lock(postgres_url)
    await held.__aexit__(None, None, None)  # nothing to release: the server did
    async with first.locks.hold("member:1", wait_s=1.0) as again:
        assert again.acquired
        async with second.locks.hold("member:1", wait_s=0) as other:
            assert not other.acquired
