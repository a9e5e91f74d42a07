"""One engine process of ``bench_scale.py``: a shared JobEngine on PostgreSQL that writes down what it does.

Each process appends JSON lines to a file of its own, written straight to the file descriptor (no buffer), so
what it wrote before a ``kill -9`` is all there:

* ``{"t": "ready", "owner": ...}`` once the store is open and the engine built;
* ``{"t": "start", ...}`` after ``JobEngine.start`` (the first take-over), with its CPU and wall time;
* one ``{"t": "tick", ...}`` per poll tick: when it began and ended (``time.monotonic``, one clock for every
  process on Linux), the process's CPU time over the whole tick (``time.process_time``: lease step, HTTP
  requests and parsing, store writes, event delivery), the lease step's CPU and wall time (renew, let go,
  take over), the CPU of applying the answers (progress and finish writes, events), how many jobs the engine
  follows, and every ``retrieve_batch`` request the tick made with the task ids it named;
* ``{"t": "event", ...}`` for each SUCCEEDED or FAILED event, as a subscriber receives it.

A tick is the time between two of the poll loop's sleeps: the engine is given a ``sleep`` that marks them. The
process starts its engine when the bench sets ``go``, and stops it (giving its leases back) on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bot.acedata.client import AceDataClient
from bot.acedata.models import TaskRecord
from bot.jobs import JobEngine, JobEvent, JobEventType
from bot.store import Lease, Store
from bot.store.leases import new_owner_id

TOKEN = "bench-token"  # noqa: S105 - the emulator's, on loopback


class Journal:
    """JSON lines appended to a file with one ``write`` each, so a killed process loses nothing it wrote."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, **fields: Any) -> None:
        os.write(self._fd, (json.dumps(fields, separators=(",", ":")) + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)


class RecordingClient(AceDataClient):
    """The real client; every ``retrieve_batch`` is noted with the time it was sent and the ids it named."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[float, list[str]]] = []

    async def retrieve_batch(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        self.sent.append((time.monotonic(), list(task_ids)))
        return await super().retrieve_batch(task_ids)


class TickMeter:
    """Measures each tick and the parts of it the bench reports apart."""

    def __init__(self, journal: Journal, client: RecordingClient) -> None:
        self._journal = journal
        self._client = client
        #: The engine whose ticks these are (it is built with ``between_ticks`` as its sleep).
        self.engine: JobEngine | None = None
        self._number = 0
        self._began = time.monotonic()
        self._cpu = time.process_time()
        self.lease_cpu = self.lease_wall = self.apply_cpu = 0.0

    def begin(self) -> None:
        self._began, self._cpu = time.monotonic(), time.process_time()
        self.lease_cpu = self.lease_wall = self.apply_cpu = 0.0
        self._client.sent.clear()

    def end(self) -> None:
        self._journal.write(
            t="tick",
            n=self._number,
            began=self._began,
            ended=time.monotonic(),
            cpu_ms=(time.process_time() - self._cpu) * 1000,
            lease_cpu_ms=self.lease_cpu * 1000,
            lease_wall_ms=self.lease_wall * 1000,
            apply_cpu_ms=self.apply_cpu * 1000,
            tracked=self.engine.tracked_count if self.engine is not None else 0,
            polls=[[at, ids] for at, ids in self._client.sent],
        )
        self._number += 1

    async def between_ticks(self, seconds: float) -> None:
        """The poll loop's sleep: the tick before it ends, the one after it begins."""
        self.end()
        await asyncio.sleep(seconds)
        self.begin()

    def timed(self, call: Callable[..., Awaitable[Any]], part: str) -> Callable[..., Awaitable[Any]]:
        """``call`` with its CPU (and, for the lease step, wall) time added to this tick's ``part``."""

        async def measured(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.monotonic()
            try:
                return await call(*args, **kwargs)
            finally:
                if part == "lease":
                    self.lease_cpu += time.process_time() - cpu
                    self.lease_wall += time.monotonic() - wall
                else:
                    self.apply_cpu += time.process_time() - cpu

        return measured


async def until_stopped() -> None:
    """Until SIGTERM (the bench's stop; a shared ``multiprocessing.Event`` would hang its setter once a waiter was
    killed), or until the bench itself is gone, so that a killed bench leaves no engine behind."""
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    parent = multiprocessing.parent_process()
    while not stopping.is_set() and (parent is None or parent.is_alive()):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 1.0)


async def follow(store_url: str, api_url: str, lease_s: float, poll_s: float, path: str, go: Any) -> None:
    journal = Journal(path)
    store = await Store.open(store_url)
    async with aiohttp.ClientSession() as session:
        client = RecordingClient(session, token=TOKEN, base_url=api_url)
        owner = new_owner_id()
        meter = TickMeter(journal, client)
        lease = Lease(owner, lease_s)
        engine = JobEngine(client, store, poll_interval_s=poll_s, shared=True, lease=lease, sleep=meter.between_ticks)
        meter.engine = engine
        # The lease step and the writes of a tick's answers, measured apart (the engine's own parts, read here only).
        keeper, outcomes = engine._leases, engine._outcomes
        keeper.step = meter.timed(keeper.step, "lease")  # type: ignore[method-assign]
        outcomes.apply_records = meter.timed(outcomes.apply_records, "apply")  # type: ignore[method-assign]
        outcomes.expire = meter.timed(outcomes.expire, "apply")  # type: ignore[method-assign]

        async def note(event: JobEvent) -> None:
            if event.type in (JobEventType.SUCCEEDED, JobEventType.FAILED):
                journal.write(t="event", type=event.type.value, job=event.job.id, at=time.monotonic())

        engine.subscribe(note)
        journal.write(t="ready", owner=owner, pid=os.getpid())
        if not await asyncio.to_thread(go.wait, 120.0):
            raise SystemExit("no start signal from the bench within two minutes")
        cpu, wall = time.process_time(), time.monotonic()
        await engine.start()
        journal.write(
            t="start",
            at=wall,
            cpu_ms=(time.process_time() - cpu) * 1000,
            wall_ms=(time.monotonic() - wall) * 1000,
            tracked=engine.tracked_count,
        )
        meter.begin()
        await until_stopped()
        await engine.stop()
        journal.write(t="stopped", at=time.monotonic())
    await store.close()
    journal.close()


def run(store_url: str, api_url: str, lease_s: float, poll_s: float, path: str, go: Any) -> None:
    """A worker process's target (``multiprocessing`` with spawn)."""
    asyncio.run(follow(store_url, api_url, lease_s, poll_s, path, go))
