"""Job events and their delivery to subscribers.

Delivery rule: every event is queued per job and handed to the subscribers by one short-lived
task per job, so the events of one job arrive in the order they happened, different jobs do not
wait for each other, and the poll loop never waits for a handler. A handler that raises is logged
and the others still run; a handler that hangs is abandoned after ``handler_timeout_s`` so the
job's later events are not held back forever.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.store.models import Job

log = logging.getLogger(__name__)


class JobEventType(enum.StrEnum):
    SUBMITTED = "submitted"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def final(self) -> bool:
        return self not in (JobEventType.SUBMITTED, JobEventType.PROGRESS)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Something that happened to a job; ``job`` is the job as stored right after it happened."""

    type: JobEventType
    job: Job
    at: float


EventHandler = Callable[[JobEvent], Awaitable[None]]


class EventDispatcher:
    """Fans job events out to subscribers, in order per job, without blocking the caller."""

    def __init__(self, *, handler_timeout_s: float = 120.0) -> None:
        self._handlers: list[EventHandler] = []
        self._queues: dict[str, deque[JobEvent]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._handler_timeout_s = handler_timeout_s

    @property
    def has_subscribers(self) -> bool:
        return bool(self._handlers)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def emit(self, event: JobEvent) -> None:
        """Queue ``event`` for the subscribers; returns at once."""
        if not self._handlers:
            return
        job_id = event.job.id
        queue = self._queues.get(job_id)
        if queue is not None:  # a worker for this job is running and will pick it up
            queue.append(event)
            return
        self._queues[job_id] = deque((event,))
        worker = asyncio.get_running_loop().create_task(self._drain(job_id), name=f"job-events-{job_id}")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def drain(self, limit_s: float | None = None) -> None:
        """Wait until every queued event has been delivered (or ``limit_s`` seconds pass)."""
        while self._workers:
            _, pending = await asyncio.wait(set(self._workers), timeout=limit_s)
            if pending:
                log.warning("gave up waiting for %d job event deliveries", len(pending))
                return

    async def _drain(self, job_id: str) -> None:
        queue = self._queues[job_id]
        try:
            while queue:
                event = queue.popleft()
                for handler in tuple(self._handlers):
                    await self._deliver(handler, event)
        finally:
            del self._queues[job_id]

    async def _deliver(self, handler: EventHandler, event: JobEvent) -> None:
        job = event.job
        deadline = asyncio.timeout(self._handler_timeout_s)
        try:
            async with deadline:
                await handler(event)
        except TimeoutError:
            if not deadline.expired():
                log.exception("job %s (task %s): %s handler %r failed", job.id, job.task_id, event.type, handler)
                return
            log.error(
                "job %s (task %s): %s handler %r took longer than %.0f s and was abandoned",
                job.id,
                job.task_id,
                event.type,
                handler,
                self._handler_timeout_s,
            )
        except Exception:
            log.exception("job %s (task %s): %s handler %r failed", job.id, job.task_id, event.type, handler)
