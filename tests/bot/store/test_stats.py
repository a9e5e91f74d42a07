"""Server statistics on a seeded dataset of real jobs, and their cost at a hundred thousand jobs."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.store import DayCount, FailureReason, JobKind, JobStatus, JobTally, NewJob, Store, UserStats
from bot.store.stats import MAX_DAYS

DAY = 86_400.0
#: 2024-05-01 00:00:00 UTC.
D0 = 1_714_521_600.0
GUILD = 100
ALICE, BOB, CAROL = 11, 12, 13


class Clock:
    def __init__(self) -> None:
        self.now = D0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    """The store on each backend: an SQLite file, and a fresh PostgreSQL database."""
    where = str(tmp_path / "stats.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await Store.open(where, clock=clock)
    yield opened
    await opened.close()


async def add(
    store: Store,
    clock: Clock,
    *,
    at: float,
    user_id: int,
    status: JobStatus,
    wait: float = 5.0,
    guild_id: int = GUILD,
    code: str | None = None,
    message: str | None = None,
) -> None:
    """A job created at ``at`` that ended ``wait`` seconds later with ``status`` (or is still running)."""
    clock.now = at
    job = await store.jobs.create_job(
        NewJob(JobKind.IMAGINE, "generate", "p", guild_id=guild_id, user_id=user_id, status=JobStatus.RUNNING)
    )
    if status.finished:
        clock.now = at + wait
        await store.jobs.finish_job(job.id, status, error_code=code, error_message=message)


async def seed(store: Store, clock: Clock) -> None:
    # Alice: three successes (waits 10, 20, 60 s), a refusal and a cancel, over the first two days.
    await add(store, clock, at=D0 + 100, user_id=ALICE, status=JobStatus.SUCCEEDED, wait=10)
    await add(store, clock, at=D0 + 200, user_id=ALICE, status=JobStatus.SUCCEEDED, wait=60)
    await add(store, clock, at=D0 + DAY + 5, user_id=ALICE, status=JobStatus.SUCCEEDED, wait=20)
    await add(
        store, clock, at=D0 + DAY + 9, user_id=ALICE, status=JobStatus.FAILED, code="forbidden", message="Banned prompt"
    )
    await add(store, clock, at=D0 + DAY + 10, user_id=ALICE, status=JobStatus.CANCELLED)
    # Bob: two successes (30, 50 s), two timeouts and a render failure, all on the third day.
    for wait in (30, 50):
        await add(store, clock, at=D0 + 2 * DAY + wait, user_id=BOB, status=JobStatus.SUCCEEDED, wait=wait)
    for offset in (1, 2):
        await add(
            store,
            clock,
            at=D0 + 2 * DAY + offset,
            user_id=BOB,
            status=JobStatus.TIMED_OUT,
            code="job_timeout",
            message="No result in time",
        )
    await add(
        store,
        clock,
        at=D0 + 2 * DAY + 3,
        user_id=BOB,
        status=JobStatus.FAILED,
        code="api_error",
        message="Render failed",
    )
    # Carol: one job still running.
    await add(store, clock, at=D0 + 2 * DAY + 4, user_id=CAROL, status=JobStatus.RUNNING)
    # Outside the window, or on another server: never counted.
    await add(store, clock, at=D0 - 1, user_id=ALICE, status=JobStatus.FAILED, code="old", message="Before")
    await add(store, clock, at=D0 + 3 * DAY, user_id=ALICE, status=JobStatus.SUCCEEDED)
    await add(store, clock, at=D0 + 100, user_id=ALICE, status=JobStatus.FAILED, guild_id=999, code="elsewhere")


async def test_stats_of_a_seeded_server(store: Store, clock: Clock) -> None:
    await seed(store, clock)
    stats = await store.stats.guild_stats(GUILD, D0, D0 + 3 * DAY)

    assert (stats.guild_id, stats.since, stats.until) == (GUILD, D0, D0 + 3 * DAY)
    assert stats.total == JobTally(jobs=11, succeeded=5, failed=2, cancelled=1, timed_out=2, median_wait_s=30.0)
    assert stats.total.unfinished == 1
    assert stats.total.success_rate == pytest.approx(5 / 9)
    assert stats.users == (
        UserStats(user_id=ALICE, jobs=5, succeeded=3, failed=1, cancelled=1, timed_out=0, median_wait_s=20.0),
        UserStats(user_id=BOB, jobs=5, succeeded=2, failed=1, cancelled=0, timed_out=2, median_wait_s=40.0),
        UserStats(user_id=CAROL, jobs=1, succeeded=0, failed=0, cancelled=0, timed_out=0, median_wait_s=None),
    )
    assert stats.failures == (
        FailureReason("job_timeout", "No result in time", 2),
        FailureReason("api_error", "Render failed", 1),
        FailureReason("forbidden", "Banned prompt", 1),
    )
    assert stats.days == (
        DayCount(date(2024, 5, 1), jobs=2, succeeded=2, failed=0),
        DayCount(date(2024, 5, 2), jobs=3, succeeded=1, failed=1),
        DayCount(date(2024, 5, 3), jobs=6, succeeded=2, failed=3),  # timeouts count as failures on the chart
    )
    assert stats.chart_days == [(date(2024, 5, 1), 2, 0), (date(2024, 5, 2), 1, 1), (date(2024, 5, 3), 2, 3)]


async def test_the_window_ends_now_by_default_and_empty_days_are_listed(store: Store, clock: Clock) -> None:
    await seed(store, clock)
    clock.now = D0 + 4 * DAY + 60
    stats = await store.stats.guild_stats(GUILD, D0 + DAY)
    assert stats.until == clock.now
    assert stats.total.jobs == 10  # the second and third days, and the job on the fourth
    assert [(day.day.day, day.jobs) for day in stats.days] == [(2, 3), (3, 6), (4, 1), (5, 0)]


async def test_a_server_without_jobs(store: Store, clock: Clock) -> None:
    stats = await store.stats.guild_stats(GUILD, D0, D0 + 2 * DAY)
    assert stats.total == JobTally() and stats.total.success_rate is None
    assert stats.users == () and stats.failures == ()
    assert [day.jobs for day in stats.days] == [0, 0]
    clock.now = D0 + 5
    forever = await store.stats.guild_stats(GUILD, 0.0)
    assert len(forever.days) == MAX_DAYS and forever.days[-1].day == date(2024, 5, 1)


async def test_only_the_ten_most_frequent_failure_reasons_are_listed(store: Store, clock: Clock) -> None:
    for number in range(12):
        for _ in range(number + 1):
            await add(store, clock, at=D0 + 10, user_id=ALICE, status=JobStatus.FAILED, code=f"e{number:02d}")
    stats = await store.stats.guild_stats(GUILD, D0, D0 + DAY)
    assert [(reason.code, reason.count) for reason in stats.failures] == [
        (f"e{n:02d}", n + 1) for n in range(11, 1, -1)
    ]


async def test_recent_durations_are_the_last_succeeded_jobs_of_a_kind_from_submit_to_result(
    store: Store, clock: Clock
) -> None:
    async def job(kind: JobKind, at: float, *, queued_s: float, run_s: float, status: JobStatus) -> None:
        clock.now = at
        made = await store.jobs.create_job(NewJob(kind, "generate", "p", guild_id=GUILD, user_id=ALICE))
        clock.now = at + queued_s
        await store.jobs.mark_submitted(made.id, f"task-{kind.value}-{at}")
        clock.now = at + queued_s + run_s
        await store.jobs.finish_job(made.id, status)

    await job(JobKind.VIDEO, D0 - 8 * DAY, queued_s=0, run_s=500, status=JobStatus.SUCCEEDED)  # before the window
    for offset, run_s in enumerate((40.0, 60.0, 50.0, 70.0)):  # in a queue for 100 s first: not counted
        await job(JobKind.VIDEO, D0 + offset * 1000, queued_s=100, run_s=run_s, status=JobStatus.SUCCEEDED)
    await job(JobKind.VIDEO, D0 + 5000, queued_s=0, run_s=5, status=JobStatus.FAILED)
    await job(JobKind.IMAGINE, D0 + 6000, queued_s=0, run_s=9, status=JobStatus.SUCCEEDED)

    since = D0 - 7 * DAY
    assert await store.stats.recent_durations("video", since=since, limit=3) == (70.0, 50.0, 60.0)  # newest first
    assert await store.stats.recent_durations("video", since=since, limit=20) == (70.0, 50.0, 60.0, 40.0)
    assert await store.stats.recent_durations("imagine", since=since, limit=20) == (9.0,)
    assert await store.stats.recent_durations("video", since=D0 + 7000, limit=20) == ()


async def test_a_closed_store_says_so(store: Store) -> None:
    await store.close()
    with pytest.raises(Exception, match="closed"):
        await store.stats.guild_stats(GUILD, D0)


# A hundred thousand jobs over 90 days, three in four on the server: statuses, times, members and waits
# spread by multiplicative hashing of the row number (waits are uniform over 0..300 s).
_BUSY = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
INSERT INTO jobs (id, kind, action, prompt, status, created_at, updated_at, guild_id, user_id, finished_at, error_code)
SELECT printf('job%07d', i), 'imagine', 'generate', 'p',
       CASE (i * 7) % 11 WHEN 8 THEN 'failed' WHEN 9 THEN 'cancelled' WHEN 10 THEN 'timed_out' ELSE 'succeeded' END,
       :start + (i * 2654435761) % 7776000, :start + (i * 2654435761) % 7776000,
       CASE WHEN i % 4 THEN :guild ELSE 7 END, (i * 31) % 500,
       :start + (i * 2654435761) % 7776000 + (i * 13) % 301,
       CASE WHEN (i * 7) % 11 IN (8, 10) THEN 'code' || (i % 30) END
FROM n
"""


async def test_a_busy_server_of_a_hundred_thousand_jobs_is_summed_up_quickly(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite3"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as conn:
        # Filling the table first and indexing it after is the quick way to seed; the schema ends up the same.
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(_BUSY, {"start": D0, "guild": GUILD})
        for _, sql in indexes:
            conn.execute(sql)
    store = await Store.open(path)
    try:
        began = time.perf_counter()
        stats = await store.stats.guild_stats(GUILD, D0, D0 + 90 * DAY)
        spent = time.perf_counter() - began
    finally:
        await store.close()
    members = {(i * 31) % 500 for i in range(100_000) if i % 4}
    assert stats.total.jobs == 75_000 and sum(day.jobs for day in stats.days) == 75_000
    assert stats.total.succeeded + stats.total.failed + stats.total.cancelled + stats.total.timed_out == 75_000
    assert len(stats.users) == len(members) and len(stats.days) == 90 and len(stats.failures) == 10
    assert stats.total.median_wait_s == pytest.approx(150, abs=2)
    assert spent < 2.0, f"statistics of 75,000 jobs took {spent:.2f} s"
