"""Where a queued job stands in its member's queue, and about when it starts.

The estimate is simple, and shown as one. A job of a kind (video, imagine) is taken to run as long as the median
duration, from submit to result, of the last ``RECENT_JOBS`` jobs of that kind that succeeded in the last
``RECENT_WINDOW_S`` (every member's, every server's; the figures a job's confirmation card goes by, in
``bot.preview``). The member runs at most ``limit`` jobs at once in a place (the running-jobs limit their queued
jobs wait for): each running job holds a slot for its kind's median less the time it has run already (nothing
left when it has run longer: it may end any moment), and the queued jobs take the slots in their order, each as
soon as one frees, then hold it for the median of their own kind. A queued job is estimated to start when its
slot frees. Without a recent job of a kind that matters, there is no estimate, only the position.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.preview import RECENT_JOBS, RECENT_WINDOW_S
from bot.store import Job, JobKind, JobStatus, Store


@dataclass(frozen=True, slots=True)
class QueueEstimate:
    """A queued job's place in its member's queue (1: next) and when it may start (Unix time; None: unknown)."""

    position: int
    starts_at: float | None = None
    #: The running-jobs limit the member's queue waits for, when known.
    limit: int | None = None


def estimate_starts(
    running: Sequence[tuple[JobKind, float]],
    queued: Sequence[JobKind],
    *,
    limit: int | None,
    medians: Mapping[JobKind, float],
    now: float,
) -> list[float | None]:
    """When each of ``queued`` (in queue order) may start, from the ``running`` jobs (kind, start time) that hold
    the member's ``limit`` slots; None from the first job whose wait depends on a kind without a median."""
    slots: list[float] = []
    for kind, started in running:
        median = medians.get(kind)
        if median is None:
            return [None] * len(queued)
        slots.append(max(now, started + median))
    free = max(limit or 1, 1) - len(slots)
    slots.extend([now] * max(0, free))
    heapq.heapify(slots)
    starts: list[float | None] = []
    for kind in queued:
        start = heapq.heappop(slots)
        starts.append(start)
        median = medians.get(kind)
        if median is None:
            break
        heapq.heappush(slots, start + median)
    return starts + [None] * (len(queued) - len(starts))


async def recent_medians(store: Store, kinds: Iterable[JobKind], *, now: float) -> dict[JobKind, float]:
    """The median duration of the last jobs of each kind (kinds without a recent success are left out)."""
    medians: dict[JobKind, float] = {}
    for kind in set(kinds):
        durations = await store.stats.recent_durations(kind.value, since=now - RECENT_WINDOW_S, limit=RECENT_JOBS)
        if durations:
            medians[kind] = float(statistics.median(durations))
    return medians


def _started(job: Job) -> float:
    return job.submitted_at or job.updated_at


async def estimate_queue(store: Store, jobs: Iterable[Job], *, now: float) -> dict[str, QueueEstimate]:
    """Position and estimated start of each queued job among ``jobs``, by job id (the others are left out).

    The jobs ahead are read from the store for each member and place once, whoever ``jobs`` leaves out.
    """
    places = dict.fromkeys((job.user_id, job.guild_id) for job in jobs if job.status is JobStatus.QUEUED)
    estimates: dict[str, QueueEstimate] = {}
    for user_id, guild_id in places:
        under_way = await store.queue.owner_jobs(user_id, guild_id)
        waiting = [job for job in under_way if job.status is JobStatus.QUEUED]
        running = [(job.kind, _started(job)) for job in under_way if job.status is not JobStatus.QUEUED]
        limit = next((job.meta.queue.limit for job in waiting if job.meta.queue and job.meta.queue.limit), None)
        medians = await recent_medians(store, (job.kind for job in under_way), now=now)
        starts = estimate_starts(
            running, [job.kind for job in waiting], limit=limit or len(running), medians=medians, now=now
        )
        for position, (job, start) in enumerate(zip(waiting, starts, strict=True), start=1):
            estimates[job.id] = QueueEstimate(position, start, limit)
    return estimates
