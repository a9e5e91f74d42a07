"""Quotas: whether a member's next job may run now, must wait in the queue, or is refused.

A server's ``Limits`` (see ``bot.settings``) set four things, checked in this order:

1. options: turbo mode and 720p video can be turned off (refused, naming the option);
2. jobs per member per UTC day (refused, with the count and when it resets);
3. the server's budget in units per UTC day, priced by ``bot.costs`` (refused, likewise);
4. running jobs per member (the job is queued and starts when one of theirs ends).

Counting: the usage ledger holds every job the API accepted, with its units; jobs taken on but not
sent yet (queued, or being submitted) count too, so a member cannot queue past a daily limit.
A queued job carried over midnight counts on the day it is sent. Direct messages are a scope of their own
(``guild_id`` None), whose limits the operator sets in the config (``bot.scopes.dm_settings``); they are
counted apart from every server's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot import costs
from bot.acedata.models import ApiRequest, VideoExtend, VideoGenerate
from bot.settings import GuildSettings
from bot.store import JobStatus, Store

DAY_S: Final = 86_400
#: Slack for adding up fractional units.
_EPSILON: Final = 1e-9

MESSAGES: Final = {
    "turbo": "Turbo mode is turned off on this server; use fast mode instead.",
    "720p": "720p video is turned off on this server; choose 480p instead.",
    "daily_jobs": (
        "You have used {used} of your {limit} jobs for today on this server. "
        "The limit resets at 00:00 UTC (<t:{reset}:R>)."
    ),
    "daily_budget": (
        "This server has used {used} of its {limit} units for today, and this job costs {cost}. "
        "The budget resets at 00:00 UTC (<t:{reset}:R>)."
    ),
    "running": (
        "You have {used} of your {limit} jobs running, so this one waits in line ({position} in your queue) "
        "and starts when one of them ends."
    ),
    "footer_jobs": "{left} of {limit} jobs left today",
    "footer_units": "server: {left} of {limit} units left today",
    "footer_running": "{running} of {limit} running",
    "footer_reset": "resets 00:00 UTC",
    "line_jobs": "Jobs today: {used} of {limit} used, {left} left.",
    "line_units": "Server budget today: {used} of {limit} units used, {left} left.",
    "line_running": "Running now: {running} of {limit}; {queued} queued.",
    "line_reset": "Daily limits reset at 00:00 UTC (<t:{reset}:R>).",
    "line_unlimited": "This server sets no limits on your jobs.",
    "dm_turbo": "Turbo mode is turned off in direct messages; use fast mode instead, or a server that allows turbo.",
    "dm_720p": "720p video is turned off in direct messages; choose resolution 480p instead.",
    "dm_daily_jobs": (
        "You can make {limit} jobs a day in direct messages, and you have used {used}. "
        "The limit resets at 00:00 UTC (<t:{reset}:R>); servers you share with the bot have limits of their own."
    ),
}
#: Limits worded for direct messages (``dm_`` + the limit's key); the others read the same in both places.
DM_WORDED: Final = frozenset({"turbo", "720p", "daily_jobs"})


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    QUEUE = "queue"
    REFUSE = "refuse"


class Limit(enum.StrEnum):
    """Which limit a decision is about (also the key of its message in ``MESSAGES``)."""

    TURBO = "turbo"
    RESOLUTION_720P = "720p"
    DAILY_JOBS = "daily_jobs"
    DAILY_BUDGET = "daily_budget"
    RUNNING = "running"


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    """What to do with a job, and for a queue or a refusal, which limit and the figures behind it.

    ``used`` is what counted against the limit before this job (jobs today, units today, or running
    jobs), ``maximum`` the limit itself, ``resets_at`` the next 00:00 UTC (Unix seconds) for daily
    limits, ``cost`` this job's units, ``ahead`` the member's jobs already queued before it;
    ``in_dms`` is True for the limits of direct messages (their refusals say so).
    """

    verdict: Verdict
    limit: Limit | None = None
    used: float = 0.0
    maximum: float | None = None
    resets_at: float | None = None
    cost: float = 0.0
    ahead: int = 0
    in_dms: bool = False

    @property
    def key(self) -> str | None:
        """The message key of the decision (``dm_daily_jobs`` for a daily limit in direct messages)."""
        if self.limit is None:
            return None
        return f"dm_{self.limit.value}" if self.in_dms and self.limit.value in DM_WORDED else self.limit.value

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    @property
    def queued(self) -> bool:
        return self.verdict is Verdict.QUEUE

    @property
    def refused(self) -> bool:
        return self.verdict is Verdict.REFUSE

    @property
    def message(self) -> str | None:
        """The sentence for the member (Discord markdown; the reset as a relative timestamp); None when allowed."""
        if self.key is None:
            return None
        return MESSAGES[self.key].format(
            used=_figure(self.used),
            limit=_figure(self.maximum or 0),
            cost=_figure(self.cost),
            reset=int(self.resets_at or 0),
            position=_ordinal(self.ahead + 1),
        )


ALLOWED: Final = QuotaDecision(Verdict.ALLOW)


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a member has left today on a server, for result footers and ``/settings``.

    A limit of None means the server sets none; ``*_left`` are then None as well.
    """

    jobs_used: int
    jobs_limit: int | None
    units_used: float
    budget: float | None
    running: int
    running_limit: int | None
    queued: int
    resets_at: float

    @property
    def jobs_left(self) -> int | None:
        return None if self.jobs_limit is None else max(0, self.jobs_limit - self.jobs_used)

    @property
    def units_left(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - self.units_used)

    @property
    def limited(self) -> bool:
        """Whether any limit applies."""
        return self.jobs_limit is not None or self.budget is not None or self.running_limit is not None

    def footer(self) -> str | None:
        """One short line for a result's footer (plain text: footers show no timestamps), or None without limits."""
        parts: list[str] = []
        if self.jobs_limit is not None:
            parts.append(MESSAGES["footer_jobs"].format(left=self.jobs_left, limit=self.jobs_limit))
        if self.budget is not None:
            parts.append(
                MESSAGES["footer_units"].format(left=_figure(self.units_left or 0.0), limit=_figure(self.budget))
            )
        if self.running_limit is not None:
            parts.append(MESSAGES["footer_running"].format(running=self.running, limit=self.running_limit))
        if not parts:
            return None
        if self.jobs_limit is not None or self.budget is not None:
            parts.append(MESSAGES["footer_reset"])
        return " · ".join(parts)

    def lines(self) -> list[str]:
        """The allowance in full sentences (Discord markdown), for ``/settings``."""
        if not self.limited:
            return [MESSAGES["line_unlimited"]]
        lines: list[str] = []
        if self.jobs_limit is not None:
            lines.append(MESSAGES["line_jobs"].format(used=self.jobs_used, limit=self.jobs_limit, left=self.jobs_left))
        if self.budget is not None:
            lines.append(
                MESSAGES["line_units"].format(
                    used=_figure(self.units_used), limit=_figure(self.budget), left=_figure(self.units_left or 0.0)
                )
            )
        if self.running_limit is not None:
            lines.append(
                MESSAGES["line_running"].format(running=self.running, limit=self.running_limit, queued=self.queued)
            )
        if self.jobs_limit is not None or self.budget is not None:
            lines.append(MESSAGES["line_reset"].format(reset=int(self.resets_at)))
        return lines


def day_start(now: float) -> float:
    """00:00 UTC of the day ``now`` (Unix seconds) falls on."""
    return now - now % DAY_S


def next_reset(now: float) -> float:
    """The next 00:00 UTC after ``now``: when daily limits start again."""
    return day_start(now) + DAY_S


def wants_720p(request: ApiRequest) -> bool:
    """Whether a request makes 720p video (an extend without a resolution gets the API's default, 720p)."""
    if isinstance(request, VideoGenerate):
        return request.resolution == "720p"
    if isinstance(request, VideoExtend):
        return request.resolution in (None, "720p")
    return False


def option_refusal(settings: GuildSettings, request: ApiRequest, *, in_dms: bool = False) -> QuotaDecision | None:
    """A refusal if the request uses an option the server (or DMs) turned off (turbo, 720p); None otherwise."""
    if not settings.limits.allow_turbo and request.mode == "turbo":
        return QuotaDecision(Verdict.REFUSE, Limit.TURBO, in_dms=in_dms)
    if not settings.limits.allow_720p and wants_720p(request):
        return QuotaDecision(Verdict.REFUSE, Limit.RESOLUTION_720P, in_dms=in_dms)
    return None


async def check(
    store: Store,
    settings: GuildSettings,
    *,
    guild_id: int | None,
    user_id: int,
    request: ApiRequest,
    now: float,
    cost: Callable[[ApiRequest], float] = costs.cost,
) -> QuotaDecision:
    """Whether ``user_id`` may run ``request`` in this server now, must queue it, or is refused (and why).

    ``guild_id`` None is direct messages, whose ``settings`` are the operator's (``bot.scopes.dm_settings``).
    """
    in_dms = guild_id is None
    refusal = option_refusal(settings, request, in_dms=in_dms)
    if refusal is not None:
        return refusal
    limits = settings.limits
    if limits.max_jobs_per_user_per_day is None and limits.daily_budget is None and limits.max_running_per_user is None:
        return ALLOWED
    start = day_start(now)
    reset = start + DAY_S
    unsent = await store.queue.unsent_jobs(guild_id)
    mine = [job for job in unsent if job.user_id == user_id]
    price = cost(request)

    if limits.max_jobs_per_user_per_day is not None:
        used = await store.usage.usage_count(start, guild_id=guild_id, user_id=user_id, in_dms=in_dms) + len(mine)
        if used + 1 > limits.max_jobs_per_user_per_day:
            maximum = limits.max_jobs_per_user_per_day
            return QuotaDecision(Verdict.REFUSE, Limit.DAILY_JOBS, used, maximum, reset, price, in_dms=in_dms)
    if limits.daily_budget is not None:
        spent = await store.usage.usage_total(start, guild_id=guild_id, in_dms=in_dms)
        spent += sum(costs.cost_of(job.kind.value, job.params) for job in unsent)
        if spent + price > limits.daily_budget + _EPSILON:
            maximum_units = limits.daily_budget
            return QuotaDecision(Verdict.REFUSE, Limit.DAILY_BUDGET, spent, maximum_units, reset, price, in_dms=in_dms)
    if limits.max_running_per_user is not None:
        running = await store.queue.running_count(user_id, guild_id)
        waiting = sum(1 for job in mine if job.status is JobStatus.QUEUED)
        # A member with jobs in line queues behind them even if a slot is free this instant.
        if running >= limits.max_running_per_user or waiting:
            return QuotaDecision(
                Verdict.QUEUE, Limit.RUNNING, running, limits.max_running_per_user, None, price, waiting, in_dms
            )
    return QuotaDecision(Verdict.ALLOW, cost=price)


async def allowance(
    store: Store, settings: GuildSettings, *, guild_id: int | None, user_id: int, now: float
) -> Allowance:
    """What ``user_id`` has left today in this server (``guild_id`` None: in direct messages, by ``settings``)."""
    reset = next_reset(now)
    in_dms = guild_id is None
    limits = settings.limits
    start = day_start(now)
    unsent = await store.queue.unsent_jobs(guild_id)
    mine = [job for job in unsent if job.user_id == user_id]
    jobs_used = await store.usage.usage_count(start, guild_id=guild_id, user_id=user_id, in_dms=in_dms) + len(mine)
    units_used = 0.0
    if limits.daily_budget is not None:
        units_used = await store.usage.usage_total(start, guild_id=guild_id, in_dms=in_dms)
        units_used += sum(costs.cost_of(job.kind.value, job.params) for job in unsent)
    return Allowance(
        jobs_used=jobs_used,
        jobs_limit=limits.max_jobs_per_user_per_day,
        units_used=units_used,
        budget=limits.daily_budget,
        running=await store.queue.running_count(user_id, guild_id),
        running_limit=limits.max_running_per_user,
        queued=sum(1 for job in mine if job.status is JobStatus.QUEUED),
        resets_at=reset,
    )


def _figure(value: float) -> str:
    """``3.0`` -> ``3``, ``2.5`` -> ``2.5``: units read as plain numbers."""
    return f"{value:g}" if value != int(value) else str(int(value))


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
