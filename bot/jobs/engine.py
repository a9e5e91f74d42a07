"""The job engine: submits generations, follows them to the end, and survives restarts.

A job is written to the store before the API hears of it, tracked in memory while it runs, and
finished in the store exactly once, whichever of the poll loop and the lookup a callback
prompts sees the result first. Subscribers receive :class:`JobEvent`s; nothing here knows about Discord.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot import costs
from bot.acedata.client import AceDataClient
from bot.acedata.models import ApiRequest, TaskResult
from bot.metrics import Metrics
from bot.store import EMPTY_META, FinishItem, JobMeta, JobNotFoundError, Lease, Store
from bot.store.leases import new_owner_id
from bot.store.models import Job, JobStatus

from . import reconcile
from .events import EventDispatcher, EventHandler, JobEventType
from .health import EngineHealth
from .hints import CallbackHints
from .incidents import ApiHealth, ProviderUnavailableError
from .intake import JobIntake
from .leases import LeaseKeeper
from .lookups import TaskLookups
from .outcomes import JobOutcomes
from .polling import Poller, Sleep
from .submission import UNSENDABLE_MESSAGE, Submissions
from .tracking import TrackedJobs

log = logging.getLogger(__name__)

#: How long ``stop`` waits for event handlers.
STOP_TIMEOUT_S = 30.0
#: How long a lease lasts without renewal, unless the engine is given one (``[jobs] lease_s``).
DEFAULT_LEASE_S = 30.0
CANCELLED_MESSAGE = "Cancelled. The API cannot stop a task, so any result that still arrives is ignored."


class JobEngine:
    """Submits jobs, follows them by batched polling and callbacks, and resumes them after a restart.

    Events are delivered by :class:`~bot.jobs.events.EventDispatcher`: in order per job, by worker
    tasks of their own, so a slow subscriber never holds up the poll loop.
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
        cost: Callable[[ApiRequest], float] = costs.cost,
        lease: Lease | None = None,
        shared: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        """``cost`` prices a request in units for the usage ledger (see :mod:`bot.costs`).

        ``metrics`` counts the jobs sent and finished here, their run times and units, and reads the jobs followed
        here at each scrape; without it nothing is recorded.

        ``shared``: other processes use the same store, each following the jobs it holds a ``lease`` on (a new
        owner id and 30 s when not given); the tick then comes at least every third of the lease, so that it is
        renewed in time. Not shared, the engine takes every unfinished job at start and needs no renewals.
        """
        if min(poll_interval_s, callback_poll_interval_s, job_timeout_s) <= 0:
            raise ValueError("poll intervals and the job timeout must be positive")
        self._store = store
        self._job_timeout_s = job_timeout_s
        self._cost = cost
        self._tracked = TrackedJobs()
        self.metrics = metrics if metrics is not None else Metrics(enabled=False)
        self.metrics.follow_running(lambda: len(self._tracked))
        #: The API's health as this engine sees it; an incident stops new jobs (``ProviderUnavailableError``).
        self.api_health = ApiHealth(clock)
        self._events = EventDispatcher()
        self._outcomes = JobOutcomes(store, self._tracked, self._events, clock, self.metrics)
        self._lookups = TaskLookups(
            client, self._outcomes.apply_records, self._tracked.follows, batch_size=max(1, batch_size)
        )
        self._submissions = Submissions(
            client,
            store,
            self._tracked,
            self._outcomes,
            apply_early=self.handle_callback,
            callback_url=callback_url,
            clock=clock,
            job_timeout_s=job_timeout_s,
            grace_s=reconcile_grace_s,
            units=self.units_of,
            health=self.api_health,
            metrics=self.metrics,
        )
        self._unconfirmed = self._submissions.unconfirmed
        lease = lease or Lease(new_owner_id(), DEFAULT_LEASE_S)
        self._leases = LeaseKeeper(store, self._tracked, self._submissions, self._outcomes, lease=lease, shared=shared)
        self._intake = JobIntake(store, self._submissions, lease)
        self._hints = CallbackHints(
            store,
            self._tracked,
            self._submissions,
            self._leases,
            lookup=lambda task_id: None if self._poller.stopping else self._lookups.hint(task_id),
            stopping=lambda: self._poller.stopping,
        )
        interval_s = callback_poll_interval_s if callback_url else poll_interval_s
        if shared:
            interval_s = min(interval_s, lease.seconds / 3)
        self._poller = Poller(
            client,
            self._tracked,
            self._submissions,
            self._outcomes,
            self._leases,
            self.api_health,
            interval_s=interval_s,
            job_timeout_s=job_timeout_s,
            batch_size=max(1, batch_size),
            clock=clock,
            sleep=sleep,
        )
        self._submissions.api_wait = self._poller.record.waiting_on_api

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def tracked_count(self) -> int:
        return len(self._tracked)

    @property
    def job_timeout_s(self) -> float:
        """How long a job may run before it is timed out."""
        return self._job_timeout_s

    @property
    def poll_interval_s(self) -> float:
        """Seconds between ticks (the safety-net interval when callbacks are on)."""
        return self._poller.interval_s

    async def start(self) -> None:
        """Resume every unfinished job (track running ones, reconcile unconfirmed ones), then start polling."""
        if self._poller.running:
            return
        self._poller.stopping = False
        adopted = await self._leases.start()
        if self._leases.shared:
            await self._hints.start()
        log.info(
            "job engine resuming %d running and %d unconfirmed jobs%s; polling every %g s",
            adopted.running,
            adopted.unconfirmed,
            f" beside other processes (owner {self._leases.lease.owner})" if self._leases.shared else "",
            self._poller.interval_s,
        )
        for job_id in list(self._unconfirmed):
            await self._submissions.reconcile(job_id)
        self._poller.start()

    async def stop(self) -> None:
        """Stop polling and let queued events reach their handlers.

        A tick under way gets ``STOP_TICK_GRACE_S`` to finish, then is cancelled: a request to a hung API must not
        hold up a shutdown, and a cut tick loses nothing (every job it followed is still unfinished in the store).
        """
        await self._poller.stop(self._intake.senders)
        await self._hints.stop()
        await self._leases.stop()
        await self._lookups.close()
        await self._events.drain(STOP_TIMEOUT_S)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Receive every job event; returns a function that unsubscribes."""
        return self._events.subscribe(handler)

    async def flush_events(self, limit_s: float | None = None) -> None:
        """Wait until every event emitted so far has reached the subscribers (or ``limit_s`` passes)."""
        await self._events.drain(limit_s)

    def health(self) -> EngineHealth:
        record = self._poller.record
        return EngineHealth(
            problem=self._poller.problem(),
            api_problem=record.api_problem(self._poller.interval_s),
            tracked_jobs=len(self._tracked),
            unconfirmed_jobs=self._submissions.pending,
            last_poll_at=record.last_poll_at,
            last_poll_ok=record.last_poll_ok,
            poll_interval_s=self._poller.interval_s,
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
        meta: JobMeta = EMPTY_META,
        recorded: Callable[[str], None] | None = None,
    ) -> str:
        """Record a job, then send it; returns the job id once the API has accepted it.

        ``meta`` is stored on the job as it is (the bot's own notes; the API never sees it). ``recorded``
        is given the job id as soon as the job is written, before the API hears of it, so a caller can name
        the job even when the submit raises.

        A refusal (400, 401, 403, 429 after retries, no connection) fails the job and is raised. A
        failure after which a task may exist (5xx, a timeout, a connection lost mid-request) leaves
        the job unconfirmed and is raised, unless reconciling finds the task at once.

        While the API is in an incident (``api_health``), nothing is written or sent: ``ProviderUnavailableError``.
        """
        if self.api_health.incident is not None:
            raise ProviderUnavailableError(
                "Ace Data Cloud has been failing for a few minutes; new jobs are not sent until it answers again, "
                "and nothing was charged"
            )
        job = await self._intake.create(
            request, JobStatus.SUBMITTING, user_id, guild_id, channel_id, parent_id, prompt, meta
        )
        if recorded is not None:
            recorded(job.id)
        log.info("job %s (task none yet): submitting %s %s for user %s", job.id, job.kind, job.action, user_id)
        await self._intake.send(job, request)
        return job.id

    async def enqueue(
        self,
        request: ApiRequest,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        parent_id: str | None = None,
        prompt: str | None = None,
        meta: JobMeta = EMPTY_META,
    ) -> str:
        """Record a job as QUEUED without calling the API, announce it (QUEUED), and return its id.

        The job waits until ``release`` sends it (the queue runner does, when its owner has a free slot);
        ``cancel`` takes it out of the queue.
        """
        job = await self._intake.create(
            request, JobStatus.QUEUED, user_id, guild_id, channel_id, parent_id, prompt, meta
        )
        log.info("job %s (guild %s): queued %s %s for user %s", job.id, guild_id, job.kind, job.action, user_id)
        self._outcomes.emit(JobEventType.QUEUED, job)
        return job.id

    async def refuse(
        self,
        request: ApiRequest,
        *,
        code: str,
        message: str,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        parent_id: str | None = None,
        prompt: str | None = None,
        meta: JobMeta = EMPTY_META,
    ) -> str:
        """Record a job the bot itself refused (a limit, say) as FAILED with ``message``, without calling the API.

        Used where the job was asked for by something other than a member's command (an automatic
        follow-up), so that the refusal still reaches the job's messages through the FAILED event.
        """
        job = await self._intake.create(
            request, JobStatus.SUBMITTING, user_id, guild_id, channel_id, parent_id, prompt, meta
        )
        log.info("job %s (guild %s): refused before sending: %s", job.id, guild_id, code)
        await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, code, message)])
        return job.id

    async def release(self, job_id: str) -> bool:
        """Send a queued job, on its own row (QUEUED -> SUBMITTING -> RUNNING, announced by SUBMITTED).

        Returns False if the job is not queued (any more): released already, cancelled, unknown; and while
        the API is in an incident (the job stays queued, and is released once it answers again).
        Errors are those of ``submit``: a refusal fails the job and is raised.
        """
        if self.api_health.incident is not None:
            return False
        job = await self._store.queue.claim_queued(job_id, lease=self._leases.lease)
        if job is None:
            return False
        request = reconcile.request_from_params(job.kind, job.params)
        if request is None:
            log.warning("job %s (guild %s): its stored request cannot be sent; failing it", job.id, job.guild_id)
            await self._outcomes.finish(
                [FinishItem(job.id, JobStatus.FAILED, None, "not_submitted", UNSENDABLE_MESSAGE)]
            )
            return False
        log.info("job %s (guild %s): released from the queue for user %s", job.id, job.guild_id, job.user_id)
        await self._intake.send(job, request)
        return True

    async def refuse_queued(self, job_id: str, *, code: str, message: str) -> bool:
        """Fail a queued job with ``message`` instead of sending it (its owner may no longer start it); False if
        it is not queued (any more)."""
        job = await self._store.queue.claim_queued(job_id, lease=self._leases.lease)
        if job is None:
            return False
        await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, code, message)])
        return True

    def units_of(self, job: Job) -> float:
        """What ``job`` costs in units, by the engine's ``cost`` (from its stored request)."""
        request = reconcile.request_from_params(job.kind, job.params)
        return self._cost(request) if request is not None else costs.cost_of(job.kind.value, job.params)

    # -- callbacks, cancelling, waiting --------------------------------------------------------

    async def handle_callback(self, result: TaskResult, *, forwarded: bool = False) -> bool:
        """Take a callback as a hint; True if its task belongs to a job. Safe to race with the poll loop.

        Only the task id is read: anyone who learns the callback URL can POST anything, so the job is
        finished by what the API itself says when asked (a batched lookup, at most about once a second per
        task). A task no job knows costs no API call.

        On a shared store, a callback for a job another process holds is passed on to that process (a
        signal), which looks the task up and shows the result: one process renders a job's message. A job
        nobody holds any more (its process died) is taken over here. ``forwarded``: the hint came from
        another process, and is not passed on again.
        """
        return await self._hints.handle(result, forwarded=forwarded)

    async def cancel(self, job_id: str, *, reason: str | None = None) -> Job:
        """Stop following a job and mark it cancelled; the API cannot cancel, so a late result is ignored."""
        job = await self._store.jobs.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        if job.finished:
            return job
        self._tracked.remove_job(job_id)
        self._unconfirmed.pop(job_id, None)
        job, changed = await self._store.jobs.finish_job(
            job_id, JobStatus.CANCELLED, error_code="cancelled", error_message=reason or CANCELLED_MESSAGE
        )
        if changed:
            log.info("job %s (task %s): cancelled", job.id, job.task_id)
            self._outcomes.emit(JobEventType.CANCELLED, job)
        return job

    async def get(self, job_id: str) -> Job | None:
        return await self._store.jobs.get_job(job_id)

    async def wait(self, job_id: str, *, timeout: float | None = None) -> Job:  # noqa: ASYNC109 (public API, like asyncio.wait_for)
        """Wait until the job is finished and return it; ``TimeoutError`` after ``timeout`` seconds."""
        job = await self._outcomes.wait(job_id, timeout)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job

    # -- polling ---------------------------------------------------------------------------------

    async def poll_once(self) -> int:
        """One tick: reconcile a few unconfirmed jobs, poll every running one in batches, time out the overdue.

        Returns the number of API calls the tick made (a call the client retried counts once).
        """
        return await self._poller.poll_once()
