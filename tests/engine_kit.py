"""Helpers shared by the job engine and web listener tests: a settable clock and an event recorder."""

from __future__ import annotations

import asyncio
import time

from bot.jobs import JobEvent, JobEventType

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
