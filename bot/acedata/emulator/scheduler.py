"""One timer for every task that someone is waiting on.

Tasks progress lazily (their state is computed from the clock when read), so an idle
emulator with thousands of tasks costs nothing. Only tasks with a waiter (a held request,
a stream or a callback) get entries here, and a single ``loop.call_later`` handle, always
armed for the earliest entry, fires them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Upper bound of one timer wait, so that a test clock that jumps ahead is noticed soon.
MAX_WAIT_S = 1.0


class Scheduler:
    """A heap of ``(when, task id, step)`` entries and one timer armed for the earliest."""

    def __init__(self, clock: Callable[[], float], fire: Callable[[str, int], None]) -> None:
        self._clock = clock
        self._fire = fire
        self._heap: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = 0.0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, task_id: str, step: int) -> None:
        heapq.heappush(self._heap, (when, next(self._order), task_id, step))
        self._arm()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._heap.clear()

    def _arm(self) -> None:
        if not self._heap:
            return
        when = self._heap[0][0]
        if self._handle is not None:
            if self._armed_for <= when:
                return
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        delay = min(max(0.0, when - self._clock()), MAX_WAIT_S)
        self._handle = loop.call_later(delay, self._run)
        self._armed_for = when

    def _run(self) -> None:
        self._handle = None
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            _when, _order, task_id, step = heapq.heappop(self._heap)
            try:
                self._fire(task_id, step)
            except Exception:
                log.exception("emulator: handling step %d of task %s failed", step, task_id)
        self._arm()
