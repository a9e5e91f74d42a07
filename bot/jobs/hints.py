"""Callbacks passed between processes that share a store: one process renders each job's message.

The API's callback reaches whichever process its load balancer picked. A callback for a job another
process holds is passed on to every process as a signal carrying the task id; the one that follows the
task looks it up and shows the result. Losing a hint costs only time: the holder polls the task anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.acedata.models import TaskResult
from bot.store import Store, StoreError

#: The engine's logger (``bot.jobs.engine``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.engine")

#: The signal channel on which processes sharing a store pass each other callbacks (a task id).
CHANNEL = "mjbot_task_hints"

Handler = Callable[[TaskResult], Awaitable[bool]]


class CallbackHints:
    """Passes callbacks on to the other processes, and hands the ones they pass on to this engine."""

    def __init__(self, store: Store, handle: Handler, stopping: Callable[[], bool]) -> None:
        """``handle`` takes a hint from another process (and must not pass it on again)."""
        self._store = store
        self._handle = handle
        self._stopping = stopping
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen for hints from the other processes."""
        if self._stop_listening is None:
            self._stop_listening = await self._store.signals.listen(CHANNEL, self._heard)

    async def stop(self) -> None:
        """Stop listening, and drop the hints still being handled (the next start polls those tasks)."""
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            await stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def pass_on(self, task_id: str) -> None:
        """Tell the other processes about a callback for ``task_id``."""
        try:
            await self._store.signals.send(CHANNEL, task_id)
        except StoreError as error:  # the holder finds the result on its next tick anyway
            log.warning("could not pass the callback for task %s on to the process that follows it: %s", task_id, error)

    def _heard(self, task_id: str) -> None:
        if self._stopping():
            return
        task = asyncio.get_running_loop().create_task(self._hinted(task_id), name=f"hint-{task_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hinted(self, task_id: str) -> None:
        try:
            await self._handle(TaskResult(task_id=task_id, success=None))
        except Exception:
            log.exception("handling the callback hint for task %s failed; the next tick polls it", task_id)
