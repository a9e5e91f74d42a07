"""Edit pacing: progress is edited at most once per message per interval; a finished job shows at once.

Discord throttles frequent edits (and caps edits of messages older than an hour), so progress is
coalesced per message: while a message is inside its window, a newer render replaces the waiting
one. The render that first shows a finished job does not wait for the window: it goes out as soon
as an edit of the same message already under way is done (so it is the last one the message gets),
and progress edits of other messages in its channel hold back meanwhile, so that Discord's own rate
limits, if any, spend themselves on results first. Messages are otherwise independent. A message's
state lives only while it has something to send or its window is still open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.store.models import Job, JobStatus

log = logging.getLogger(__name__)

#: Renders ``job`` on message ``message_id``; True when the message now shows it. Raising is logged, and
#: any attempt counts as an edit for the pacing.
Render = Callable[[int, Job], Awaitable[bool]]
#: What a message visibly shows of a job: a render that would show the same again is skipped.
Shown = tuple[str, str, int]


def _shown(job: Job) -> Shown:
    return job.id, job.status.value, job.progress


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class _Slot:
    job_id: str  # the job the message shows now; renders of any other job are stale
    channel_id: int | None = None
    pending: Job | None = None
    current: Job | None = None  # the job being rendered right now
    force: bool = False  # render the pending job even if the message shows that state already
    shown: Shown | None = None
    worker: asyncio.Task[None] | None = None
    last_edit: float = float("-inf")
    expiry: asyncio.TimerHandle | None = None
    wake: asyncio.Future[None] | None = None  # resolved to end the worker's wait early (a final came)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def shows_final(self, job: Job) -> bool:
        """The message shows ``job`` finished in the state it is in now."""
        return self.shown is not None and self.shown[:2] == (job.id, job.status.value)

    def urgent(self, job: Job) -> bool:
        """``job`` is finished and the message does not show that yet: its render skips the window."""
        return job.finished and not self.shows_final(job)


@dataclass(slots=True)
class _Lane:
    """A channel's finals under way, and the progress edits there that wait for them."""

    finals: int = 0
    waiting: list[asyncio.Future[None]] = field(default_factory=list)


class EditPacer:
    """Coalesces progress renders per message (one edit per ``interval_s``); finals go out at once."""

    def __init__(self, render: Render, *, interval_s: float) -> None:
        self._render = render
        self.interval_s = interval_s
        self._slots: dict[int, _Slot] = {}
        self._lanes: dict[int, _Lane] = {}

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def __len__(self) -> int:
        """Messages with state right now (pending renders or open windows)."""
        return len(self._slots)

    def _slot(self, message_id: int, job_id: str, channel_id: int | None) -> _Slot:
        slot = self._slots.get(message_id)
        if slot is None:
            slot = self._slots[message_id] = _Slot(job_id)
        if channel_id is not None:
            slot.channel_id = channel_id
        if slot.expiry is not None:
            slot.expiry.cancel()
            slot.expiry = None
        return slot

    def submit(self, message_id: int, job: Job, *, channel_id: int | None = None, force: bool = False) -> None:
        """Render ``job`` on the message: at once when it shows the job finished, else when the window opens
        (replacing a render waiting there). ``channel_id`` is the message's channel.

        A render that would show what the message shows already is skipped, unless ``force``d; a progress
        snapshot never replaces a final render, waiting or done.
        """
        slot = self._slot(message_id, job.id, channel_id)
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
        waiting = slot.pending or slot.current
        if not job.finished and ((waiting is not None and waiting.finished) or self._final_shown(slot)):
            self._settle(message_id, slot)
            return  # a late progress snapshot: the message shows (or is about to show) the job finished
        if not force and slot.pending is None and slot.shown == _shown(job):
            self._settle(message_id, slot)
            return
        slot.pending = job
        slot.force = slot.force or force
        if slot.worker is None:
            slot.worker = asyncio.get_running_loop().create_task(
                self._work(message_id, slot), name=f"edit-{message_id}"
            )
        elif slot.wake is not None and slot.urgent(job):
            _resolve(slot.wake)

    def edited(self, message_id: int, job: Job, *, channel_id: int | None = None) -> None:
        """A message was just sent or edited outside the pacer to show ``job``: its window starts now."""
        slot = self._slot(message_id, job.id, channel_id)
        slot.job_id = job.id
        slot.shown = _shown(job)
        slot.last_edit = self._now()
        self._settle(message_id, slot)

    def claim(self, message_id: int, job_id: str) -> None:
        """The message now shows ``job_id`` (a chained job took it over); renders of its old job are dropped."""
        slot = self._slot(message_id, job_id, None)
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

    @staticmethod
    def _final_shown(slot: _Slot) -> bool:
        return slot.shown is not None and JobStatus(slot.shown[1]).finished

    async def _work(self, message_id: int, slot: _Slot) -> None:
        held = False  # this progress render waited for its channel's finals once already
        try:
            while slot.pending is not None:
                job = slot.pending
                urgent = slot.urgent(job)
                if not urgent:
                    wait = slot.last_edit + self.interval_s - self._now()
                    if wait > 0:
                        await self._pause(slot, wait)
                        continue  # a final may have replaced the waiting render meanwhile
                    lane = self._lanes.get(slot.channel_id) if slot.channel_id is not None else None
                    if lane is not None and not held:
                        held = True
                        await self._pause(slot, self.interval_s, lane)
                        continue
                slot.pending, force, slot.force = None, slot.force, False
                held = False
                if job.id != slot.job_id or (not force and slot.shown == _shown(job)):
                    continue
                await self._render_now(message_id, slot, job, urgent=urgent)
        finally:
            slot.worker = None
            if self._slots.get(message_id) is slot:
                self._settle(message_id, slot)
            self._wake(slot)

    async def _render_now(self, message_id: int, slot: _Slot, job: Job, *, urgent: bool) -> None:
        channel_id, lane = slot.channel_id, None
        if urgent and channel_id is not None:
            lane = self._lanes.setdefault(channel_id, _Lane())
            lane.finals += 1
        slot.shown, slot.current = None, job
        try:
            if await self._render(message_id, job):
                slot.shown = _shown(job)
        except Exception:
            log.exception("job %s (guild %s): rendering message %s failed", job.id, job.guild_id, message_id)
        finally:
            slot.last_edit, slot.current = self._now(), None
            if lane is not None:
                lane.finals -= 1
                if lane.finals == 0 and channel_id is not None and self._lanes.get(channel_id) is lane:
                    del self._lanes[channel_id]
                    for future in lane.waiting:
                        _resolve(future)

    async def _pause(self, slot: _Slot, delay: float, lane: _Lane | None = None) -> None:
        """Wait ``delay`` seconds, less if a final render comes for the message or ``lane``'s finals are done."""
        loop = asyncio.get_running_loop()
        wake = slot.wake = loop.create_future()
        timer = loop.call_later(delay, _resolve, wake)
        if lane is not None:
            lane.waiting.append(wake)
        try:
            await wake
        finally:
            timer.cancel()
            slot.wake = None
            if lane is not None and wake in lane.waiting:
                lane.waiting.remove(wake)

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
            _resolve(future)
