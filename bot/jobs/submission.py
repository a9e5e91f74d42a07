"""Sending jobs to the API, and settling the ones whose submit ended without a clear answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest, TaskRecord, TaskResult
from bot.metrics import Metrics
from bot.store import FinishItem, Store
from bot.store.models import Job, JobStatus

from . import reconcile as rules
from .events import JobEventType
from .health import count_api_call
from .incidents import ApiHealth
from .outcomes import JobOutcomes
from .tracking import TrackedJobs

log = logging.getLogger(__name__)

#: Callbacks for unknown tasks kept while a submit is in flight (its answer may not be saved yet).
MAX_EARLY_RESULTS = 256
EXPIRED_MESSAGE = "The job could not be sent to Ace Data Cloud in time; nothing was generated."
UNSENDABLE_MESSAGE = "The job could not be sent to Ace Data Cloud and cannot be sent again; please start it anew."
#: Error code of a job failed because nobody could find out whether the API created its task.
UNCONFIRMED_CODE = "unconfirmed"


def unconfirmed_message(job: Job, error: AceDataError | None, *, refused: bool) -> str:
    """Why an unsettled job failed: the API may have made (and charged for) its task; where to look."""
    sent = datetime.fromtimestamp(rules.first_sent_at(job), UTC).strftime("%Y-%m-%d %H:%M UTC")
    if error is None:
        answer = ""
    elif refused:
        answer = f" The API answered the task search with {error}."
    else:
        answer = f" The task search kept failing: {error}."
    return (
        "Ace Data Cloud did not confirm whether it created this job; it may have, and charged for it. "
        f"Check your API dashboard for a task sent at {sent} before trying again (job id {job.id}).{answer}"
    )


@dataclass(slots=True)
class _Search:
    """How the task search of one unconfirmed job has been failing."""

    deadline: float
    failures: int = 0
    next_at: float = 0.0
    error: AceDataError | None = None
    refused: bool = False

    def waiting(self, now: float) -> bool:
        """Whether to leave the job alone now: the search is refused or pausing, and the deadline is not here."""
        return now < self.deadline and (self.refused or now < self.next_at)


class Submissions:
    """Submits jobs and settles unconfirmed ones by the rule in :mod:`bot.jobs.reconcile`.

    ``unconfirmed`` maps each job that may or may not have a task (status SUBMITTING, no task id)
    to when it was last sent; ``in_flight`` holds the jobs whose submit is under way or whose task
    id is being saved. A callback for such a job is held back (``hold``) and applied once the job
    is tracked, so its events stay in order.
    """

    def __init__(
        self,
        client: AceDataClient,
        store: Store,
        tracked: TrackedJobs,
        outcomes: JobOutcomes,
        *,
        apply_early: Callable[[TaskResult], Awaitable[bool]],
        callback_url: str | None,
        clock: Callable[[], float],
        job_timeout_s: float,
        grace_s: float,
        units: Callable[[Job], float],
        health: ApiHealth,
        metrics: Metrics,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._store = store
        self._tracked = tracked
        #: Marks a task search as a wait on the API (the poll record's ``waiting_on_api``, set by the engine once
        #: its poller exists), so a hung API during a reconcile reads as the API's problem, not a stuck loop.
        self.api_wait: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
        self._outcomes = outcomes
        self._apply_early = apply_early
        self._callback_url = callback_url
        self._clock = clock
        self._job_timeout_s = job_timeout_s
        self._grace_s = grace_s
        self._units = units
        #: The API's health as this process sees it (every submit is an observation).
        self.health = health
        self.unconfirmed: dict[str, float] = {}
        self.in_flight: set[str] = set()
        self._reconciling: set[str] = set()
        self._searches: dict[str, _Search] = {}
        self._early: dict[str, TaskResult] = {}

    @property
    def pending(self) -> int:
        """Jobs without a confirmed task: unconfirmed, or being submitted right now."""
        return len(self.unconfirmed.keys() | self.in_flight)

    def busy(self) -> set[str]:
        """Jobs that a submit or a reconcile is working on right now."""
        return self.in_flight | self._reconciling

    def due(self, limit: int) -> list[str]:
        """Up to ``limit`` unconfirmed jobs to reconcile now: not busy, and not pausing after a failed search."""
        now = self._clock()
        busy = self.busy()
        chosen: list[str] = []
        for job_id in self.unconfirmed:
            if len(chosen) >= limit:
                break
            search = self._searches.get(job_id)
            if job_id not in busy and (search is None or not search.waiting(now)):
                chosen.append(job_id)
        return chosen

    def hold(self, task_id: str, result: TaskResult) -> None:
        """Keep a callback for a task whose submit may not be saved yet (a few hundred at most)."""
        self._early.pop(task_id, None)
        self._early[task_id] = result
        while len(self._early) > MAX_EARLY_RESULTS:
            del self._early[next(iter(self._early))]

    async def send(self, job: Job, request: ApiRequest) -> None:
        """Send ``job`` and track it; a refusal fails the job, anything unclear leaves it unconfirmed."""
        self.in_flight.add(job.id)
        count_api_call()
        began = time.monotonic()
        try:
            receipt = await self._client.submit(request, callback_url=self._callback_url)
        except AceDataError as error:
            self.health.failed("submit", time.monotonic() - began, error)
            self.in_flight.discard(job.id)
            if rules.is_ambiguous(error):
                log.warning("job %s (task unknown): submit failed but a task may exist: %s", job.id, error)
                self.unconfirmed[job.id] = self._clock()
            else:
                log.info("job %s (task none): refused by the API: %s", job.id, error)
                self.unconfirmed.pop(job.id, None)
                await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, error.code, error.message)])
            raise
        except BaseException:
            self.in_flight.discard(job.id)
            self.unconfirmed[job.id] = self._clock()
            raise
        self.health.succeeded("submit", time.monotonic() - began)
        # The API has taken it (and charged for it): save the task id even if our caller goes away.
        await asyncio.shield(self.adopt(job, receipt.task_id))

    async def adopt(self, job: Job, task_id: str, record: TaskRecord | None = None) -> None:
        """Give ``job`` its task id, track it and announce it; apply ``record`` if it already says more.

        Until the task id is saved and SUBMITTED is out, the job counts as in flight, so a callback
        that arrives meanwhile is held back and applied afterwards (events stay in order).
        """
        self.in_flight.add(job.id)
        try:
            self.unconfirmed.pop(job.id, None)
            self._searches.pop(job.id, None)
            job = await self._store.jobs.mark_submitted(job.id, task_id)
            if job.finished:
                log.info(
                    "job %s (task %s): accepted after it was %s; its result is ignored", job.id, task_id, job.status
                )
                self._early.pop(task_id, None)
                return
            self._tracked.add(job)
            log.info("job %s (task %s): accepted by the API", job.id, task_id)
            self._outcomes.emit(JobEventType.SUBMITTED, job)
            units = self._units(job)
            await self._store.usage.record_usage(
                job_id=job.id,
                guild_id=job.guild_id,
                user_id=job.user_id,
                kind=job.kind.value,
                action=job.action,
                units=units,
            )
            self._metrics.units_spent(job.guild_id, units)
        finally:
            self.in_flight.discard(job.id)
        early = self._early.pop(task_id, None)
        if early is not None:
            await self._apply_early(early)
        elif record is not None:
            await self._outcomes.apply_records([record])

    async def reconcile(self, job_id: str) -> bool:
        """Settle one unconfirmed job by the rule in :mod:`bot.jobs.reconcile`; True once it has a task."""
        if job_id in self.in_flight or job_id in self._reconciling:
            return False  # a submit or another reconcile of this job is under way
        self._reconciling.add(job_id)
        try:
            return await self._settle(job_id)
        finally:
            self._reconciling.discard(job_id)
            if len(self._searches) > len(self.unconfirmed):  # jobs cancelled while unconfirmed
                for gone in self._searches.keys() - self.unconfirmed.keys():
                    del self._searches[gone]

    async def _settle(self, job_id: str) -> bool:
        job = await self._store.jobs.get_job(job_id)
        if job is None or job.task_id is not None or job.status is not JobStatus.SUBMITTING:
            self.unconfirmed.pop(job_id, None)
            self._searches.pop(job_id, None)
            return job is not None and job.task_id is not None
        now = self._clock()
        deadline = rules.deadline(job, job_timeout_s=self._job_timeout_s)
        search = self._searches.get(job.id)
        if search is not None and (search.refused or now < search.next_at):
            if now >= deadline:
                await self._fail_unsettled(job, search)
            return False
        after, before = rules.search_window(job, job_timeout_s=self._job_timeout_s, now=now)
        count_api_call()
        began = time.monotonic()
        try:
            with self.api_wait():
                records = await self._client.search_tasks(created_after=after, created_before=before)
        except AceDataError as error:
            self.health.failed("poll", time.monotonic() - began, error)
            search = self._searches.setdefault(job.id, _Search(deadline))
            search.failures += 1
            search.error = error
            if now >= deadline:
                await self._fail_unsettled(job, search)
            elif rules.is_permanent(error):
                search.refused = True
                log.warning(
                    "job %s (task unknown): the task search failed for good (%s); not searching again, "
                    "the job fails in %.0f s unless it is settled first",
                    job.id,
                    error,
                    deadline - now,
                )
            else:
                pause = rules.SEARCH_BACKOFF.delay(search.failures, error.retry_after)
                search.next_at = now + pause
                log.warning(
                    "job %s (task unknown): the task search failed (%s); trying again in %.0f s", job.id, error, pause
                )
            return False
        self.health.succeeded("poll", time.monotonic() - began)
        self._searches.pop(job.id, None)
        found: TaskRecord | None = None
        for record in rules.candidates(job, records):
            owner = await self._store.jobs.get_job_by_task(record.task_id)
            if owner is None or owner.id == job.id:
                found = record
                break
        if found is not None:
            log.info("job %s (task %s): found the task the API created; adopting it", job.id, found.task_id)
            await self.adopt(job, found.task_id, found)
            return True
        last_sent = self.unconfirmed.get(job.id)
        if last_sent is None:  # cancelled while we searched
            return False
        verdict = rules.decide(
            job, last_sent_at=last_sent, now=now, grace_s=self._grace_s, job_timeout_s=self._job_timeout_s
        )
        if verdict is rules.Verdict.WAIT:
            return False
        request = rules.request_from_params(job.kind, job.params)
        if verdict is rules.Verdict.EXPIRE or request is None:
            log.warning("job %s (task none): the API never created its task and it cannot be resent", job.id)
            self.unconfirmed.pop(job.id, None)
            message = EXPIRED_MESSAGE if request is not None else UNSENDABLE_MESSAGE
            await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, "not_submitted", message)])
            return False
        log.info("job %s (task none): the API never created its task; sending it again", job.id)
        try:
            await self.send(job, request)
        except AceDataError:
            return False
        return True

    async def _fail_unsettled(self, job: Job, search: _Search) -> None:
        """Fail a job whose task nobody could find out about before its time-out (it may exist, and be paid for)."""
        log.warning(
            "job %s (task unknown): not settled %.0f s after it was first sent; failing it (its task may exist)",
            job.id,
            self._job_timeout_s,
        )
        self.unconfirmed.pop(job.id, None)
        self._searches.pop(job.id, None)
        message = unconfirmed_message(job, search.error, refused=search.refused)
        await self._outcomes.finish([FinishItem(job.id, JobStatus.FAILED, None, UNCONFIRMED_CODE, message)])
