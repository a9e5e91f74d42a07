"""Sending jobs to the API, and settling the ones whose submit ended without a clear answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest, TaskRecord, TaskResult
from bot.store import FinishItem, Store
from bot.store.models import Job, JobStatus

from . import reconcile as rules
from .events import JobEventType
from .health import count_api_call
from .outcomes import JobOutcomes
from .tracking import TrackedJobs

log = logging.getLogger(__name__)

#: Callbacks for unknown tasks kept while a submit is in flight (its answer may not be saved yet).
MAX_EARLY_RESULTS = 256
EXPIRED_MESSAGE = "The job could not be sent to Ace Data Cloud in time; nothing was generated."
UNSENDABLE_MESSAGE = "The job could not be sent to Ace Data Cloud and cannot be sent again; please start it anew."


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
    ) -> None:
        self._client = client
        self._store = store
        self._tracked = tracked
        self._outcomes = outcomes
        self._apply_early = apply_early
        self._callback_url = callback_url
        self._clock = clock
        self._job_timeout_s = job_timeout_s
        self._grace_s = grace_s
        self._units = units
        self.unconfirmed: dict[str, float] = {}
        self.in_flight: set[str] = set()
        self._reconciling: set[str] = set()
        self._early: dict[str, TaskResult] = {}

    @property
    def pending(self) -> int:
        """Jobs without a confirmed task: unconfirmed, or being submitted right now."""
        return len(self.unconfirmed.keys() | self.in_flight)

    def busy(self) -> set[str]:
        """Jobs that a submit or a reconcile is working on right now."""
        return self.in_flight | self._reconciling

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
        try:
            receipt = await self._client.submit(request, callback_url=self._callback_url)
        except AceDataError as error:
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
                job_id=job.id,
                guild_id=job.guild_id,
                user_id=job.user_id,
                kind=job.kind.value,
                action=job.action,
                units=self._units(job),
            )
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

    async def _settle(self, job_id: str) -> bool:
        job = await self._store.get_job(job_id)
        if job is None or job.task_id is not None or job.status is not JobStatus.SUBMITTING:
            self.unconfirmed.pop(job_id, None)
            return job is not None and job.task_id is not None
        now = self._clock()
        after, before = rules.search_window(job, job_timeout_s=self._job_timeout_s, now=now)
        count_api_call()
        try:
            records = await self._client.search_tasks(created_after=after, created_before=before)
        except AceDataError as error:
            log.warning("job %s (task unknown): the task search failed (%s); trying again later", job.id, error)
            return False
        found: TaskRecord | None = None
        for record in rules.candidates(job, records):
            owner = await self._store.get_job_by_task(record.task_id)
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
