"""What the engine's helpers that act on job events share: listening, background work, a clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Final

from .incidents import ApiHealth, Incident

#: How long ``stop`` lets work under way finish before cancelling it. Short, so a hung API cannot hold up a shutdown:
#: a queued job's submit cut short is safe (its row is written before it is sent, and settled at the next start).
STOP_TIMEOUT_S: Final = 2.0


class EventFollower:
    """Subscribes to the engine in ``start`` (the subclass's), runs work in tasks of its own, and stops cleanly."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_health: Callable[[], None] | None = None

    def _catch_up_after_incidents(self, health: ApiHealth) -> None:
        """Run ``catch_up`` whenever the API recovers from an incident: what waited for it can go now."""

        def heard(incident: Incident) -> None:
            if incident.ended_at is not None and self._unsubscribe is not None:
                self._spawn(self.catch_up(), name=f"{type(self).__name__}-after-incident")

        self._unsubscribe_health = health.subscribe(heard)

    async def catch_up(self) -> None:
        """Do what waited while nobody could (the subclass's); by default nothing."""

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``work`` without making the event's other subscribers wait for it."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop listening, and let the work under way finish (cancelled after ``STOP_TIMEOUT_S``)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        unsubscribe, self._unsubscribe_health = self._unsubscribe_health, None
        if unsubscribe is not None:
            unsubscribe()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_TIMEOUT_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def idle(self) -> None:
        """Wait until the work started so far is done."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
