"""Writing what happened to running jobs into the store, and announcing it exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from bot.acedata.models import TaskRecord, TaskStatus
from bot.metrics import Metrics
from bot.store import FinishItem, Store
from bot.store.models import Job, JobStatus

from .events import EventDispatcher, JobEvent, JobEventType
from .tracking import TIMEOUT_CODE, TrackedJobs, finish_item, timeout_message

log = logging.getLogger(__name__)

_EVENT_OF_STATUS = {
    JobStatus.SUCCEEDED: JobEventType.SUCCEEDED,
    JobStatus.FAILED: JobEventType.FAILED,
    JobStatus.CANCELLED: JobEventType.CANCELLED,
    JobStatus.TIMED_OUT: JobEventType.TIMED_OUT,
}


class JobOutcomes:
    """Turns task records into store writes and events.

    Only what changed is written: progress in one ``update_progress_many``, finished jobs in one
    ``finish_many``. The store reports which jobs a finish actually changed, so when the poll loop
    and a callback race, only the first one announces the result.
    """

    def __init__(
        self, store: Store, tracked: TrackedJobs, events: EventDispatcher, clock: Callable[[], float], metrics: Metrics
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._tracked = tracked
        self._events = events
        self._clock = clock
        self._waiters: dict[str, list[asyncio.Future[Job]]] = {}

    async def apply_records(self, records: Sequence[TaskRecord]) -> None:
        progress: list[tuple[str, int]] = []
        finished: list[FinishItem] = []
        for record in records:
            entry = self._tracked.by_task(record.task_id)
            if entry is None:
                continue
            status = record.status
            if status is TaskStatus.RUNNING:
                value = record.progress
                if value is not None and value > entry.progress:  # the store never lowers progress either
                    entry.progress = value
                    progress.append((entry.job_id, value))
            else:
                finished.append(finish_item(entry.job_id, status, record.result, record.state))
        if progress:
            await self.save_progress(progress)
        if finished:
            await self.finish(finished)

    async def save_progress(self, updates: list[tuple[str, int]]) -> None:
        """Write progress figures, and announce the jobs whose stored progress they raised."""
        saved = await self._store.jobs.update_progress_many(updates)
        if not saved or not self._events.has_subscribers:
            return
        untracked: list[str] = []
        for change in saved:
            entry = self._tracked.by_job(change.job_id)
            if entry is None:  # a callback for a job the engine does not follow (it is not running here)
                untracked.append(change.job_id)
                continue
            self.emit(JobEventType.PROGRESS, entry.progressed(change))
        if untracked:
            for job in (await self._store.jobs.jobs_by_ids(untracked)).values():
                if not job.finished:
                    self.emit(JobEventType.PROGRESS, job)

    async def expire(self, job_timeout_s: float) -> None:
        """Time out the running jobs accepted more than ``job_timeout_s`` ago."""
        overdue = self._tracked.older_than(self._clock() - job_timeout_s)
        if not overdue:
            return
        message = timeout_message(job_timeout_s)
        for entry in overdue:
            log.warning(
                "job %s (task %s): no result after %.0f s; timing out", entry.job_id, entry.task_id, job_timeout_s
            )
        await self.finish(
            [FinishItem(entry.job_id, JobStatus.TIMED_OUT, None, TIMEOUT_CODE, message) for entry in overdue]
        )

    async def finish(self, items: list[FinishItem]) -> None:
        """Finish jobs in the store, stop tracking them, and announce the ones this call actually finished."""
        for item in items:
            self._tracked.remove_job(item.job_id)
        for job in await self._store.jobs.finish_many(items):
            log.info("job %s (task %s): %s %s", job.id, job.task_id, job.status, job.error_message or "")
            self.emit(_EVENT_OF_STATUS[job.status], job)

    def emit(self, kind: JobEventType, job: Job) -> None:
        self._events.emit(JobEvent(kind, job, self._clock()))
        if kind is JobEventType.SUBMITTED:
            self._metrics.job_submitted(job)
        elif kind.final:
            self._metrics.job_finished(job)
            for future in self._waiters.pop(job.id, ()):
                if not future.done():
                    future.set_result(job)

    def settled_elsewhere(self, job: Job) -> None:
        """Another process finished a job this one followed (and announced it): wake whoever waits for it here."""
        for future in self._waiters.pop(job.id, ()):
            if not future.done():
                future.set_result(job)

    async def wait(self, job_id: str, limit_s: float | None) -> Job | None:
        """The job once it is finished; ``None`` if there is no such job."""
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(job_id, [])
        waiters.append(future)
        try:
            job = await self._store.jobs.get_job(job_id)
            if job is None or job.finished:
                return job
            async with asyncio.timeout(limit_s):
                return await future
        finally:
            if future in waiters:
                waiters.remove(future)
            if not waiters and self._waiters.get(job_id) is waiters:
                del self._waiters[job_id]
