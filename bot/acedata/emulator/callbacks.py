"""Delivery of task results to ``callback_url``s, in order per task, with a short retry."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from .tasks import CallbackDelivery, Task

log = logging.getLogger(__name__)

#: Pauses before the second and third attempt of a callback POST.
RETRY_DELAYS_S: tuple[float, ...] = (0.25, 1.0)


class CallbackSender:
    """POSTs payloads to each task's callback URL; one drain coroutine per task with mail waiting."""

    def __init__(self, timeout_s: Callable[[], float], retry_delays: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self._timeout_s = timeout_s
        self._retry_delays = retry_delays
        self._session: aiohttp.ClientSession | None = None
        self._outboxes: dict[str, deque[dict[str, Any]]] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}

    def send(self, task: Task, payload: dict[str, Any]) -> None:
        """Queue ``payload`` for ``task``'s callback URL; it goes after the task's earlier payloads."""
        if not task.callback_url:
            return
        self._outboxes.setdefault(task.id, deque()).append(payload)
        if task.id not in self._drains:
            drain = asyncio.get_running_loop().create_task(self._drain(task), name=f"emulator-callback-{task.id}")
            self._drains[task.id] = drain

    async def wait_idle(self) -> None:
        """Wait until every queued payload was delivered or given up on."""
        while self._drains:
            await asyncio.gather(*self._drains.values(), return_exceptions=True)

    async def close(self) -> None:
        drains = list(self._drains.values())
        for drain in drains:
            drain.cancel()
        await asyncio.gather(*drains, return_exceptions=True)
        self._drains.clear()
        self._outboxes.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _drain(self, task: Task) -> None:
        box = self._outboxes[task.id]
        try:
            while box:
                payload = box.popleft()
                task.callbacks.append(await self._deliver(task, payload))
        finally:
            self._drains.pop(task.id, None)
            if not box:
                self._outboxes.pop(task.id, None)

    async def _deliver(self, task: Task, payload: dict[str, Any]) -> CallbackDelivery:
        url = task.callback_url or ""
        status: int | None = None
        attempts = 0
        for delay in (0.0, *self._retry_delays):
            if delay:
                await asyncio.sleep(delay)
            attempts += 1
            try:
                session = self._open_session()
                timeout = aiohttp.ClientTimeout(total=self._timeout_s())
                async with session.post(url, json=payload, timeout=timeout) as answer:
                    status = answer.status
                    await answer.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = None
                log.warning("emulator: callback of task %s (attempt %d) failed: %r", task.id, attempts, exc)
                continue
            if 200 <= status < 300:
                log.debug("emulator: callback of task %s delivered (HTTP %d)", task.id, status)
                return CallbackDelivery(payload, status, attempts, delivered=True)
            log.warning("emulator: callback of task %s (attempt %d) answered HTTP %d", task.id, attempts, status)
        log.warning("emulator: gave up on the callback of task %s after %d attempts", task.id, attempts)
        return CallbackDelivery(payload, status, attempts, delivered=False)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session
