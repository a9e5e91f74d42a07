"""How the poll loop is doing, in the terms ``/healthz`` reports."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: Poll intervals without a tick (the loop is stuck) before the engine reports itself unhealthy; also how long
#: polls may keep failing before the API is reported as unreachable.
SILENCE_LIMIT_INTERVALS = 3

#: The API calls of the poll tick under way; a submit running beside the tick is not counted.
_tick_calls: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("tick_calls", default=None)


@contextlib.contextmanager
def counting_api_calls() -> Iterator[list[int]]:
    """Count the API calls made inside the block (and the tasks it starts): ``calls[0]``."""
    calls = [0]
    token = _tick_calls.set(calls)
    try:
        yield calls
    finally:
        _tick_calls.reset(token)


def count_api_call() -> None:
    calls = _tick_calls.get()
    if calls is not None:
        calls[0] += 1


@dataclass(frozen=True, slots=True)
class EngineHealth:
    """A snapshot for ``/healthz``; ``problem`` is ``None`` while the engine works.

    ``api_problem`` says that the API has not answered a poll for a while. That is reported, but it does not make
    the bot unhealthy: a restart cannot mend the provider, and the engine keeps polling until it answers again.
    """

    problem: str | None
    api_problem: str | None
    tracked_jobs: int
    unconfirmed_jobs: int
    last_poll_at: float | None
    last_poll_ok: bool | None
    poll_interval_s: float


class PollRecord:
    """When the loop started, when it last polled, and when a poll last reached the API."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.started_at: float | None = None
        self.last_poll_at: float | None = None
        self.last_poll_ok: bool | None = None
        self.last_success_at: float | None = None
        self.last_error: str | None = None
        #: When the current wait on the API began (``None`` while the tick is not waiting on it), and when the
        #: last one ended: time spent waiting for the API is not time the loop is stuck.
        self.waiting_since: float | None = None
        self._api_answered_at: float | None = None
        self._in_flight = 0

    def started(self) -> None:
        self.started_at = self._clock()

    @contextlib.contextmanager
    def waiting_on_api(self) -> Iterator[None]:
        """Mark the block as a wait on the API: ``problem`` does not count it, ``api_problem`` reports a long one."""
        if self._in_flight == 0:
            self.waiting_since = self._clock()
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.waiting_since, self._api_answered_at = None, self._clock()

    def polled(self, ok: bool) -> None:
        now = self._clock()
        self.last_poll_at, self.last_poll_ok = now, ok
        if ok:
            self.last_success_at, self.last_error = now, None

    def failed(self, error: str) -> None:
        """Note why a poll failed (the tick itself ends with ``polled(False)``)."""
        self.last_error = error

    def problem(self, loop: asyncio.Task[None] | None, poll_interval_s: float) -> str | None:
        """What is wrong with the engine, if anything: the loop is not running, or has not ticked for too long."""
        if loop is None or self.started_at is None:
            return "the job engine is not running"
        if loop.done():
            error = None if loop.cancelled() else loop.exception()
            return f"the poll loop has stopped: {error!r}" if error else "the poll loop has stopped"
        if self.waiting_since is not None:
            return None  # a tick is waiting on the API: not stuck, and reported by ``api_problem`` if it lasts
        ticked_at = self.last_poll_at or self.started_at
        answered_at = self._api_answered_at
        if answered_at is not None and answered_at > ticked_at:  # the tick under way is stuck after the API answered
            stalled = self._clock() - answered_at
            what = f"a tick of the poll loop has been stuck for {stalled:.0f} s since the API answered it"
        else:
            stalled = self._clock() - ticked_at
            what = f"the poll loop has not finished a tick for {stalled:.0f} s"
        if stalled > SILENCE_LIMIT_INTERVALS * poll_interval_s:
            return f"{what} (it should tick every {poll_interval_s:g} s)"
        return None

    def api_problem(self, poll_interval_s: float) -> str | None:
        """Whether polls have been failing, or waiting on the API, for a while: it is down, hung or unreachable."""
        if self.started_at is None:
            return None
        now = self._clock()
        silent = now - (self.last_success_at or self.started_at)
        if silent <= SILENCE_LIMIT_INTERVALS * poll_interval_s:
            return None
        detail = f" (last error: {self.last_error})" if self.last_error else ""
        if self.waiting_since is not None:
            waited = now - self.waiting_since
            return (
                f"a poll has been waiting for the API for {waited:.0f} s; no successful poll for {silent:.0f} s{detail}"
            )
        if self.last_poll_ok is not False:
            return None
        return f"no successful poll of Ace Data Cloud for {silent:.0f} s{detail}"
