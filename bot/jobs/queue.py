"""The per-member queue: queued jobs are sent when their owner has a free running slot.

A job over a server's running-jobs limit is stored as QUEUED (``JobEngine.enqueue``). The
:class:`QueueRunner` sends it (``JobEngine.release``) once the member's submitting and running jobs
in that server drop below the limit: after each final event of one of their jobs, after a QUEUED
event (the last running job may have ended between the quota check and the enqueue), and at start
for every member with queued jobs (so a restart loses nobody's place). Oldest first.

Each member's releases run under a lock of the store's (``store.locks``: it holds across the processes on the
store), and the store moves a job out of QUEUED once (``claim_queued``), so concurrent events, in one process or
several, never send a job twice or let a member past their limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.acedata.errors import AceDataError
from bot.scopes import QueuedRefusal
from bot.store import Store

from .engine import JobEngine
from .events import JobEvent, JobEventType
from .follower import EventFollower

log = logging.getLogger(__name__)

#: The running-jobs limit of (guild id, user id); guild id None is direct messages; None means no limit.
LimitFor = Callable[[int | None, int], Awaitable[int | None]]


class QueueRunner(EventFollower):
    """Sends each member's queued jobs, oldest first, while they are under their running-jobs limit."""

    def __init__(
        self, engine: JobEngine, store: Store, limit_for: LimitFor, *, refusal: QueuedRefusal | None = None
    ) -> None:
        """``refusal`` says why a member's queued jobs in a scope may no longer be sent (a block since they were
        queued, DMs turned off); those are failed with that reason instead of sent."""
        super().__init__()
        self._engine = engine
        self._store = store
        self._limit_for = limit_for
        self._refusal = refusal
        # Members with queued jobs: a final event of anyone else's job costs no query.
        self._waiting: set[int | None] = set()

    async def start(self) -> None:
        """Listen for job events, then release what can run now for every member with queued jobs."""
        if self._unsubscribe is not None:
            return
        self._unsubscribe = self._engine.subscribe(self.handle_event)
        self._catch_up_after_incidents(self._engine.api_health)
        await self.catch_up()

    async def catch_up(self) -> None:
        """Release what can run now for every member with queued jobs (at start, and after an incident)."""
        owners = await self._store.queue.queued_owners()
        self._waiting.update(user_id for user_id, _ in owners)
        if owners:
            log.info("queue: %d members have queued jobs; releasing what their limits allow", len(owners))
        for user_id in dict.fromkeys(user_id for user_id, _ in owners):
            await self.release_ready(user_id)

    async def handle_event(self, event: JobEvent) -> None:
        """After a final event or a QUEUED one, release the owner's jobs in a task of its own; returns at once."""
        user_id = event.job.user_id
        if self._unsubscribe is None:
            return
        if event.type is JobEventType.QUEUED:
            self._waiting.add(user_id)
        elif not event.type.final or user_id not in self._waiting:
            return
        # The release sends to the API; the job's other subscribers need not wait for that.
        self._spawn(self.release_ready(user_id), name=f"queue-release-{user_id}")

    async def release_ready(self, user_id: int | None) -> list[str]:
        """Send the member's queued jobs, oldest first per server, while they are under the limit; the ids sent.

        Never raises for one job: a job the API refuses is failed by the engine, and the next one is tried.
        """
        released: list[str] = []
        async with self._store.locks.hold(f"queue:member:{user_id}"):
            for guild_id in await self._store.queue.queued_guilds(user_id):
                try:
                    # A job without an owner (made outside Discord) has no limit to wait for.
                    limit = None if user_id is None else await self._limit_for(guild_id, user_id)
                except Exception:
                    log.exception("queue: cannot read the running limit of user %s in guild %s", user_id, guild_id)
                    continue
                released += await self._release_in(user_id, guild_id, limit)
            # Decided under the lock: a QUEUED event meanwhile has its own release waiting behind this one.
            if await self._store.queue.queued_guilds(user_id):
                self._waiting.add(user_id)
            else:
                self._waiting.discard(user_id)
        return released

    async def _release_in(self, user_id: int | None, guild_id: int | None, limit: int | None) -> list[str]:
        released: list[str] = []
        while limit is None or await self._store.queue.running_count(user_id, guild_id) < limit:
            job = await self._store.queue.next_queued(user_id, guild_id)
            if job is None:
                break
            refused = None if self._refusal is None else await self._refusal(guild_id, user_id)
            if refused is not None:
                log.info("job %s (guild %s): not sent from the queue: %s", job.id, guild_id, refused)
                await self._engine.refuse_queued(job.id, code="blocked", message=refused)
                continue
            try:
                if await self._engine.release(job.id):
                    released.append(job.id)
            except AceDataError as error:
                # Refused: the engine failed the job. Unclear: the job counts as running until it is settled.
                log.warning("job %s (guild %s): sending it from the queue failed: %s", job.id, guild_id, error)
            except Exception:
                log.exception("job %s (guild %s): sending it from the queue failed", job.id, guild_id)
                break
        return released
