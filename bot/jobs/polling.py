"""The engine's poll loop: one tick renews the engine's leases, reconciles a few unconfirmed jobs, polls the
running ones in batches, and times out the overdue; a stop lets a tick under way finish for a moment, then cuts
it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import TaskRecord

from .health import PollRecord, count_api_call, counting_api_calls
from .incidents import PROBE_TASK_ID, ApiHealth, Call
from .leases import LeaseKeeper
from .outcomes import JobOutcomes
from .submission import Submissions
from .tracking import TrackedJobs

#: The engine's logger (``bot.jobs.engine``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")

Sleep = Callable[[float], Awaitable[None]]

#: Concurrent ``retrieve_batch`` requests per tick.
MAX_CONCURRENT_BATCHES = 4
#: Unconfirmed jobs reconciled per tick, so a backlog of them cannot hold up polling.
MAX_RECONCILES_PER_TICK = 8
#: How long ``stop`` lets a tick under way finish before cancelling it (it happens again at the next start).
STOP_TICK_GRACE_S = 2.0


class Poller:
    """Owns the poll loop: its task, whether a tick is under way, the batch limit, and the record of the polls."""

    def __init__(
        self,
        client: AceDataClient,
        tracked: TrackedJobs,
        submissions: Submissions,
        outcomes: JobOutcomes,
        leases: LeaseKeeper,
        health: ApiHealth,
        *,
        interval_s: float,
        job_timeout_s: float,
        batch_size: int,
        clock: Callable[[], float],
        sleep: Sleep,
    ) -> None:
        self._client = client
        self._tracked = tracked
        self._submissions = submissions
        self._outcomes = outcomes
        self._leases = leases
        self.health = health
        self.interval_s = interval_s
        self._job_timeout_s = job_timeout_s
        self._batch_size = batch_size
        self._sleep = sleep
        self._batches = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._tick_lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        #: Set by ``stop``: callbacks are no longer looked up, and the loop ends after its tick.
        self.stopping = False
        self._ticking = False
        self.record = PollRecord(clock)

    @property
    def running(self) -> bool:
        """Whether the loop was started and not stopped since."""
        return self._loop_task is not None

    def problem(self) -> str | None:
        """What is wrong with the loop, for the health check (None: nothing)."""
        return self.record.problem(self._loop_task, self.interval_s)

    def start(self) -> None:
        """Start the loop (the engine has resumed its jobs)."""
        self.stopping = False
        self.record.started()
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="job-engine-poll")

    async def stop(self, senders: set[asyncio.Task[object]]) -> None:
        """End the loop, giving a tick under way and the ``senders`` (submits) ``STOP_TICK_GRACE_S`` to finish."""
        self.stopping = True
        task, self._loop_task = self._loop_task, None
        if task is not None and not self._ticking:
            task.cancel()  # it is asleep between ticks
        # A submit under way is as safe to cut as a tick: its job is written before it is sent, and a job whose
        # answer never came is settled (looked up, not sent again) at the next start.
        under_way = {*([task] if task is not None else []), *senders}
        if under_way:
            _, pending = await asyncio.wait(under_way, timeout=STOP_TICK_GRACE_S)
            for straggler in pending:
                straggler.cancel()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def poll_once(self) -> int:
        """One tick: reconcile a few unconfirmed jobs, poll every running one in batches, time out the overdue.

        Returns the number of API calls the tick made (a call the client retried counts once).
        """
        async with self._tick_lock:
            with counting_api_calls() as calls:
                await self._tick()
            return calls[0]

    async def _tick(self) -> None:
        await self._leases.step()
        for job_id in self._submissions.due(MAX_RECONCILES_PER_TICK):
            await self._submissions.reconcile(job_id)
        task_ids = self._tracked.task_ids()
        if not task_ids and self.health.probe_due():  # nothing to poll says whether the API is back: ask it
            await self._fetch([PROBE_TASK_ID], call="probe")
        size = self._batch_size
        answers = await asyncio.gather(*(self._fetch(task_ids[i : i + size]) for i in range(0, len(task_ids), size)))
        records = [record for answer in answers if answer is not None for record in answer]
        await self._outcomes.apply_records(records)
        await self._outcomes.expire(self._job_timeout_s)
        self.record.polled(all(answer is not None for answer in answers))

    async def _fetch(self, task_ids: Sequence[str], *, call: Call = "poll") -> list[TaskRecord] | None:
        async with self._batches:
            count_api_call()
            began = time.monotonic()
            try:
                with self.record.waiting_on_api():
                    found = await self._client.retrieve_batch(task_ids)
            except AceDataError as error:
                self.health.failed(call, time.monotonic() - began, error)
                self.record.failed(str(error))
                log.warning("poll of %d running jobs failed: %s; trying again next tick", len(task_ids), error)
                return None
            except Exception as error:
                self.record.failed(repr(error))
                log.exception("poll of %d running jobs failed unexpectedly; trying again next tick", len(task_ids))
                return None
        self.health.succeeded(call, time.monotonic() - began)
        return list(found.values())

    async def _run(self) -> None:
        while True:
            began = time.monotonic()
            self._ticking = True
            try:
                await self.poll_once()
            except Exception as error:
                self.record.failed(repr(error))
                self.record.polled(False)
                log.exception("job engine tick failed; trying again in %g s", self.interval_s)
            finally:
                self._ticking = False
            if self.stopping:
                return
            await self._sleep(max(0.0, self.interval_s - (time.monotonic() - began)))
