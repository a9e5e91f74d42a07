"""Edit pacing: at most one edit per message per interval, the newest render wins, a final one is never lost.

Discord throttles frequent edits (and caps edits of messages older than an hour), so progress is
coalesced per message: while a message is inside its window, a newer render replaces the waiting
one; the final render goes out as soon as the window allows. Messages are independent. A message's
state lives only while it has something to send or its window is still open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.store.models import Job

log = logging.getLogger(__name__)

#: Renders ``job`` on message ``message_id``; True when the message now shows it. Raising is logged, and
#: any attempt counts as an edit for the pacing.
Render = Callable[[int, Job], Awaitable[bool]]
#: What a message visibly shows of a job: a render that would show the same again is skipped.
Shown = tuple[str, str, int]


def _shown(job: Job) -> Shown:
    return job.id, job.status.value, job.progress


@dataclass(slots=True)
class _Slot:
    job_id: str  # the job the message shows now; renders of any other job are stale
    pending: Job | None = None
    current: Job | None = None  # the job being rendered right now
    force: bool = False  # render the pending job even if the message shows that state already
    shown: Shown | None = None
    worker: asyncio.Task[None] | None = None
    last_edit: float = float("-inf")
    expiry: asyncio.TimerHandle | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class EditPacer:
    """Coalesces renders per message so each message is edited at most once per ``interval_s``."""

    def __init__(self, render: Render, *, interval_s: float) -> None:
        self._render = render
        self.interval_s = interval_s
        self._slots: dict[int, _Slot] = {}

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def __len__(self) -> int:
        """Messages with state right now (pending renders or open windows)."""
        return len(self._slots)

    def _slot(self, message_id: int, job_id: str) -> _Slot:
        slot = self._slots.get(message_id)
        if slot is None:
            slot = self._slots[message_id] = _Slot(job_id)
        if slot.expiry is not None:
            slot.expiry.cancel()
            slot.expiry = None
        return slot

    def submit(self, message_id: int, job: Job, *, force: bool = False) -> None:
        """Render ``job`` on the message now, or when its window opens (replacing a render waiting there).

        A render that would show what the message shows already is skipped, unless ``force``d.
        """
        slot = self._slot(message_id, job.id)
        if job.id != slot.job_id:
            log.debug(
                "job %s (guild %s): message %s shows job %s now; render skipped",
                job.id,
                job.guild_id,
                message_id,
                slot.job_id,
            )
            self._settle(message_id, slot)
            return
        waiting = slot.pending
        if waiting is not None and waiting.finished and not job.finished:
            return  # never let a late progress snapshot replace the final render
        if not force and waiting is None and slot.shown == _shown(job):
            self._settle(message_id, slot)
            return
        slot.pending = job
        slot.force = slot.force or force
        if slot.worker is None:
            slot.worker = asyncio.get_running_loop().create_task(
                self._work(message_id, slot), name=f"edit-{message_id}"
            )

    def edited(self, message_id: int, job: Job) -> None:
        """A message was just sent or edited outside the pacer to show ``job``: its window starts now."""
        slot = self._slot(message_id, job.id)
        slot.job_id = job.id
        slot.shown = _shown(job)
        slot.last_edit = self._now()
        self._settle(message_id, slot)

    def claim(self, message_id: int, job_id: str) -> None:
        """The message now shows ``job_id`` (a chained job took it over); renders of its old job are dropped."""
        slot = self._slot(message_id, job_id)
        slot.job_id = job_id
        slot.shown = None
        if slot.pending is not None and slot.pending.id != job_id:
            slot.pending = None
        self._settle(message_id, slot)

    def forget(self, message_id: int) -> None:
        """Drop everything about the message (it is being deleted), including an edit under way."""
        slot = self._slots.pop(message_id, None)
        if slot is None:
            return
        slot.pending = None
        if slot.expiry is not None:
            slot.expiry.cancel()
        if slot.worker is not None:
            slot.worker.cancel()
        self._wake(slot)

    def busy_with(self, job_id: str, *, besides: int | None = None) -> bool:
        """True when a message (other than ``besides``) has a render of the job waiting or under way."""
        return any(
            job_id in (slot.pending.id if slot.pending else None, slot.current.id if slot.current else None)
            for message_id, slot in self._slots.items()
            if message_id != besides
        )

    async def idle(self) -> None:
        """Wait until no render is waiting or under way (windows may still be open)."""
        while True:
            busy = [s for s in self._slots.values() if s.worker is not None]
            if not busy:
                return
            future = asyncio.get_running_loop().create_future()
            busy[0].waiters.append(future)
            await future

    def close(self) -> None:
        for message_id in list(self._slots):
            self.forget(message_id)

    async def _work(self, message_id: int, slot: _Slot) -> None:
        try:
            while slot.pending is not None:
                wait = slot.last_edit + self.interval_s - self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
                job, slot.pending = slot.pending, None
                force, slot.force = slot.force, False
                if job is None or job.id != slot.job_id or (not force and slot.shown == _shown(job)):
                    continue
                slot.shown, slot.current = None, job
                try:
                    if await self._render(message_id, job):
                        slot.shown = _shown(job)
                except Exception:
                    log.exception("job %s (guild %s): rendering message %s failed", job.id, job.guild_id, message_id)
                finally:
                    slot.last_edit, slot.current = self._now(), None
        finally:
            slot.worker = None
            if self._slots.get(message_id) is slot:
                self._settle(message_id, slot)
            self._wake(slot)

    def _settle(self, message_id: int, slot: _Slot) -> None:
        """Forget an idle message once its window has closed; nothing about it is needed after that."""
        if slot.worker is not None or slot.pending is not None:
            return
        if slot.expiry is not None:
            slot.expiry.cancel()
        delay = max(0.0, slot.last_edit + self.interval_s - self._now())
        slot.expiry = asyncio.get_running_loop().call_later(delay, self._expire, message_id, slot)

    def _expire(self, message_id: int, slot: _Slot) -> None:
        if self._slots.get(message_id) is slot and slot.worker is None and slot.pending is None:
            del self._slots[message_id]

    @staticmethod
    def _wake(slot: _Slot) -> None:
        waiters, slot.waiters = slot.waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
