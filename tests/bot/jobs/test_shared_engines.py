"""Several engines (as several processes would run them) on one PostgreSQL store: each job followed by one.

Each engine has its own lease owner and its own connection pool, as a separate process would; the tests drive
their ticks by hand and move a shared fake clock, so a lease runs out exactly when a test says so.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from engine_kit import TOKEN, EventLog, FakeClock

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import TaskResult, VideoGenerate
from bot.jobs import JobEngine, JobEventType
from bot.store import JobStatus, Lease, Store

pytestmark = pytest.mark.postgres

DURATION = 120.0
LEASE_S = 30.0
TASKS = "/midjourney/tasks"
VIDEO = VideoGenerate(prompt="a lighthouse at dusk", image_url="https://example.com/start.png")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=DURATION, video_duration_s=DURATION), clock=clock
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


class Fleet:
    """Engines on their own stores (pools) over one database, each with its own lease owner and event log."""

    def __init__(self, url: str, client: AceDataClient, clock: FakeClock) -> None:
        self._url = url
        self._client = client
        self._clock = clock
        self.engines: list[JobEngine] = []
        self.stores: list[Store] = []
        self.logs: list[EventLog] = []

    async def add(self, name: str, **options: Any) -> JobEngine:
        store = await Store.open(self._url, clock=self._clock)
        options.setdefault("poll_interval_s", 5.0)
        engine = JobEngine(self._client, store, clock=self._clock, lease=Lease(name, LEASE_S), shared=True, **options)
        events = EventLog()
        engine.subscribe(events)
        self.engines.append(engine)
        self.stores.append(store)
        self.logs.append(events)
        return engine

    async def start(self, *engines: JobEngine) -> None:
        """Start engines together, and let the tick each loop runs at once end, so that a test counts only its own
        ticks (the next loop tick is a third of a lease away, in real time)."""
        chosen = engines or tuple(self.engines)
        await asyncio.gather(*(engine.start() for engine in chosen))
        for engine in chosen:
            for _ in range(2):  # the first may run before the loop's own; the second waits for it
                await engine.poll_once()

    async def tick(self, *engines: JobEngine) -> None:
        for engine in engines or self.engines:
            await engine.poll_once()

    def announced(self, job_id: str, kind: JobEventType) -> int:
        return sum(len(events.of(job_id, kind)) for events in self.logs)

    async def close(self) -> None:
        for engine in self.engines:
            await engine.stop()
        for store in self.stores:
            await store.close()


@pytest.fixture
async def fleet(postgres_url: str, client: AceDataClient, clock: FakeClock) -> AsyncIterator[Fleet]:
    made = Fleet(postgres_url, client, clock)
    yield made
    await made.close()


def polled_ids(emu: Emulator, since: int) -> list[str]:
    """The task ids the requests after the first ``since`` asked the tasks endpoint for."""
    ids: list[str] = []
    for request in emu.requests[since:]:
        if request.path == TASKS and isinstance(request.body, dict):
            ids.extend(request.body.get("ids") or [request.body.get("id")])
    return ids


def task_requests(emu: Emulator, since: int) -> int:
    return sum(1 for request in emu.requests[since:] if request.path == TASKS)


def submits(emu: Emulator) -> int:
    return sum(1 for request in emu.requests if request.path != TASKS)


async def test_each_running_job_is_polled_by_one_engine_and_requests_stay_batched(fleet: Fleet, emu: Emulator) -> None:
    first = await fleet.add("first")
    second = await fleet.add("second")
    await fleet.start()
    job_ids = [await first.submit(VIDEO) for _ in range(70)] + [await second.submit(VIDEO) for _ in range(45)]

    before = len(emu.requests)
    await fleet.tick()
    ids = polled_ids(emu, before)

    assert Counter(ids).most_common(1)[0][1] == 1, "a task was polled by both engines in one tick"
    assert len(ids) == len(job_ids)
    assert task_requests(emu, before) <= math.ceil(len(job_ids) / 50) + len(fleet.engines)


async def test_a_dead_engines_jobs_are_taken_over_once_its_lease_runs_out_and_finish_once(
    fleet: Fleet, emu: Emulator, clock: FakeClock
) -> None:
    doomed = await fleet.add("doomed")
    survivor = await fleet.add("survivor")
    await fleet.start()
    job_ids = [await doomed.submit(VIDEO) for _ in range(6)]
    await fleet.tick()

    # The doomed engine stops ticking (a kill -9 gives no chance to hand its leases back).
    clock.advance(LEASE_S / 2)
    await fleet.tick(survivor)
    assert survivor.tracked_count == 0, "a live lease was taken"

    clock.advance(LEASE_S / 2 + 1)
    await fleet.tick(survivor)
    assert survivor.tracked_count == len(job_ids)

    clock.advance(DURATION)
    await fleet.tick(survivor)
    for job_id in job_ids:
        assert (await survivor.get(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
        assert fleet.announced(job_id, JobEventType.SUCCEEDED) == 1
    assert submits(emu) == len(job_ids), "a job was sent twice"


async def test_a_clean_stop_hands_the_jobs_over_at_the_next_tick(fleet: Fleet, clock: FakeClock) -> None:
    leaving = await fleet.add("leaving")
    staying = await fleet.add("staying")
    await fleet.start()
    job_ids = [await leaving.submit(VIDEO) for _ in range(3)]

    await leaving.stop()
    clock.advance(1.0)
    await fleet.tick(staying)

    assert staying.tracked_count == len(job_ids)


async def test_an_engine_that_lost_its_jobs_stops_polling_them(fleet: Fleet, emu: Emulator, clock: FakeClock) -> None:
    slow = await fleet.add("slow")
    quick = await fleet.add("quick")
    await fleet.start()
    job_ids = [await slow.submit(VIDEO) for _ in range(4)]

    clock.advance(LEASE_S + 1)  # the slow engine hung past its lease; the quick one takes its jobs
    await fleet.tick(quick)
    before = len(emu.requests)
    await fleet.tick(slow)

    assert slow.tracked_count == 0
    assert polled_ids(emu, before) == []
    assert quick.tracked_count == len(job_ids)


async def test_a_callback_reaching_another_engine_is_passed_to_the_holder_which_announces_it(
    fleet: Fleet, emu: Emulator, clock: FakeClock
) -> None:
    owner = await fleet.add("owner")
    other = await fleet.add("other")
    await fleet.start()
    job_id = await owner.submit(VIDEO)
    job = await owner.get(job_id)
    assert job is not None and job.task_id is not None

    emu.finish(job.task_id)  # done at the API, well within the owner's lease
    assert await other.handle_callback(TaskResult(task_id=job.task_id, success=True))
    done = await owner.wait(job_id, timeout=5)  # no tick: the hint alone brings the result
    for engine in fleet.engines:
        await engine.flush_events()

    assert done.status is JobStatus.SUCCEEDED
    assert len(fleet.logs[0].of(job_id, JobEventType.SUCCEEDED)) == 1, "the holder shows the result"
    assert fleet.logs[1].of(job_id, JobEventType.SUCCEEDED) == [], "the other process shows nothing"
    assert other.tracked_count == 0


async def test_a_callback_for_a_job_whose_holder_died_is_taken_over_where_it_lands(
    fleet: Fleet, emu: Emulator, clock: FakeClock
) -> None:
    dead = await fleet.add("dead")
    alive = await fleet.add("alive")
    await fleet.start()
    job_id = await dead.submit(VIDEO)
    job = await dead.get(job_id)
    assert job is not None and job.task_id is not None

    clock.advance(max(LEASE_S, DURATION) + 1)  # the holder stopped ticking long ago
    assert await alive.handle_callback(TaskResult(task_id=job.task_id, success=True))
    done = await alive.wait(job_id, timeout=5)
    for engine in fleet.engines:
        await engine.flush_events()

    assert done.status is JobStatus.SUCCEEDED
    assert fleet.announced(job_id, JobEventType.SUCCEEDED) == 1
    assert len(fleet.logs[1].of(job_id, JobEventType.SUCCEEDED)) == 1


async def test_a_queued_job_is_released_by_one_engine_only(fleet: Fleet, emu: Emulator) -> None:
    engines = [await fleet.add(f"engine-{number}") for number in range(3)]
    await fleet.start()
    job_id = await engines[0].enqueue(VIDEO, user_id=7, guild_id=1)

    released = await asyncio.gather(*(engine.release(job_id) for engine in engines))

    assert sorted(released) == [False, False, True]
    assert submits(emu) == 1


async def test_two_engines_starting_together_split_the_orphans_without_sharing_one(
    fleet: Fleet, postgres_url: str, client: AceDataClient, clock: FakeClock, emu: Emulator
) -> None:
    first = await fleet.add("before")
    await fleet.start(first)
    job_ids = [await first.submit(VIDEO) for _ in range(40)]
    clock.advance(LEASE_S + 1)  # its process died; two new ones start at once

    late = [await fleet.add(name) for name in ("late-a", "late-b")]
    await fleet.start(*late)

    assert sum(engine.tracked_count for engine in late) == len(job_ids)
    holders = await fleet.stores[0].leases.holders(job_ids)
    for engine, name in zip(late, ("late-a", "late-b"), strict=True):
        assert {job_id for job_id, (owner, _) in holders.items() if owner == name} == set(engine._tracked.job_ids())
    before = len(emu.requests)
    await fleet.tick(*late)
    assert Counter(polled_ids(emu, before)).most_common(1)[0][1] == 1
