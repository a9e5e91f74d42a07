"""Job events and their delivery to subscribers.

Delivery rule: events are spread over a fixed number of lanes by job id, and each lane has one
worker task that hands its events to the subscribers one after another. So the events of one job
arrive in the order they happened, the poll loop never waits for a handler, and a thousand
events cost a thousand appends rather than a thousand tasks. A handler that raises is logged and
the others still get the event. A handler that hangs holds back only its own lane, and only
until ``handler_timeout_s``: the next event for that lane then replaces the stuck worker.
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

#: Worker lanes: how many jobs' events can be in delivery at the same time.
LANES = 16


class JobEventType(enum.StrEnum):
    QUEUED = "queued"  # waits for one of its owner's running jobs to end; nothing sent to the API yet
    SUBMITTED = "submitted"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def final(self) -> bool:
        return self not in (JobEventType.QUEUED, JobEventType.SUBMITTED, JobEventType.PROGRESS)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Something that happened to a job; ``job`` is the job as stored right after it happened."""

    type: JobEventType
    job: Job
    at: float


EventHandler = Callable[[JobEvent], Awaitable[None]]


class EventDispatcher:
    """Fans job events out to subscribers, in order per job, without blocking the caller."""

    def __init__(self, *, lanes: int = LANES, handler_timeout_s: float = 120.0) -> None:
        self._handlers: list[EventHandler] = []
        self._queues: list[deque[JobEvent]] = [deque() for _ in range(lanes)]
        self._workers: list[asyncio.Task[None] | None] = [None] * lanes
        self._busy_since: list[float | None] = [None] * lanes
        self._current: list[JobEvent | None] = [None] * lanes
        self._handler_timeout_s = handler_timeout_s
        self._undelivered = 0
        self._idle = asyncio.Event()
        self._idle.set()

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
        lane = hash(event.job.id) % len(self._queues)
        self._queues[lane].append(event)
        self._undelivered += 1
        self._idle.clear()
        worker = self._workers[lane]
        if worker is None:
            self._start(lane)
            return
        since, stuck = self._busy_since[lane], self._current[lane]
        if since is not None and asyncio.get_running_loop().time() - since > self._handler_timeout_s:
            log.error(
                "job %s (task %s): a handler of its %s event is still busy after %.0f s; abandoning it",
                stuck.job.id if stuck else "?",
                stuck.job.task_id if stuck else "?",
                stuck.type if stuck else "?",
                self._handler_timeout_s,
            )
            worker.cancel()
            self._start(lane)

    async def drain(self, limit_s: float | None = None) -> None:
        """Wait until every queued event has been delivered (or ``limit_s`` seconds pass)."""
        try:
            async with asyncio.timeout(limit_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("gave up waiting for %d job event deliveries", self._undelivered)

    def _start(self, lane: int) -> None:
        loop = asyncio.get_running_loop()
        self._workers[lane] = loop.create_task(self._work(lane), name=f"job-events-{lane}")

    async def _work(self, lane: int) -> None:
        queue = self._queues[lane]
        busy_since, current = self._busy_since, self._current
        clock = asyncio.get_running_loop().time
        while queue:
            event = queue.popleft()
            busy_since[lane], current[lane] = clock(), event
            try:
                for handler in tuple(self._handlers):
                    try:
                        await handler(event)
                    except Exception:
                        job = event.job
                        log.exception(
                            "job %s (task %s): %s handler %r failed", job.id, job.task_id, event.type, handler
                        )
            finally:
                busy_since[lane], current[lane] = None, None
                self._undelivered -= 1
                if self._undelivered == 0:
                    self._idle.set()
        self._workers[lane] = None
