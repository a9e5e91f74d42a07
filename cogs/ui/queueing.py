"""A queued job's place in its owner's queue, in words: its position, and its estimated start when there is one."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cogs.i18n import LocaleLike, ordinal, t


@dataclass(frozen=True, slots=True)
class QueueSpot:
    """Where a queued job stands: 1 is next; ``running_limit`` is how many of the owner's jobs run meanwhile;
    ``starts_at`` is its estimated start (Unix time; see ``bot.queue_estimate``), None when there is none."""

    position: int
    running_limit: int | None = None
    starts_at: float | None = None


def queue_position(spot: QueueSpot, locale: LocaleLike = None) -> str:
    """The place in words: "next", "2nd"..."""
    return t(locale, "render.queued_next") if spot.position <= 1 else ordinal(locale, spot.position)


def queue_estimate(spot: QueueSpot, now: float, locale: LocaleLike = None) -> str:
    """The estimated start in words: "estimated start in 3 minutes" (a Discord timestamp, which counts down), "should
    start any moment", or "" without an estimate."""
    if spot.starts_at is None:
        return ""
    if spot.starts_at <= now + 1:
        return t(locale, "render.queued_any_moment")
    return t(locale, "render.queued_estimate", when=f"<t:{int(spot.starts_at)}:R>")


def queued_line(spot: QueueSpot, locale: LocaleLike = None, *, now: float | None = None) -> str:
    """The status of a queued job: "⏳ Queued — 2nd in line; starts when one of your 2 running jobs finishes",
    and its estimated start when there is one."""
    limit = spot.running_limit
    if limit is not None and limit > 1:
        waits_for = t(locale, "render.waits_for_many", count=limit)
    else:
        waits_for = t(locale, "render.waits_for_one")
    line = t(locale, "render.queued_line", position=queue_position(spot, locale), waits_for=waits_for)
    estimate = queue_estimate(spot, time.time() if now is None else now, locale)
    return t(locale, "render.separator").join((line, estimate)) if estimate else line
