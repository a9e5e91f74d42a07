"""Which undelivered results a sweep leaves alone on a shared store: those a live process is showing right now."""

from __future__ import annotations

from typing import Final

from bot.store import Store
from bot.store.models import Job, MessageLink

#: On a shared store, a sweep leaves alone the messages of jobs finished this recently while the process that
#: finished them lives: it delivers them (results go out within seconds; this is far more than a slow upload takes).
SHARED_SWEEP_GRACE_S: Final = 120.0


async def not_being_shown(
    store: Store, pending: list[tuple[MessageLink, Job]], now: float
) -> list[tuple[MessageLink, Job]]:
    """``pending`` without the results that the process that finished them is showing right now, so that two
    processes do not race to post the same result.

    Only while that process lives (its lease's heartbeat): one that stopped or died before it showed a result left
    it to whoever sweeps next, at once rather than after the grace.
    """
    recent = [job.id for _, job in pending if (job.finished_at or 0.0) > now - SHARED_SWEEP_GRACE_S]
    holders = await store.leases.holders(recent)
    alive = {job_id for job_id, (owner, until) in holders.items() if owner and until is not None and until >= now}
    return [(link, job) for link, job in pending if job.id not in alive]
