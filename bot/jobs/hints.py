"""Callbacks passed between processes that share a store: one process renders each job's message.

The API's callback reaches whichever process its load balancer picked. A callback for a job another
process holds is passed on to every process as a signal carrying the task id; the one that follows the
task looks it up and shows the result. Losing a hint costs only time: the holder polls the task anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.acedata.models import TaskResult
from bot.store import JobStatus, Store, StoreError

from .leases import LeaseKeeper
from .submission import Submissions
from .tracking import TrackedJobs

#: The engine's logger (``bot.jobs.engine``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")

#: The signal channel on which processes sharing a store pass each other callbacks (a task id).
CHANNEL = "mjbot_task_hints"


class CallbackHints:
    """Takes the API's callbacks as hints: looks the task up when this process follows it, passes the callback on
    to the other processes when one of them does, and takes over a job whose holder died."""

    def __init__(
        self,
        store: Store,
        tracked: TrackedJobs,
        submissions: Submissions,
        leases: LeaseKeeper,
        *,
        lookup: Callable[[str], None],
        stopping: Callable[[], bool],
    ) -> None:
        """``lookup`` asks the API about a task soon (batched); ``stopping`` says the engine is stopping."""
        self._store = store
        self._tracked = tracked
        self._submissions = submissions
        self._leases = leases
        self._lookup = lookup
        self._stopping = stopping
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen for hints from the other processes."""
        if self._stop_listening is None:
            self._stop_listening = await self._store.signals.listen(CHANNEL, self._heard)

    async def stop(self) -> None:
        """Stop listening, and drop the hints still being handled (the next start polls those tasks)."""
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            await stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle(self, result: TaskResult, *, forwarded: bool = False) -> bool:
        """See ``JobEngine.handle_callback``."""
        task_id = result.task_id
        if not task_id:
            return False
        if self._tracked.by_task(task_id) is None:
            job = await self._store.jobs.get_job_by_task(task_id)
            in_flight = self._submissions.in_flight
            if job is None or job.id in in_flight:
                if in_flight:  # the submit that created it may not have saved its task id yet
                    self._submissions.hold(task_id, result)
                    log.info("callback for task %s held until its submit is saved", task_id)
                elif self._leases.shared and not forwarded:
                    await self.pass_on(task_id)  # another process's submit may not have saved it yet
                else:
                    log.info("callback for unknown task %s ignored", task_id)
                return job is not None
            if job.finished:
                log.info("job %s (task %s): late callback ignored; the job is %s", job.id, task_id, job.status)
                return True
            if self._leases.shared and not await self._store.leases.take_if_free(job.id, self._leases.lease):
                if not forwarded:
                    await self.pass_on(task_id)
                return True
            if job.status is not JobStatus.RUNNING:
                return True
            self._tracked.add(job)  # running, but not followed here until now
        self._lookup(task_id)
        return True

    async def pass_on(self, task_id: str) -> None:
        """Tell the other processes about a callback for ``task_id``."""
        try:
            await self._store.signals.send(CHANNEL, task_id)
        except StoreError as error:  # the holder finds the result on its next tick anyway
            log.warning("could not pass the callback for task %s on to the process that follows it: %s", task_id, error)

    def _heard(self, task_id: str) -> None:
        if self._stopping():
            return
        task = asyncio.get_running_loop().create_task(self._hinted(task_id), name=f"hint-{task_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hinted(self, task_id: str) -> None:
        try:
            await self.handle(TaskResult(task_id=task_id, success=None), forwarded=True)
        except Exception:
            log.exception("handling the callback hint for task %s failed; the next tick polls it", task_id)
