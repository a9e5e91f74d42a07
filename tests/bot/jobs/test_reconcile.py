"""Settling a job whose submit got no clear answer, when the task search itself fails.

The API answers the submit with a 500 after it has made the task (here: the task is made by one
request and the engine's own request gets the 500, which is all the engine can see). Whatever the
task search then does, the job ends by its time-out, and its owner's queued jobs go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from engine_kit import TOKEN, EngineFactory, FakeClock

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.errors import ServerError
from bot.acedata.models import ImagineGenerate, VideoGenerate
from bot.jobs import JobEngine, QueueRunner
from bot.store import Job, JobStatus, Store

TASKS = "/midjourney/tasks"
VIDEOS = "/midjourney/videos"
TIMEOUT_S = 900.0
VIDEO = VideoGenerate(prompt="a lighthouse at dusk", image_url="https://example.com/start.png")
IMAGE = ImagineGenerate(prompt="a red fox in snow")
ALICE, GUILD = 11, 100


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=3600, video_duration_s=3600), clock=clock
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def engine(make_engine: EngineFactory, store: Store) -> JobEngine:
    return make_engine(store, job_timeout_s=TIMEOUT_S, reconcile_grace_s=60)


def searches(emu: Emulator) -> int:
    """Task searches the API received (a retried request counts each time)."""
    return sum(1 for r in emu.requests if r.path == TASKS and r.body is not None and "created_at_min" in r.body)


async def one_limit(guild_id: int | None, user_id: int) -> int | None:
    return 1


async def ambiguous_submit(engine: JobEngine, client: AceDataClient, emu: Emulator, store: Store) -> Job:
    """The API makes the task, then answers the engine's submit with a 500."""
    await client.submit(VIDEO)
    emu.inject_fault(500, path=VIDEOS, count=1)
    with pytest.raises(ServerError):
        await engine.submit(VIDEO, user_id=ALICE, guild_id=GUILD)
    [job] = await store.jobs.recent_jobs(user_id=ALICE)
    assert job.status is JobStatus.SUBMITTING and job.task_id is None
    return job


async def tick_until(engine: JobEngine, clock: FakeClock, seconds: float, step_s: float = 5.0) -> None:
    """Poll every ``step_s`` seconds of the clock for ``seconds``."""
    end = clock() + seconds
    while clock() + step_s <= end:
        clock.advance(step_s)
        await engine.poll_once()


async def status_of(store: Store, job_id: str) -> JobStatus:
    job = await store.jobs.get_job(job_id)
    assert job is not None
    return job.status


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_refused_search_fails_the_job_at_its_timeout_and_the_owners_queued_job_starts(
    engine: JobEngine, client: AceDataClient, emu: Emulator, store: Store, clock: FakeClock
) -> None:
    emu.inject_fault(400, path=TASKS, count=100_000)  # the API refuses every task search
    job = await ambiguous_submit(engine, client, emu, store)
    queued = await engine.enqueue(IMAGE, user_id=ALICE, guild_id=GUILD)
    runner = QueueRunner(engine, store, one_limit)
    await runner.start()
    try:
        await tick_until(engine, clock, TIMEOUT_S - 10)
        assert await status_of(store, job.id) is JobStatus.SUBMITTING
        assert await status_of(store, queued) is JobStatus.QUEUED
        assert searches(emu) == 1  # refused once: not asked again

        await tick_until(engine, clock, 15)
        failed = await store.jobs.get_job(job.id)
        assert failed is not None and failed.status is JobStatus.FAILED
        assert failed.error_code == "unconfirmed"
        message = failed.error_message or ""
        assert "did not confirm" in message and "may have" in message and "dashboard" in message
        assert job.id in message and "HTTP 400" in message
        assert engine.health().unconfirmed_jobs == 0

        async def released() -> bool:
            await runner.idle()
            return await status_of(store, queued) is JobStatus.RUNNING

        await eventually(released)
        assert emu.task_count == 2  # the one made before the 500, and the queued image: nothing paid twice
        assert searches(emu) == 1
    finally:
        await runner.stop()


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_a_permanent_search_refusal_is_not_repeated(
    status: int, engine: JobEngine, client: AceDataClient, emu: Emulator, store: Store, clock: FakeClock
) -> None:
    emu.inject_fault(status, path=TASKS, count=100_000)
    job = await ambiguous_submit(engine, client, emu, store)
    await tick_until(engine, clock, 600)
    assert searches(emu) == 1
    assert await status_of(store, job.id) is JobStatus.SUBMITTING
    await tick_until(engine, clock, 305)
    assert await status_of(store, job.id) is JobStatus.FAILED
    assert searches(emu) == 1
    assert emu.task_count == 1


async def test_transient_search_failures_are_retried_with_growing_pauses_until_the_timeout(
    engine: JobEngine, client: AceDataClient, emu: Emulator, store: Store, clock: FakeClock
) -> None:
    emu.inject_fault(503, path=TASKS, count=100_000)
    job = await ambiguous_submit(engine, client, emu, store)
    await tick_until(engine, clock, TIMEOUT_S + 5)  # 180 ticks
    # Each search is three requests (the client's own retries); pauses of up to 10, 20, 40 ... 300 s between them.
    assert 3 * 3 <= searches(emu) <= 3 * 40
    failed = await store.jobs.get_job(job.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert "kept failing" in (failed.error_message or "") and "HTTP 503" in (failed.error_message or "")
    assert emu.task_count == 1  # never sent again: nobody knew whether the first one was made


async def test_a_search_that_recovers_adopts_the_task_the_500_hid(
    engine: JobEngine, client: AceDataClient, emu: Emulator, store: Store, clock: FakeClock
) -> None:
    emu.inject_fault(503, path=TASKS, count=6)  # two searches, each tried three times
    job = await ambiguous_submit(engine, client, emu, store)
    await tick_until(engine, clock, 400)
    adopted = await store.jobs.get_job(job.id)
    assert adopted is not None and adopted.status is JobStatus.RUNNING and adopted.task_id
    assert emu.task(adopted.task_id) is not None
    assert emu.task_count == 1
