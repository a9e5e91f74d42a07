"""Server statistics for ``/admin stats``: counts per member and per UTC day, failure reasons, median waits.

The figures come from the ``jobs_guild_stats`` index alone (it holds every column they read), read on
one snapshot beside the store's writes (``Database.snapshot``): a busy server's statistics take a few
hundred milliseconds, and in that time neither the event loop nor the engine's writes wait for them.
Medians are taken in Python over the waits of the window.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from .codec import Row
from .connection import Database

DAY_S: Final = 86_400
#: Most days ``GuildStats.days`` lists (the last ones of a longer window).
MAX_DAYS: Final = 366
#: Failure reasons listed, most frequent first.
TOP_REASONS: Final = 10

_EPOCH: Final = date(1970, 1, 1)
_FROM: Final = "FROM jobs INDEXED BY jobs_guild_stats WHERE guild_id = ?1 AND created_at >= ?2 AND created_at < ?3"
_PER_USER: Final = f"""
SELECT user_id, COUNT(*),
       SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'timed_out' THEN 1 ELSE 0 END)
{_FROM} GROUP BY user_id
"""
_WAITS: Final = f"SELECT user_id, finished_at - created_at {_FROM} AND status = 'succeeded' AND finished_at IS NOT NULL"
_REASONS: Final = f"""
SELECT error_code, error_message, COUNT(*) AS times {_FROM} AND status IN ('failed', 'timed_out')
GROUP BY error_code, error_message ORDER BY times DESC, error_code, error_message LIMIT {TOP_REASONS:d}
"""
_PER_DAY: Final = f"""
SELECT CAST(created_at / {DAY_S:d} AS INTEGER) AS day, COUNT(*),
       SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status IN ('failed', 'timed_out') THEN 1 ELSE 0 END)
{_FROM} GROUP BY day
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTally:
    """How many jobs, how they ended, and the median wait (created to finished) of the succeeded ones."""

    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    timed_out: int = 0
    median_wait_s: float | None = None

    @property
    def unfinished(self) -> int:
        """Jobs still queued or running."""
        return self.jobs - self.succeeded - self.failed - self.cancelled - self.timed_out

    @property
    def success_rate(self) -> float | None:
        """Succeeded among the jobs that ended other than by cancelling (None when there are none)."""
        ended = self.succeeded + self.failed + self.timed_out
        return self.succeeded / ended if ended else None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStats(JobTally):
    """One member's jobs in the window (``user_id`` None: jobs made without a member, from the CLI)."""

    user_id: int | None


@dataclass(frozen=True, slots=True)
class FailureReason:
    """An error code and message, and how many jobs failed (or timed out) with it."""

    code: str | None
    message: str | None
    count: int


@dataclass(frozen=True, slots=True)
class DayCount:
    """Jobs created on one UTC day; ``failed`` includes timed-out jobs."""

    day: date
    jobs: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class GuildStats:
    """A server's jobs created from ``since`` to ``until`` (Unix seconds)."""

    guild_id: int
    since: float
    until: float
    total: JobTally
    users: tuple[UserStats, ...]  # most jobs first
    failures: tuple[FailureReason, ...]  # most frequent first, at most TOP_REASONS
    days: tuple[DayCount, ...]  # every UTC day of the window, oldest first, zero days included

    @property
    def chart_days(self) -> list[tuple[date, int, int]]:
        """(day, succeeded, failed) per day: what ``bot.charts.jobs_per_day_chart`` draws."""
        return [(day.day, day.succeeded, day.failed) for day in self.days]


_LOAD: Final = """
SELECT CASE WHEN guild_id = ?1 THEN 1 ELSE 0 END AS here, status, COUNT(*)
FROM jobs INDEXED BY jobs_unfinished WHERE status IN ('queued', 'submitting', 'running') GROUP BY here, status
"""
# Jobs that finished since ?1 were created at most a job timeout before (?2): the created_at bound lets the
# jobs_created index find them without reading every job the store ever had.
_DURATIONS: Final = (
    "SELECT finished_at - coalesce(submitted_at, created_at) FROM jobs "
    "WHERE created_at >= ?2 AND finished_at >= ?1 AND status = 'succeeded'"
)

# The last succeeded jobs of one kind, newest first: the jobs_created index read backwards, stopped after ?3 rows
# (the created_at bound keeps a store that never made that kind from reading every row).
_RECENT: Final = (
    "SELECT finished_at - coalesce(submitted_at, created_at) FROM jobs INDEXED BY jobs_created "
    "WHERE created_at >= ?2 AND kind = ?1 AND status = 'succeeded' AND finished_at IS NOT NULL "
    "ORDER BY created_at DESC LIMIT ?3"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    """Jobs under way now, in one server and in all (every process of the store), and how long jobs took lately."""

    running_here: int
    queued_here: int
    running: int
    queued: int
    #: Seconds from submit to result of the jobs that succeeded in the window.
    durations_s: tuple[float, ...]

    def duration(self, fraction: float) -> float | None:
        """The ``fraction`` quantile (0.5: the median) of the durations, or None without any."""
        if not self.durations_s:
            return None
        ordered = sorted(self.durations_s)
        return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


class StatsRepository:
    """The statistics of a server's jobs over a window."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def guild_stats(self, guild_id: int, since: float, until: float | None = None) -> GuildStats:
        """The server's jobs created at or after ``since`` and before ``until`` (default: now)."""
        self._db.ensure_open()
        end = self._db.clock() if until is None else until
        window = (guild_id, since, end)
        results = await self._db.snapshot([(sql, window) for sql in (_PER_USER, _WAITS, _REASONS, _PER_DAY)])
        return _assemble(guild_id, since, end, *results)

    async def load(self, guild_id: int, since: float, *, oldest_created: float) -> Load:
        """The jobs under way (here and everywhere) and the durations of jobs that succeeded since ``since``;
        ``oldest_created`` bounds how long before ``since`` such a job may have been created."""
        counts, durations = await self._db.snapshot([(_LOAD, (guild_id,)), (_DURATIONS, (since, oldest_created))])
        tally: dict[tuple[int, str], int] = {(int(here), status): int(number) for here, status, number in counts}
        running = ("submitting", "running")
        return Load(
            running_here=sum(tally.get((1, status), 0) for status in running),
            queued_here=tally.get((1, "queued"), 0),
            running=sum(number for (_, status), number in tally.items() if status in running),
            queued=sum(number for (_, status), number in tally.items() if status == "queued"),
            durations_s=tuple(float(row[0]) for row in durations),
        )

    async def recent_durations(self, kind: str, *, since: float, limit: int) -> tuple[float, ...]:
        """Seconds from submit to result of the last ``limit`` jobs of ``kind`` ("video" or "imagine") that succeeded,
        among those created since ``since``, newest first: what a job of that kind may take now."""
        (rows,) = await self._db.snapshot([(_RECENT, (kind, since, limit))])
        return tuple(max(0.0, float(row[0])) for row in rows)


def _assemble(
    guild_id: int,
    since: float,
    until: float,
    per_user: list[Row],
    waits: list[Row],
    reasons: list[Row],
    per_day: list[Row],
) -> GuildStats:
    by_user: defaultdict[Any, list[float]] = defaultdict(list)
    for user_id, wait in waits:
        by_user[user_id].append(wait)
    users = [
        UserStats(
            user_id=user_id,
            jobs=int(jobs),
            succeeded=int(succeeded),
            failed=int(failed),
            cancelled=int(cancelled),
            timed_out=int(timed_out),
            median_wait_s=_median(by_user.get(user_id)),
        )
        for user_id, jobs, succeeded, failed, cancelled, timed_out in per_user
    ]
    users.sort(key=lambda row: (-row.jobs, -row.succeeded, row.user_id or 0))
    total = JobTally(
        jobs=sum(row.jobs for row in users),
        succeeded=sum(row.succeeded for row in users),
        failed=sum(row.failed for row in users),
        cancelled=sum(row.cancelled for row in users),
        timed_out=sum(row.timed_out for row in users),
        median_wait_s=_median([wait for _, wait in waits]),
    )
    return GuildStats(
        guild_id=guild_id,
        since=since,
        until=until,
        total=total,
        users=tuple(users),
        failures=tuple(FailureReason(code, message, int(times)) for code, message, times in reasons),
        days=_every_day(since, until, {int(day): row for day, *row in per_day}),
    )


def _median(waits: list[float] | None) -> float | None:
    return float(statistics.median(waits)) if waits else None


def _every_day(since: float, until: float, counted: dict[int, list[float]]) -> tuple[DayCount, ...]:
    first = int(since // DAY_S)
    last = int(max(since, until - 1e-6) // DAY_S)
    first = max(first, last - MAX_DAYS + 1)
    days: list[DayCount] = []
    for number in range(first, last + 1):
        jobs, succeeded, failed = counted.get(number, (0, 0, 0))
        days.append(DayCount(_EPOCH + timedelta(days=number), int(jobs), int(succeeded), int(failed)))
    return tuple(days)
