"""The job engine: submits generations, follows them to the end, and survives restarts.

A job is written to the store before the API hears of it, tracked in memory while it runs, and
finished in the store exactly once, whichever of the poll loop and an API callback sees the
result first. Subscribers receive :class:`JobEvent`s; nothing here knows about Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest, Endpoint, TaskRecord, TaskResult, TaskStatus
from bot.store import FinishItem, Store
from bot.store.models import Job, JobKind, JobStatus, NewJob

from . import reconcile
from .events import EventDispatcher, EventHandler, JobEventType
from .health import EngineHealth, PollRecord
from .outcomes import JobOutcomes
from .tracking import TrackedJobs, finish_item

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: Concurrent ``retrieve_batch`` requests per tick.
MAX_CONCURRENT_BATCHES = 4
#: Unconfirmed jobs reconciled per tick, so a backlog of them cannot hold up polling.
MAX_RECONCILES_PER_TICK = 8
#: Callbacks for unknown tasks kept while a submit is in flight (its answer may not be saved yet).
MAX_EARLY_RESULTS = 256
#: How long ``stop`` waits for the current tick, and then for event handlers.
STOP_TIMEOUT_S = 30.0
CANCELLED_MESSAGE = "Cancelled. The API cannot stop a task, so any result that still arrives is ignored."
EXPIRED_MESSAGE = "The job could not be sent to Ace Data Cloud in time; nothing was generated."
UNSENDABLE_MESSAGE = "The job could not be sent to Ace Data Cloud and cannot be sent again; please start it anew."


class JobNotFoundError(LookupError):
    """No job has this id."""


class JobEngine:
    """Submits jobs, follows them by batched polling and callbacks, and resumes them after a restart.

    Events are delivered by :class:`~bot.jobs.events.EventDispatcher`: in order per job, from tasks
    of their own, so a slow subscriber never holds up the poll loop.
    """

    def __init__(
        self,
        client: AceDataClient,
        store: Store,
        *,
        poll_interval_s: float = 5.0,
        job_timeout_s: float = 900.0,
        callback_url: str | None = None,
        callback_poll_interval_s: float = 60.0,
        batch_size: int = 50,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        reconcile_grace_s: float = 60.0,
    ) -> None:
        if min(poll_interval_s, callback_poll_interval_s, job_timeout_s) <= 0:
            raise ValueError("poll intervals and the job timeout must be positive")
        self._client = client
        self._store = store
        self._callback_url = callback_url
        self._poll_interval_s = callback_poll_interval_s if callback_url else poll_interval_s
        self._job_timeout_s = job_timeout_s
        self._batch_size = max(1, batch_size)
        self._clock = clock
        self._sleep = sleep
        self._grace_s = reconcile_grace_s
        self._tracked = TrackedJobs()
        self._events = EventDispatcher()
        self._outcomes = JobOutcomes(store, self._tracked, self._events, clock)
        self._unconfirmed: dict[str, float] = {}  # job id (SUBMITTING, no task id) -> when it was last sent
        self._in_flight: set[str] = set()  # job ids whose submit call is under way or whose task id is being saved
        self._reconciling: set[str] = set()
        self._early: dict[str, TaskResult] = {}
        self._batches = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._tick_lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ticking = False
        self._requests = 0
        self._record = PollRecord(clock)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def tracked_count(self) -> int:
        return len(self._tracked)

    @property
    def poll_interval_s(self) -> float:
        """Seconds between ticks (the safety-net interval when callbacks are on)."""
        return self._poll_interval_s

    async def start(self) -> None:
        """Resume every unfinished job (track running ones, reconcile unconfirmed ones), then start polling."""
        if self._loop_task is not None:
            return
        self._stopping = False
        queued = 0
        for job in await self._store.unfinished_jobs():
            if job.status is JobStatus.RUNNING and job.task_id:
                self._tracked.add(job)
            elif job.status is JobStatus.QUEUED:
                queued += 1  # waits for its owner's slot; whoever queued it will submit it
            else:
                self._unconfirmed[job.id] = max(job.created_at, job.updated_at)
        log.info(
            "job engine resuming %d running and %d unconfirmed jobs (%d queued left waiting); polling every %g s",
            len(self._tracked),
            len(self._unconfirmed),
            queued,
            self._poll_interval_s,
        )
        for job_id in list(self._unconfirmed):
            await self._reconcile(job_id)
        self._record.started()
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="job-engine-poll")

    async def stop(self) -> None:
        """Stop polling (after the tick under way, if any) and let queued events reach their handlers."""
        self._stopping = True
        task, self._loop_task = self._loop_task, None
        if task is not None:
            if not self._ticking:
                task.cancel()  # it is asleep between ticks
            _, pending = await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
            for straggler in pending:
                straggler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._events.drain(STOP_TIMEOUT_S)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Receive every job event; returns a function that unsubscribes."""
        return self._events.subscribe(handler)

    async def flush_events(self, limit_s: float | None = None) -> None:
        """Wait until every event emitted so far has reached the subscribers (or ``limit_s`` passes)."""
        await self._events.drain(limit_s)

    def health(self) -> EngineHealth:
        record = self._record
        return EngineHealth(
            problem=record.problem(self._loop_task, self._poll_interval_s),
            tracked_jobs=len(self._tracked),
            unconfirmed_jobs=len(self._unconfirmed) + len(self._in_flight),
            last_poll_at=record.last_poll_at,
            last_poll_ok=record.last_poll_ok,
            poll_interval_s=self._poll_interval_s,
        )

    # -- submitting --------------------------------------------------------------------------------

    async def submit(
        self,
        request: ApiRequest,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        parent_id: str | None = None,
        prompt: str | None = None,
    ) -> str:
        """Record a job, then send it; returns the job id once the API has accepted it.

        A refusal (400, 401, 403, 429 after retries, no connection) fails the job and is raised. A
        failure after which a task may exist (5xx, a timeout, a connection lost mid-request) leaves
        the job unconfirmed and is raised, unless reconciling finds the task at once.
        """
        text = request.prompt or prompt
        if not text and parent_id is not None:
            parent = await self._store.get_job(parent_id)
            text = parent.prompt if parent is not None else None
        job = await self._store.create_job(
            NewJob(
                kind=JobKind.VIDEO if request.endpoint is Endpoint.VIDEOS else JobKind.IMAGINE,
                action=request.action,
                prompt=text or "",
                params=request.to_body(),
                parent_id=parent_id,
                guild_id=guild_id,
                channel_id=channel_id,
                user_id=user_id,
                status=JobStatus.SUBMITTING,
            )
        )
        log.info("job %s (task none yet): submitting %s %s for user %s", job.id, job.kind, job.action, user_id)
        try:
            await self._send(job, request)
        except AceDataError as error:
            if not reconcile.is_ambiguous(error) or not await self._reconcile(job.id):
                raise
        return job.id

    async def _send(self, job: Job, request: ApiRequest) -> None:
        """Send ``job`` and track it; a refusal fails the job, anything unclear leaves it unconfirmed."""
        self._in_flight.add(job.id)
        self._requests += 1
        try:
            receipt = await self._client.submit(request, callback_url=self._callback_url)
        except AceDataError as error:
            self._in_flight.discard(job.id)
            if reconcile.is_ambiguous(error):
                log.warning("job %s (task unknown): submit failed but a task may exist: %s", job.id, error)
                self._unconfirmed[job.id] = self._clock()
            else:
                log.info("job %s (task none): refused by the API: %s", job.id, error)
                self._unconfirmed.pop(job.id, None)
                await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, error.code, error.message)])
            raise
        except BaseException:
            self._in_flight.discard(job.id)
            self._unconfirmed[job.id] = self._clock()
            raise
        # The API has taken it (and charged for it): save the task id even if our caller goes away.
        await asyncio.shield(self._adopt(job, receipt.task_id))

    async def _adopt(self, job: Job, task_id: str, record: TaskRecord | None = None) -> None:
        """Give ``job`` its task id, track it and announce it; apply ``record`` if it already says more.

        Until the task id is saved and SUBMITTED is out, the job counts as in flight, so a callback
        that arrives meanwhile is held back and applied afterwards (events stay in order).
        """
        self._in_flight.add(job.id)
        try:
            self._unconfirmed.pop(job.id, None)
            job = await self._store.mark_submitted(job.id, task_id)
            if job.finished:
                log.info(
                    "job %s (task %s): accepted after it was %s; its result is ignored", job.id, task_id, job.status
                )
                self._early.pop(task_id, None)
                return
            self._tracked.add(job)
            log.info("job %s (task %s): accepted by the API", job.id, task_id)
            self._outcomes.emit(JobEventType.SUBMITTED, job)
            await self._store.record_usage(
                job_id=job.id, guild_id=job.guild_id, user_id=job.user_id, kind=job.kind.value, action=job.action
            )
        finally:
            self._in_flight.discard(job.id)
        early = self._early.pop(task_id, None)
        if early is not None:
            await self.handle_callback(early)
        elif record is not None:
            await self._outcomes.apply_records([record])

    async def _reconcile(self, job_id: str) -> bool:
        """Settle one unconfirmed job by the rule in :mod:`bot.jobs.reconcile`; True once it has a task."""
        if job_id in self._in_flight or job_id in self._reconciling:
            return False  # a submit or another reconcile of this job is under way
        self._reconciling.add(job_id)
        try:
            return await self._settle(job_id)
        finally:
            self._reconciling.discard(job_id)

    async def _settle(self, job_id: str) -> bool:
        job = await self._store.get_job(job_id)
        if job is None or job.task_id is not None or job.status is not JobStatus.SUBMITTING:
            self._unconfirmed.pop(job_id, None)
            return job is not None and job.task_id is not None
        now = self._clock()
        after, before = reconcile.search_window(job, job_timeout_s=self._job_timeout_s, now=now)
        self._requests += 1
        try:
            records = await self._client.search_tasks(created_after=after, created_before=before)
        except AceDataError as error:
            log.warning("job %s (task unknown): the task search failed (%s); trying again later", job.id, error)
            return False
        found: TaskRecord | None = None
        for record in reconcile.candidates(job, records):
            owner = await self._store.get_job_by_task(record.task_id)
            if owner is None or owner.id == job.id:
                found = record
                break
        if found is not None:
            log.info("job %s (task %s): found the task the API created; adopting it", job.id, found.task_id)
            await self._adopt(job, found.task_id, found)
            return True
        last_sent = self._unconfirmed.get(job.id)
        if last_sent is None:  # cancelled while we searched
            return False
        verdict = reconcile.decide(
            job, last_sent_at=last_sent, now=now, grace_s=self._grace_s, job_timeout_s=self._job_timeout_s
        )
        if verdict is reconcile.Verdict.WAIT:
            return False
        request = reconcile.request_from_params(job.kind, job.params)
        if verdict is reconcile.Verdict.EXPIRE or request is None:
            log.warning("job %s (task none): the API never created its task and it cannot be resent", job.id)
            self._unconfirmed.pop(job.id, None)
            message = EXPIRED_MESSAGE if request is not None else UNSENDABLE_MESSAGE
            await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, "not_submitted", message)])
            return False
        log.info("job %s (task none): the API never created its task; sending it again", job.id)
        try:
            await self._send(job, request)
        except AceDataError:
            return False
        return True

    # -- callbacks, cancelling, waiting --------------------------------------------------------

    async def handle_callback(self, result: TaskResult) -> bool:
        """Apply a result the API POSTed; True if it belongs to a job. Safe to race with the poll loop."""
        task_id = result.task_id
        if not task_id:
            return False
        entry = self._tracked.by_task(task_id)
        if entry is not None:
            job_id = entry.job_id
        else:
            job = await self._store.get_job_by_task(task_id)
            if job is None or job.id in self._in_flight:
                if self._in_flight:  # the submit that created it may not have saved its task id yet
                    self._remember_early(task_id, result)
                    log.info("callback for task %s held until its submit is saved", task_id)
                else:
                    log.info("callback for unknown task %s ignored", task_id)
                return job is not None
            if job.finished:
                log.info("job %s (task %s): late result ignored; the job is %s", job.id, task_id, job.status)
                return True
            job_id = job.id
        status = result.status
        if status is TaskStatus.SUCCEEDED and result.progress is not None and result.progress < 100:
            status = TaskStatus.RUNNING  # an ndjson progress snapshot: "success" only means "so far so good"
        if status is not TaskStatus.RUNNING:
            await self._outcomes.finish([finish_item(job_id, status, result)])
        elif result.progress is not None and (entry is None or result.progress > entry.progress):
            if entry is not None:
                entry.progress = result.progress
            await self._outcomes.save_progress([(job_id, result.progress)])
        return True

    def _remember_early(self, task_id: str, result: TaskResult) -> None:
        self._early.pop(task_id, None)
        self._early[task_id] = result
        while len(self._early) > MAX_EARLY_RESULTS:
            del self._early[next(iter(self._early))]

    async def cancel(self, job_id: str, *, reason: str | None = None) -> Job:
        """Stop following a job and mark it cancelled; the API cannot cancel, so a late result is ignored."""
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if job.finished:
            return job
        self._tracked.remove_job(job_id)
        self._unconfirmed.pop(job_id, None)
        job, changed = await self._store.finish_job(
            job_id, JobStatus.CANCELLED, error_code="cancelled", error_message=reason or CANCELLED_MESSAGE
        )
        if changed:
            log.info("job %s (task %s): cancelled", job.id, job.task_id)
            self._outcomes.emit(JobEventType.CANCELLED, job)
        return job

    async def get(self, job_id: str) -> Job | None:
        return await self._store.get_job(job_id)

    async def wait(self, job_id: str, *, timeout: float | None = None) -> Job:  # noqa: ASYNC109 (public API, like asyncio.wait_for)
        """Wait until the job is finished and return it; ``TimeoutError`` after ``timeout`` seconds."""
        job = await self._outcomes.wait(job_id, timeout)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    # -- polling ---------------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """One tick: reconcile a few unconfirmed jobs, poll every running one in batches, time out the overdue.

        Returns the number of API requests made.
        """
        async with self._tick_lock:
            before = self._requests
            busy = self._in_flight | self._reconciling
            due = [job_id for job_id in self._unconfirmed if job_id not in busy]
            for job_id in due[:MAX_RECONCILES_PER_TICK]:
                await self._reconcile(job_id)
            task_ids = self._tracked.task_ids()
            size = self._batch_size
            answers = await asyncio.gather(
                *(self._fetch(task_ids[i : i + size]) for i in range(0, len(task_ids), size))
            )
            records = [record for answer in answers if answer is not None for record in answer]
            await self._outcomes.apply_records(records)
            await self._outcomes.expire(self._job_timeout_s)
            self._record.polled(all(answer is not None for answer in answers))
            return self._requests - before

    async def _fetch(self, task_ids: Sequence[str]) -> list[TaskRecord] | None:
        async with self._batches:
            self._requests += 1
            try:
                found = await self._client.retrieve_batch(task_ids)
            except AceDataError as error:
                self._record.failed(str(error))
                log.warning("poll of %d running jobs failed: %s; trying again next tick", len(task_ids), error)
                return None
            except Exception as error:
                self._record.failed(repr(error))
                log.exception("poll of %d running jobs failed unexpectedly; trying again next tick", len(task_ids))
                return None
        return list(found.values())

    async def _run(self) -> None:
        while True:
            began = time.monotonic()
            self._ticking = True
            try:
                await self.poll_once()
            except Exception as error:
                self._record.failed(repr(error))
                self._record.polled(False)
                log.exception("job engine tick failed; trying again in %g s", self._poll_interval_s)
            finally:
                self._ticking = False
            if self._stopping:
                return
            await self._sleep(max(0.0, self._poll_interval_s - (time.monotonic() - began)))
