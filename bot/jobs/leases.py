"""The engine's leases: the jobs this process follows are the jobs it holds in the store.

Every tick, before polling, the keeper renews this process's leases, lets go of the jobs it no longer
holds (finished by another process, or taken over after this one stalled past its lease), and, when
other processes share the store, takes over the jobs whose lease ran out: their process died or hung.
A process alone on its store (an SQLite file it holds exclusively) skips all of that after start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.store import Job, JobStatus, Lease, Store

from .outcomes import JobOutcomes
from .submission import Submissions
from .tracking import TrackedJobs

#: The engine's logger (``bot.jobs.engine``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")


@dataclass(frozen=True, slots=True)
class Adopted:
    """What a take-over brought in: jobs to poll, and jobs whose submit must be settled first."""

    running: int
    unconfirmed: int


class LeaseKeeper:
    """Takes, renews and gives back the engine's leases, and keeps the tracked jobs to those it holds."""

    def __init__(
        self,
        store: Store,
        tracked: TrackedJobs,
        submissions: Submissions,
        outcomes: JobOutcomes,
        *,
        lease: Lease,
        shared: bool,
    ) -> None:
        self._store = store
        self._tracked = tracked
        self._submissions = submissions
        self._outcomes = outcomes
        self.lease = lease
        #: Whether other processes may use the store at the same time.
        self.shared = shared

    async def start(self) -> Adopted:
        """Take the jobs to resume: those whose lease ran out or never was, or (alone on the store) every one."""
        return self._adopt(await self._store.leases.take_over(self.lease, everything=not self.shared))

    async def step(self) -> Adopted:
        """Renew what is held, let go of what is not, take over what was left behind (only when shared)."""
        if not self.shared:
            return Adopted(0, 0)
        held = await self._store.leases.renew(self.lease)
        busy = self._submissions.busy()
        followed = set(self._tracked.job_ids()) | set(self._submissions.unconfirmed)
        lost = [job_id for job_id in followed - held if job_id not in busy]
        if lost:
            await self._let_go(lost)
        return self._adopt(await self._store.leases.take_over(self.lease))

    async def stop(self) -> None:
        """Give back every lease at once, so that another process takes the jobs over on its next tick."""
        if self.shared:
            given = await self._store.leases.give_back(self.lease)
            if given:
                log.info("gave back the leases of %d unfinished jobs for other processes to take over", given)

    async def _let_go(self, job_ids: list[str]) -> None:
        jobs = await self._store.jobs.jobs_by_ids(job_ids)
        for job_id in job_ids:
            self._tracked.remove_job(job_id)
            self._submissions.unconfirmed.pop(job_id, None)
            job = jobs.get(job_id)
            if job is not None and job.finished:
                # The process that finished it announced it; whoever waits here learns the outcome too.
                self._outcomes.settled_elsewhere(job)
            else:
                log.info("job %s: another process follows it now", job_id)

    def _adopt(self, jobs: list[Job]) -> Adopted:
        running = unconfirmed = 0
        for job in jobs:
            if job.status is JobStatus.RUNNING and job.task_id:
                if self._tracked.by_job(job.id) is None:
                    self._tracked.add(job)
                    running += 1
            elif job.id not in self._submissions.unconfirmed and job.id not in self._submissions.busy():
                self._submissions.unconfirmed[job.id] = max(job.created_at, job.updated_at)
                unconfirmed += 1
        if self.shared and (running or unconfirmed):
            log.info("took over %d running and %d unconfirmed jobs whose lease had run out", running, unconfirmed)
        return Adopted(running, unconfirmed)
