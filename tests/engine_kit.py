"""Helpers shared by the job engine and web listener tests: a settable clock, an event recorder, and the
fixtures that build a client, a store and engines around a test module's own ``emu`` and ``clock`` fixtures
(registered for every test module in conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator
from bot.acedata.retry import RetryPolicy
from bot.jobs import JobEngine, JobEvent, JobEventType
from bot.store import Store

TOKEN = "engine-test-token-71c2"


class FakeClock:
    """Wall-clock time that only moves when told to; starts at the real time so Unix stamps look real."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


class EventLog:
    """A subscriber that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[JobEvent] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: JobEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def types(self, job_id: str) -> list[JobEventType]:
        return [event.type for event in self.events if event.job.id == job_id]

    def of(self, job_id: str, kind: JobEventType) -> list[JobEvent]:
        return [event for event in self.events if event.job.id == job_id and event.type is kind]

    async def wait_for(self, job_id: str, kind: JobEventType, within_s: float = 5.0) -> JobEvent:
        async with asyncio.timeout(within_s):
            while True:
                found = self.of(job_id, kind)
                if found:
                    return found[0]
                self._changed.clear()
                await self._changed.wait()

    async def settle(self) -> None:
        """Let queued deliveries run (they are tasks of their own)."""
        for _ in range(5):
            await asyncio.sleep(0)


EngineFactory = Callable[..., JobEngine]


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AceDataClient]:
    async with aiohttp.ClientSession() as session:
        retry = RetryPolicy(attempts=3, base_delay_s=0.0)
        yield AceDataClient(session, token=TOKEN, base_url=emu.url, retry=retry, sleep=no_sleep)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


@pytest.fixture
async def store(db_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(db_path, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
async def make_engine(client: AceDataClient, clock: FakeClock) -> AsyncIterator[EngineFactory]:
    """Engines whose loop sleeps for an hour between ticks, so each test drives ``poll_once`` itself."""
    engines: list[JobEngine] = []

    def make(store: Store, **options: Any) -> JobEngine:
        options.setdefault("poll_interval_s", 3600.0)
        engine = JobEngine(client, store, clock=clock, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()


@pytest.fixture
async def engine(make_engine: EngineFactory, store: Store) -> JobEngine:
    return make_engine(store)
