"""What a job will cost and about how long it will take, told before it is sent: the figures of a confirmation card.

A job asks its member to confirm it first when it costs at least its place's ``Limits.confirm_over`` units, or
always when the member asked for that (``UserSettings.confirm``); a member can ask for more cards, never fewer.
The cost counts what the job leads to by itself: an upscale made to be animated ("Animate N") is followed by its
video without another click, so both are counted. A /video grid is not: its video waits for a click of its own.

The wait is an estimate: the median time from submit to result of the last jobs of the same kind (a chain adds
its steps up), times the turns the job waits in its member's queue first.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot import costs, quota
from bot.acedata.models import ApiRequest, Endpoint
from bot.quota import Allowance, QuotaDecision
from bot.settings import GuildSettings, Limits, UserSettings
from bot.store import Store, VideoOptions

#: How long a member has to confirm a job before its card expires.
CONFIRM_TTL_S: Final = 300.0
#: The last jobs of a kind whose durations make the estimate, and how far back they are looked for.
RECENT_JOBS: Final = 20
RECENT_WINDOW_S: Final = 7 * quota.DAY_S
#: Slack for comparing fractional units.
_EPSILON: Final = 1e-9


def units_of(request: ApiRequest, then_video: VideoOptions | None = None) -> float:
    """The units ``request`` costs, plus the video it is followed by without another click (``then_video``)."""
    units = costs.cost(request)
    if then_video is not None:
        units += costs.cost_of("video", {"mode": then_video.mode})
    return units


def asks_first(units: float, limits: Limits, member: UserSettings) -> bool:
    """Whether a job of ``units`` waits for its member's confirmation: always if they asked, else from the place's
    threshold up (never when the place has none)."""
    if member.confirm == "always":
        return True
    return limits.confirm_over is not None and units + _EPSILON >= limits.confirm_over


def kinds_of(request: ApiRequest, then_video: VideoOptions | None = None) -> tuple[str, ...]:
    """The kinds of job (``video``, ``imagine``) a request makes one after the other, for the estimate."""
    first = "video" if request.endpoint is Endpoint.VIDEOS else "imagine"
    return (first, "video") if then_video is not None else (first,)


@dataclass(frozen=True, slots=True)
class Preview:
    """The figures of a confirmation card.

    ``allowance`` is what the member has left today before this job; ``queued``/``ahead`` say whether it would wait
    in their queue, behind how many of their jobs; ``typical_s`` is the median duration of recent jobs of its kind
    (summed over a chain's steps) from ``samples`` jobs, and ``wait_s`` the estimated time to its result (None
    without recent jobs to go by).
    """

    units: float
    allowance: Allowance
    queued: bool
    ahead: int
    typical_s: float | None
    samples: int
    wait_s: float | None

    @property
    def jobs_left_after(self) -> int | None:
        left = self.allowance.jobs_left
        return None if left is None else max(0, left - 1)

    @property
    def units_left_after(self) -> float | None:
        left = self.allowance.units_left
        return None if left is None else max(0.0, left - self.units)


def estimated_wait(typical_s: float | None, decision: QuotaDecision) -> float | None:
    """The time to a job's result: its own run, after the turns it waits in its member's queue (each about as long
    as a job of its kind), or None without a typical duration."""
    if typical_s is None:
        return None
    turns = 0
    if decision.queued:
        slots = max(1, int(decision.maximum or 1))
        turns = decision.ahead // slots + 1
    return typical_s * (turns + 1)


def typical(durations: Sequence[Sequence[float]]) -> tuple[float | None, int]:
    """The sum of each step's median duration, and how many jobs it rests on (None when a step has none)."""
    if not durations or any(not step for step in durations):
        return None, 0
    return sum(float(statistics.median(step)) for step in durations), min(len(step) for step in durations)


async def preview(
    store: Store,
    settings: GuildSettings,
    *,
    guild_id: int | None,
    user_id: int,
    request: ApiRequest,
    decision: QuotaDecision,
    now: float,
    then_video: VideoOptions | None = None,
) -> Preview:
    """The card's figures for ``request`` by ``user_id`` in a place (``guild_id`` None: DMs), which the gate let
    through with ``decision`` (allowed or queued)."""
    allowance = await quota.allowance(store, settings, guild_id=guild_id, user_id=user_id, now=now)
    since = store.clock() - RECENT_WINDOW_S
    durations = [
        await store.stats.recent_durations(kind, since=since, limit=RECENT_JOBS)
        for kind in kinds_of(request, then_video)
    ]
    typical_s, samples = typical(durations)
    return Preview(
        units=units_of(request, then_video),
        allowance=allowance,
        queued=decision.queued,
        ahead=decision.ahead,
        typical_s=typical_s,
        samples=samples,
        wait_s=estimated_wait(typical_s, decision),
    )
