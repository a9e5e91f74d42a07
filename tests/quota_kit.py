"""Fixtures shared by the quota and queue tests: an engine on a real SQLite file against the emulator.

The emulator, the store and the engine share one settable clock that starts a minute before a UTC
midnight, so daily limits can be crossed without waiting; tasks end when a test finishes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from engine_kit import TOKEN, FakeClock, no_sleep

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import ImagineGenerate, VideoExtend, VideoGenerate
from bot.acedata.retry import RetryPolicy
from bot.jobs import JobEngine
from bot.store import Store

#: 2024-05-02 00:00:00 UTC.
MIDNIGHT = 1_714_608_000.0
GUILD = 100
OTHER_GUILD = 200
ALICE = 11
BOB = 12

IMAGE = ImagineGenerate(prompt="a red fox in snow")
VIDEO = VideoGenerate(prompt="waves", image_url="https://example.com/start.png", resolution="480p")
TURBO_VIDEO = VideoGenerate(prompt="waves", image_url="https://example.com/start.png", mode="turbo")
EXTEND = VideoExtend(video_id="vid-1", video_index=0)

EngineFactory = Callable[..., JobEngine]


@pytest.fixture
def clock() -> FakeClock:
    clock = FakeClock()
    clock.now = MIDNIGHT - 60
    return clock


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(
            tokens=frozenset({TOKEN}), job_duration_s=3600, video_duration_s=3600, moderation_words=("forbidden",)
        ),
        clock=clock,
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AceDataClient]:
    async with aiohttp.ClientSession() as session:
        yield AceDataClient(
            session, token=TOKEN, base_url=emu.url, retry=RetryPolicy(attempts=2, base_delay_s=0.0), sleep=no_sleep
        )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "quota.sqlite3"


@pytest.fixture
async def store(db_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(db_path, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
async def make_engine(client: AceDataClient, clock: FakeClock) -> AsyncIterator[EngineFactory]:
    """Engines that poll only when a test says so (their loop sleeps for an hour)."""
    engines: list[JobEngine] = []

    def make(store: Store, **options: Any) -> JobEngine:
        options.setdefault("poll_interval_s", 3600.0)
        options.setdefault("job_timeout_s", 86_400.0)
        engine = JobEngine(client, store, clock=clock, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()


@pytest.fixture
def engine(make_engine: EngineFactory, store: Store) -> JobEngine:
    return make_engine(store)


async def finish(engine: JobEngine, emu: Emulator, store: Store, job_id: str, *, success: bool = True) -> None:
    """End a job's task at the emulator and let the engine see it."""
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id is not None
    emu.finish(job.task_id, success=success)
    await engine.poll_once()
