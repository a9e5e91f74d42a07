"""Looking tasks up as soon as a callback names them: the callback is a hint, the API's answer the verdict.

The API signs nothing it POSTs, so anyone who learns the callback URL can POST anything to it. A
callback therefore only says *which* task to ask about; what the job becomes is decided by the
API's own record of the task, fetched with the same batched ``retrieve_batch`` as the poll loop.

Hints that arrive within ``window_s`` of each other go out as one request; requests start at
least ``spacing_s`` apart, and while ``MAX_IN_FLIGHT`` are under way new hints wait for the next
one. So a lone callback is answered within milliseconds, while a steady stream of them shares
requests (100 callbacks in one second make at most ``1 / spacing_s`` requests). A task is looked
up at most once per ``min_gap_s``: a hint inside that gap is not dropped but deferred to its end,
so a flood of callbacks (forged ones, or a stream of progress callbacks) costs at most about one
request per task per ``min_gap_s``, and the last hint still gets its answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import TaskRecord

log = logging.getLogger(__name__)

#: How long the first hint waits for others to share its request.
WINDOW_S = 0.003
#: The shortest time between the starts of two requests.
SPACING_S = 0.025
#: The shortest time between two lookups of one task.
MIN_GAP_S = 1.0
#: Hinted lookups under way at once; hints that arrive meanwhile go in the next request.
MAX_IN_FLIGHT = 2


class TaskLookups:
    """Batched, rate-limited lookups of the tasks that callbacks name; ``apply`` receives the API's records.

    ``wanted`` is asked again just before a request goes out, so a task that finished meanwhile is left out.
    """

    def __init__(
        self,
        client: AceDataClient,
        apply: Callable[[Sequence[TaskRecord]], Awaitable[None]],
        wanted: Callable[[str], bool],
        *,
        batch_size: int = 50,
        window_s: float = WINDOW_S,
        spacing_s: float = SPACING_S,
        min_gap_s: float = MIN_GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._apply = apply
        self._wanted = wanted
        self._batch_size = max(1, batch_size)
        self._window_s = window_s
        self._spacing_s = spacing_s
        self._flushed_at = float("-inf")
        self._min_gap_s = min_gap_s
        self._clock = clock
        self._pending: dict[str, None] = {}  # task ids for the next request, in arrival order
        self._deferred: dict[str, asyncio.TimerHandle] = {}  # task ids waiting out their gap
        self._last: dict[str, float] = {}  # task id -> when it was last queued, oldest first
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()
        #: Requests made so far (a figure for tests and logs).
        self.requests = 0

    def hint(self, task_id: str) -> None:
        """Look ``task_id`` up soon: within ``window_s``, or when its gap since the last lookup has passed."""
        if task_id in self._pending or task_id in self._deferred:
            return
        now = self._clock()
        last = self._last.get(task_id)
        if last is not None and now - last < self._min_gap_s:
            loop = asyncio.get_running_loop()
            self._deferred[task_id] = loop.call_later(last + self._min_gap_s - now, self._due, task_id)
            return
        self._queue(task_id, now)

    async def close(self) -> None:
        """Forget waiting hints and stop the requests under way."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self._deferred.values():
            handle.cancel()
        self._deferred.clear()
        self._pending.clear()
        running = set(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)

    def _due(self, task_id: str) -> None:
        self._deferred.pop(task_id, None)
        self._queue(task_id, self._clock())

    def _queue(self, task_id: str, now: float) -> None:
        self._pending[task_id] = None
        self._last.pop(task_id, None)  # re-inserted last, so the oldest stamps stay in front
        self._last[task_id] = now
        self._forget_before(now - self._min_gap_s)
        if self._timer is None and len(self._running) < MAX_IN_FLIGHT:
            delay = max(self._window_s, self._flushed_at + self._spacing_s - now)
            self._timer = asyncio.get_running_loop().call_later(delay, self._flush)

    def _forget_before(self, cutoff: float) -> None:
        last = self._last
        while last:
            task_id = next(iter(last))
            if last[task_id] > cutoff:
                return
            del last[task_id]

    def _flush(self) -> None:
        self._timer = None
        self._flushed_at = self._clock()
        loop = asyncio.get_running_loop()
        while self._pending and len(self._running) < MAX_IN_FLIGHT:
            batch: list[str] = []
            while self._pending and len(batch) < self._batch_size:
                task_id = next(iter(self._pending))
                del self._pending[task_id]
                if self._wanted(task_id):
                    batch.append(task_id)
            if batch:
                task = loop.create_task(self._lookup(batch), name="job-engine-hinted-lookup")
                self._running.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._pending and self._timer is None:
            # These hints have waited for a free slot already; only the spacing may hold them back.
            delay = max(0.0, self._flushed_at + self._spacing_s - self._clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._flush)

    async def _lookup(self, task_ids: list[str]) -> None:
        self.requests += 1
        try:
            found = await self._client.retrieve_batch(task_ids)
            await self._apply(list(found.values()))
        except AceDataError as error:
            log.warning("lookup of %d tasks named by callbacks failed: %s; polling will catch up", len(task_ids), error)
        except Exception:
            log.exception("lookup of %d tasks named by callbacks failed unexpectedly", len(task_ids))
