"""The per-member queue: enqueue, release, cancel, the queue runner, and a restart that keeps everyone's place."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import quota_kit
from engine_kit import TOKEN, EventLog, FakeClock
from quota_kit import ALICE, BOB, GUILD, IMAGE, OTHER_GUILD, VIDEO, EngineFactory, finish

from bot.acedata.emulator import Emulator
from bot.acedata.errors import ForbiddenError, ServerError
from bot.acedata.models import ImagineGenerate
from bot.config import AceDataSettings, Config, EmulatorConfig, JobsSettings, StoreSettings
from bot.jobs import JobEngine, JobEventType, QueueRunner
from bot.runtime import Services
from bot.settings import GuildSettings, Limits, save_guild_settings
from bot.store import JobMeta, JobStatus, QueueState, Store
from bot.store import queue as store_db

# The shared fixtures, by name, for pytest to find in this module.
clock, emu, client, db_path, store, make_engine, engine = (
    quota_kit.clock,
    quota_kit.emu,
    quota_kit.client,
    quota_kit.db_path,
    quota_kit.store,
    quota_kit.make_engine,
    quota_kit.engine,
)

LimitFor = Callable[[int | None, int], Awaitable[int | None]]


def limits(per_guild: dict[int | None, int | None]) -> LimitFor:
    async def limit_for(guild_id: int | None, user_id: int) -> int | None:
        return per_guild.get(guild_id)

    return limit_for


def submits(emu: Emulator) -> int:
    return sum(1 for request in emu.requests if request.path != "/midjourney/tasks")


async def statuses(store: Store, job_ids: list[str]) -> list[JobStatus]:
    found = await store.jobs.jobs_by_ids(job_ids)
    return [found[job_id].status for job_id in job_ids]


@pytest.fixture
async def events(engine: JobEngine) -> EventLog:
    log = EventLog()
    engine.subscribe(log)
    return log


# -- the engine: enqueue, release, cancel ---------------------------------------------------------------------


async def test_enqueue_stores_the_job_without_calling_the_api_and_announces_it(
    engine: JobEngine, store: Store, emu: Emulator, events: EventLog
) -> None:
    job_id = await engine.enqueue(VIDEO, user_id=ALICE, guild_id=GUILD, channel_id=5, meta=JobMeta(clip=2))
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.QUEUED
    assert (job.params, job.meta, job.prompt, job.channel_id) == (VIDEO.to_body(), JobMeta(clip=2), "waves", 5)
    assert submits(emu) == 0
    await engine.flush_events()
    assert events.types(job_id) == [JobEventType.QUEUED]
    assert not JobEventType.QUEUED.final
    assert await store.usage.usage_since(0.0) == []


async def test_positions_count_the_members_own_queue_on_one_server(
    engine: JobEngine, store: Store, clock: FakeClock
) -> None:
    mine = []
    for _ in range(3):
        mine.append(await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD))
        clock.advance(1)
    elsewhere = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=OTHER_GUILD)
    bobs = await engine.enqueue(IMAGE, user_id=BOB, guild_id=GUILD)
    running = await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)

    assert [await store.queue.queue_position(job_id) for job_id in mine] == [1, 2, 3]
    assert await store.queue.queue_position(elsewhere) == 1
    assert await store.queue.queue_position(bobs) == 1
    assert await store.queue.queue_position(running) is None
    assert await store.queue.queue_position("nosuchjob1") is None
    assert [job.id for job in await store.queue.queued_jobs(user_id=ALICE)] == [*mine, elsewhere]
    assert [job.id for job in await store.queue.queued_jobs(guild_id=GUILD)] == [*mine, bobs]
    assert [job.id for job in await store.queue.queued_jobs(user_id=ALICE, guild_id=GUILD)] == mine
    assert await store.queue.queued_guilds(ALICE) == [GUILD, OTHER_GUILD]
    assert await store.queue.running_count(ALICE, GUILD) == 1
    assert [job.id for job in await store.queue.running_jobs(GUILD)] == [*mine, bobs, running]

    await engine.cancel(mine[0])
    assert [await store.queue.queue_position(job_id) for job_id in mine] == [None, 1, 2]


async def test_release_sends_the_same_row_and_charges_it_once(
    engine: JobEngine, store: Store, emu: Emulator, events: EventLog, clock: FakeClock
) -> None:
    job_id = await engine.enqueue(VIDEO, user_id=ALICE, guild_id=GUILD)
    clock.advance(600)
    assert await engine.release(job_id)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.task_id
    assert job.meta.queue == QueueState(released_at=clock())
    assert emu.task(job.task_id) is not None
    assert [(entry.job_id, entry.units) for entry in await store.usage.usage_since(0.0)] == [(job_id, 8.0)]
    await engine.flush_events()
    assert events.types(job_id) == [JobEventType.QUEUED, JobEventType.SUBMITTED]

    assert not await engine.release(job_id)  # not queued any more: nothing is sent again
    assert not await engine.release("nosuchjob1")
    assert submits(emu) == 1
    await finish(engine, emu, store, job_id)
    assert (await store.jobs.get_job(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_a_cancelled_queued_job_is_never_sent(
    engine: JobEngine, store: Store, emu: Emulator, events: EventLog
) -> None:
    job_id = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    cancelled = await engine.cancel(job_id)
    assert cancelled.status is JobStatus.CANCELLED
    assert not await engine.release(job_id)
    assert submits(emu) == 0
    await engine.flush_events()
    assert events.types(job_id) == [JobEventType.QUEUED, JobEventType.CANCELLED]


async def test_a_released_job_the_api_refuses_fails_with_the_reason(
    engine: JobEngine, store: Store, events: EventLog
) -> None:
    job_id = await engine.enqueue(ImagineGenerate("something forbidden"), user_id=ALICE, guild_id=GUILD)
    with pytest.raises(ForbiddenError):
        await engine.release(job_id)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.FAILED and job.error_code == "forbidden"
    await engine.flush_events()
    assert events.types(job_id) == [JobEventType.QUEUED, JobEventType.FAILED]


async def test_a_lost_submit_answer_after_a_long_wait_in_the_queue_is_sent_again_not_expired(
    engine: JobEngine, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    job_id = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    clock.advance(3 * 86_400)  # far longer than the job timeout: the wait in line must not count against it
    emu.inject_fault(500, path="/midjourney/imagine")
    with pytest.raises(ServerError):
        await engine.release(job_id)
    assert (await store.jobs.get_job(job_id)).status is JobStatus.SUBMITTING  # type: ignore[union-attr]

    clock.advance(120)  # past the grace period: the search finds no task, so the job is sent again
    await engine.poll_once()
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.task_id


async def test_queue_lookups_read_only_the_small_unfinished_index(store: Store, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        for sql, params in (
            (store_db._RUNNING_COUNT, (ALICE, GUILD)),
            (store_db._NEXT_QUEUED, (ALICE, GUILD)),
            (store_db._QUEUED_GUILDS, (ALICE,)),
        ):
            plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "jobs_owner_unfinished" in plan, (sql, plan)


# -- the queue runner ----------------------------------------------------------------------------------------


async def test_the_runner_releases_the_oldest_queued_job_when_a_running_one_ends(
    engine: JobEngine, store: Store, emu: Emulator, events: EventLog, clock: FakeClock
) -> None:
    runner = QueueRunner(engine, store, limits({GUILD: 1}))
    await runner.start()
    running = await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    waiting = []
    for _ in range(3):
        clock.advance(1)
        waiting.append(await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD))
    await engine.flush_events()
    await runner.idle()
    assert await statuses(store, waiting) == [JobStatus.QUEUED] * 3  # the slot is taken

    await finish(engine, emu, store, running)
    await engine.flush_events()
    await runner.idle()
    assert await statuses(store, waiting) == [JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED]

    await finish(engine, emu, store, waiting[0], success=False)  # a failure frees the slot too
    await engine.flush_events()
    await runner.idle()
    assert await statuses(store, waiting[1:]) == [JobStatus.RUNNING, JobStatus.QUEUED]

    await engine.cancel(waiting[1])
    await engine.flush_events()
    await runner.idle()
    assert (await store.jobs.get_job(waiting[2])).status is JobStatus.RUNNING  # type: ignore[union-attr]
    await runner.stop()


async def test_a_job_queued_while_a_slot_is_free_is_released_at_once(
    engine: JobEngine, store: Store, events: EventLog
) -> None:
    # The last running job ended between the quota check and the enqueue: nothing else would wake the queue.
    runner = QueueRunner(engine, store, limits({GUILD: 2}))
    await runner.start()
    job_id = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    await events.wait_for(job_id, JobEventType.SUBMITTED)
    await runner.stop()


async def test_concurrent_final_events_release_each_job_once_and_respect_the_limit(
    engine: JobEngine, store: Store, emu: Emulator, events: EventLog
) -> None:
    runner = QueueRunner(engine, store, limits({GUILD: 2}))
    first = await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    second = await engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
    waiting = [await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD) for _ in range(5)]
    await runner.start()
    assert await statuses(store, waiting) == [JobStatus.QUEUED] * 5

    for job_id in (first, second):
        job = await store.jobs.get_job(job_id)
        assert job is not None and job.task_id
        emu.finish(job.task_id)
    await engine.poll_once()  # both end in one tick: two final events at once
    await engine.flush_events()
    await asyncio.gather(*(runner.release_ready(ALICE) for _ in range(5)))  # and more wake-ups racing them
    await runner.idle()

    assert await statuses(store, waiting) == [JobStatus.RUNNING] * 2 + [JobStatus.QUEUED] * 3
    assert submits(emu) == 4  # the two that ended and the two released: no job was sent twice
    assert await store.queue.running_count(ALICE, GUILD) == 2
    await runner.stop()


async def test_limits_are_per_server_and_direct_messages_have_none(engine: JobEngine, store: Store) -> None:
    runner = QueueRunner(engine, store, limits({GUILD: 1, OTHER_GUILD: 3}))
    here = [await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD) for _ in range(2)]
    there = [await engine.enqueue(IMAGE, user_id=ALICE, guild_id=OTHER_GUILD) for _ in range(4)]
    direct = [await engine.enqueue(IMAGE, user_id=ALICE, guild_id=None) for _ in range(2)]
    released = await runner.release_ready(ALICE)
    assert released == [here[0], *there[:3], *direct]
    assert await statuses(store, [here[1], there[3]]) == [JobStatus.QUEUED] * 2


async def test_a_refused_job_in_the_queue_does_not_block_the_next(
    engine: JobEngine, store: Store, events: EventLog
) -> None:
    runner = QueueRunner(engine, store, limits({GUILD: 1}))
    refused = await engine.enqueue(ImagineGenerate("a forbidden idea"), user_id=ALICE, guild_id=GUILD)
    fine = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    assert await runner.release_ready(ALICE) == [fine]
    assert await statuses(store, [refused, fine]) == [JobStatus.FAILED, JobStatus.RUNNING]


async def test_a_restart_releases_what_waited_in_the_queue(
    make_engine: EngineFactory, db_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    before = await Store.open(db_path, clock=clock)
    old = make_engine(before)
    await old.submit(IMAGE, user_id=ALICE, guild_id=GUILD)  # still running at the restart
    alice = [await old.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD) for _ in range(3)]
    bob = [await old.enqueue(VIDEO, user_id=BOB, guild_id=GUILD) for _ in range(2)]
    await old.stop()
    await before.close()

    after = await Store.open(db_path, clock=clock)
    try:
        engine = make_engine(after)
        await engine.start()
        runner = QueueRunner(engine, after, limits({GUILD: 2}))
        await runner.start()
        assert await statuses(after, alice) == [JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED]
        assert await statuses(after, bob) == [JobStatus.RUNNING, JobStatus.RUNNING]
        assert [await after.queue.queue_position(job_id) for job_id in alice[1:]] == [1, 2]
        await runner.stop()
        await engine.stop()
    finally:
        await after.close()


async def test_a_stopped_runner_releases_nothing(engine: JobEngine, store: Store, events: EventLog) -> None:
    runner = QueueRunner(engine, store, limits({GUILD: 5}))
    await runner.start()
    await runner.stop()
    job_id = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    await engine.flush_events()
    await runner.idle()
    assert (await store.jobs.get_job(job_id)).status is JobStatus.QUEUED  # type: ignore[union-attr]


# -- the services wire it up ---------------------------------------------------------------------------------


async def test_services_queue_by_the_servers_running_limit(tmp_path: Path) -> None:
    config = Config(
        acedata=AceDataSettings(base_url="emulator"),
        jobs=JobsSettings(poll_interval_s=0.05, job_timeout_s=60.0),
        store=StoreSettings(path=str(tmp_path / "services.sqlite3")),
        emulator=EmulatorConfig(job_duration_s=0.15, video_duration_s=0.15, listen_port=0),
    )
    services = await Services.open(config, listen=False)
    try:
        await save_guild_settings(services.store, GUILD, GuildSettings(limits=Limits(max_running_per_user=1)))
        events = EventLog()
        services.engine.subscribe(events)
        first = await services.engine.submit(IMAGE, user_id=ALICE, guild_id=GUILD)
        second = await services.engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
        await events.wait_for(first, JobEventType.SUCCEEDED)
        submitted = await events.wait_for(second, JobEventType.SUBMITTED)
        assert submitted.at >= (await events.wait_for(first, JobEventType.SUCCEEDED)).at
        assert TOKEN not in repr(services.queue)
    finally:
        await services.close()
